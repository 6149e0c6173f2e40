// Benchmark (`npm run bench`): the workload of issue 13 on the real broker and Redis — backlog
// drain, idle spell and paced sweep (bench/workload.ts) — with the physical-limit references
// measured in the same run (bench/references.ts), and the request-response scenario
// (bench/request-reply.ts: HTTP clients waiting for committed replies). Prints the tables and
// appends one row per workload and per request-response client count to bench/RESULTS.md with
// the date, machine and commit. Exactly-once is asserted; the figures are recorded, never asserted.
//
// Environment knobs (defaults in brackets; bench/README.md says more):
//   BENCH_SCENARIOS         scenarios to run, comma-separated: throughput, request-reply [throughput,request-reply]
//   BENCH_EVENTS            events of the backlog drain, and records of the Kafka references [60000]
//   BENCH_KEYS              distinct keys (function addresses) [1000]
//   BENCH_SDK               counter function SDKs to run, comma-separated: official, own [official,own]
//   BENCH_PROCESSES         runtime process counts to run, comma-separated, e.g. 1,2 [1]
//   BENCH_PARTITIONS        partitions of the internal topic [8]
//   BENCH_CHECKPOINT_MS     CONTINUUM_CHECKPOINT_INTERVAL_MS of the runtime [the runtime's default]
//   BENCH_RATES             offered rates of the paced sweep, events/s [500,1000,2000,4000,8000,12000,16000]
//   BENCH_STEP_SECONDS      seconds per sweep step [20]
//   BENCH_MAX_LAG_SECONDS   a step whose events are not all out this long after its end is not kept [3]
//   BENCH_IDLE_SECONDS      seconds of the idle phase, 0 skips it [20]
//   BENCH_REFERENCES        0 skips the reference measurements [1]
//   BENCH_REF_TXN_RECORDS   records per transaction of the Kafka reference [1000]
//   BENCH_REF_BATCH         invocations per ToFunction request of the function references [1,10,50]
//   BENCH_REF_CONCURRENCY   requests in flight of the function reference [16]
//   BENCH_RR_CLIENTS        concurrent HTTP clients of the request-response scenario, comma-separated [16,64]
//   BENCH_RR_SECONDS        seconds per client count of the request-response scenario [20]
//   BENCH_RECORD            0: print only, do not append to bench/RESULTS.md [1]
// A short end-to-end run: BENCH_EVENTS=5000 BENCH_STEP_SECONDS=5 BENCH_IDLE_SECONDS=5 npm run bench
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { machineDescription, pidListeningOn, portOf, type Roles } from './proc-stats.js';
import { functionReference, kafkaReferences } from './references.js';
import {
  appendResults,
  formatRun,
  gitCommit,
  REQUEST_REPLY_TABLE,
  requestReplyRows,
  resultRows,
  type BenchRun,
} from './report.js';
import { runRequestReply } from './request-reply.js';
import { runWorkload, startFunction, stopFunction } from './workload.js';

const num = (name: string, fallback: number): number => {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(value) || value < 0)
    throw new Error(`${name} must be a non-negative number, not ${raw}`);
  return value;
};
const list = (name: string, fallback: string): string[] =>
  (process.env[name] ?? fallback)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

const SCENARIOS = ['throughput', 'request-reply'] as const;
const scenarios = list('BENCH_SCENARIOS', SCENARIOS.join(',')).map((s) => {
  if (!(SCENARIOS as readonly string[]).includes(s))
    throw new Error(`BENCH_SCENARIOS: ${SCENARIOS.join(' or ')}, not ${s}`);
  return s;
});
const throughput = scenarios.includes('throughput');
const requestReply = scenarios.includes('request-reply');
const events = Math.max(1, num('BENCH_EVENTS', 60_000));
const keys = Math.max(1, num('BENCH_KEYS', 1000));
const sdks = list('BENCH_SDK', 'official,own').map((s) => {
  if (s !== 'official' && s !== 'own') throw new Error(`BENCH_SDK: official or own, not ${s}`);
  return s;
});
const processCounts = list('BENCH_PROCESSES', '1').map(Number);
const partitions = num('BENCH_PARTITIONS', 8);
// Unset: the runtime's default (each runtime at its own defaults, as a user would run it).
const checkpointMs =
  process.env.BENCH_CHECKPOINT_MS === undefined ? undefined : num('BENCH_CHECKPOINT_MS', 0);
const rates = list('BENCH_RATES', '500,1000,2000,4000,8000,12000,16000').map(Number);
const stepSeconds = num('BENCH_STEP_SECONDS', 20);
const maxLagSeconds = num('BENCH_MAX_LAG_SECONDS', 3);
const idleSeconds = num('BENCH_IDLE_SECONDS', 20);
const references = num('BENCH_REFERENCES', 1) !== 0;
const refBatches = list('BENCH_REF_BATCH', '1,10,50').map(Number);
const record = num('BENCH_RECORD', 1) !== 0;
const rrClients = list('BENCH_RR_CLIENTS', '16,64').map((s) => {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new Error(`BENCH_RR_CLIENTS: positive whole numbers, not ${s}`);
  return n;
});
const rrSeconds = num('BENCH_RR_SECONDS', 20);

const root = fileURLToPath(new URL('..', import.meta.url));
const run: BenchRun = {
  date: new Date().toISOString().slice(0, 16).replace('T', ' '),
  machine: machineDescription(),
  commit: gitCommit(root),
  settings:
    `drain ${events} ev, ${keys} keys, ingress 8 / internal ${partitions} partitions, checkpoint ${checkpointMs === undefined ? 'default' : `${checkpointMs} ms`}, ` +
    `steps ${stepSeconds} s (max lag ${maxLagSeconds} s), idle ${idleSeconds} s; ` +
    `scenarios ${scenarios.join(', ')}; request-response ${rrClients.join(', ')} clients × ${rrSeconds} s`,
  kafka: [],
  functions: {},
  workloads: [],
  requestReply: [],
};

describe('benchmark: Kafka → counter function → Kafka, exactly-once', () => {
  const brokers = inject('kafkaBrokers').split(',');
  const redisUrl = inject('redisUrl');
  // The broker and Redis the global setup started, found by their listening ports (none when
  // they run in containers or elsewhere: their CPU is then reported as n/a).
  const brokerPid = pidListeningOn(portOf(brokers[0]!));
  const redisPid = pidListeningOn(portOf(redisUrl));
  const infraRoles = (): Roles => ({
    broker: brokerPid === undefined ? [] : [brokerPid],
    redis: redisPid === undefined ? [] : [redisPid],
  });

  afterAll(() => {
    process.stdout.write(`\n${formatRun(run)}\n`);
    if (record) {
      const file = fileURLToPath(new URL('./RESULTS.md', import.meta.url));
      appendResults(file, resultRows(run));
      appendResults(file, requestReplyRows(run), REQUEST_REPLY_TABLE);
    }
  });

  it.runIf(throughput && references)(
    'references: the broker and client alone, the function alone',
    async () => {
      run.kafka = await kafkaReferences({
        brokers,
        records: events,
        partitions: 8,
        recordsPerTransaction: num('BENCH_REF_TXN_RECORDS', 1000),
        roles: infraRoles,
        timeoutMs: 300_000,
      });
      for (const sdk of sdks) {
        const fn = await startFunction(sdk, 'bench-reference-unused');
        try {
          const results = [];
          for (const batch of refBatches)
            results.push(
              await functionReference({
                url: `http://127.0.0.1:${fn.port}/`,
                // One invocation per request is slow: fewer events keep the run short.
                events: batch === 1 ? Math.min(events, 20_000) : events,
                keys,
                batch,
                concurrency: num('BENCH_REF_CONCURRENCY', 16),
                roles: () => ({ ...infraRoles(), function: [fn.pid] }),
                label: `${sdk} SDK`,
              }),
            );
          run.functions[sdk] = results;
        } finally {
          await stopFunction(fn.child);
        }
      }
      const all = [...run.kafka, ...Object.values(run.functions).flatMap((r) => r ?? [])];
      for (const r of all) process.stdout.write(`bench reference: ${r.name}: ${r.eventsPerSec} events/s\n`);
      expect(all.flatMap((r) => r.problems)).toEqual([]);
    },
  );

  for (const processes of throughput ? processCounts : [])
    for (const sdk of sdks)
      it(`workload: ${sdk} SDK counter, ${processes} runtime process(es)`, async () => {
        const report = await runWorkload({
          brokers,
          redisUrl,
          sdk,
          processes,
          partitions,
          keys,
          checkpointIntervalMs: checkpointMs,
          drainEvents: events,
          idleSeconds,
          rates,
          stepSeconds,
          maxLagSeconds,
          infraRoles,
        });
        run.workloads.push(report);
        if (report.logDir !== undefined)
          process.stdout.write(`bench: runtime logs kept in ${report.logDir}\n`);
        expect(report.problems).toEqual([]);
      });

  for (const sdk of requestReply ? sdks : [])
    it(`request-response: ${sdk} SDK function answering its caller, 1 runtime process, ${rrClients.join(' and ')} clients`, async () => {
      const report = await runRequestReply({
        brokers,
        redisUrl,
        sdk,
        partitions,
        keys,
        clients: rrClients,
        seconds: rrSeconds,
        infraRoles,
      });
      run.requestReply.push(report);
      if (report.logDir !== undefined) process.stdout.write(`bench: runtime logs kept in ${report.logDir}\n`);
      expect(report.problems).toEqual([]);
    });
});
