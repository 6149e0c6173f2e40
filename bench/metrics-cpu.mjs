#!/usr/bin/env node
// CPU cost of the runtime's metrics and observers for the backlog drain of `npm run bench`, without
// Kafka, Redis or a function: drives RuntimeMetrics through combineObservers (metrics and the reply
// feed's `committed`, as the runtime assembles them with tracing off) and the function client's
// callbacks the way the partition tasks do, for 60,000 records in 6,700 batches of ~9 invocations
// over 8 partitions, each answered with one state write and one egress per invocation and
// checkpointed every 19 batches of a partition. Reports the CPU time of that loop alone (the
// events are built before it starts).
//
//   node bench/metrics-cpu.mjs                        this checkout's runtime/dist, 3 runs
//   node bench/metrics-cpu.mjs --compare <dist>       <dist> (e.g. main's runtime/dist, copied
//                                                     aside) against this checkout, 3 runs each,
//                                                     alternating, each run in a fresh process
//   node bench/metrics-cpu.mjs --runs 5 --headers eager|lazy
//
// `--headers` says how the batch's record headers reach the observers: `eager` builds the array
// for every batch (how the partition tasks did before), `lazy` only when an observer reads it.
// With --compare the compared dist runs `eager`, this checkout `lazy`.
import { execFileSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const ownDist = resolve(here, '../runtime/dist');

const { values } = parseArgs({
  options: {
    dist: { type: 'string' },
    compare: { type: 'string' },
    runs: { type: 'string', default: '3' },
    headers: { type: 'string', default: 'lazy' },
    child: { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1 || runs > 20) {
  console.error(`--runs must be a whole number from 1 to 20, got ${values.runs}`);
  process.exit(2);
}
if (values.headers !== 'eager' && values.headers !== 'lazy') {
  console.error(`--headers must be eager or lazy, got ${values.headers}`);
  process.exit(2);
}

const RECORDS = 60_000;
const BATCHES = 6_700;
const PARTITIONS = 8;
const CHECKPOINT_EVERY = 19;
const INTERNAL = 'continuum-internal';
const DEAD = 'continuum-dead-letters';
const EGRESS = 'bench-out';
const FN = 'bench/counter';
const URL = 'http://127.0.0.1:8000/statefun';

async function one(dist, headersMode) {
  const { RuntimeMetrics } = await import(pathToFileURL(`${dist}/metrics/runtime-metrics.js`).href);
  const { combineObservers } = await import(pathToFileURL(`${dist}/metrics/combine-observers.js`).href);
  const metrics = new RuntimeMetrics({
    internalTopic: INTERNAL,
    deadLetterTopic: DEAD,
    processMetrics: false,
  });
  const ingress = { moved: 0, deadLetters: 0, handedOver: 0, handOverRestarts: 0 };
  metrics.attach({ tasks: () => [], ingresses: () => [{ id: 'bench/events', stats: ingress }] });
  metrics.close();
  const observer = combineObservers(metrics.observer, undefined, { committed: () => undefined });
  const client = metrics.clientCallbacks();

  // Everything the loop hands to the observers, built first.
  const enc = new TextEncoder();
  const events = [];
  const pending = Array.from({ length: PARTITIONS }, () => []);
  const batchesOf = Array.from({ length: PARTITIONS }, () => 0);
  let left = RECORDS;
  for (let b = 0; b < BATCHES; b++) {
    const size = Math.max(1, Math.min(left, Math.round(left / (BATCHES - b))));
    left -= size;
    const partition = b % PARTITIONS;
    const id = `k${(b * 7) % 1000}`;
    const address = { namespace: 'bench', type: 'counter', id };
    const entries = Array.from({ length: size }, (_, i) => ({ record: { headers: { 'x-seq': String(i) } } }));
    const response = {
      invocationResult: {
        outgoingMessages: [],
        delayedInvocations: [],
        outgoingEgresses: entries.map(() => ({})),
        stateMutations: [{}],
      },
    };
    for (let i = 0; i < size; i++)
      pending[partition].push({ topic: EGRESS, key: id, value: enc.encode(`${id}|e|${i}`), headers: {} });
    let checkpoint;
    if (++batchesOf[partition] % CHECKPOINT_EVERY === 0 || b >= BATCHES - PARTITIONS) {
      const records = pending[partition];
      records.push({ topic: INTERNAL, key: null, value: enc.encode('marker'), headers: {} });
      pending[partition] = [];
      checkpoint = { partition, durationMs: 40 + (b % 30), records, changes: records.length };
    }
    events.push({ partition, address, size, entries, response, latencyMs: 5 + (b % 20), checkpoint });
  }

  // Start from a clean heap so the setup's garbage is not collected inside the measurement.
  globalThis.gc?.();
  const start = process.cpuUsage();
  const t0 = performance.now();
  for (const e of events) {
    for (let i = 0; i < e.size; i++) observer.stateLookup?.(e.partition, i !== 0);
    let headers;
    const batch = {
      partition: e.partition,
      functionType: FN,
      address: e.address,
      size: e.size,
      round: 0,
      headers: headersMode === 'eager' ? e.entries.map((x) => x.record.headers) : undefined,
    };
    if (headersMode === 'lazy')
      Object.defineProperty(batch, 'headers', {
        get: () => (headers ??= e.entries.map((x) => x.record.headers)),
      });
    const observed = observer.batchStarted?.(batch);
    client.onAttempt({
      address: e.address,
      url: URL,
      attempt: 1,
      durationMs: e.latencyMs,
      status: 200,
      failure: undefined,
      willRetry: false,
      backoffMs: 0,
    });
    client.onCall({
      address: e.address,
      url: URL,
      attempts: 1,
      queuedMs: 0,
      durationMs: e.latencyMs,
      error: undefined,
    });
    observed?.ended?.({ latencyMs: e.latencyMs, response: e.response, error: undefined });
    ingress.moved += e.size;
    if (e.checkpoint !== undefined) {
      observer.committed?.(e.checkpoint);
      observer.checkpointed?.(e.checkpoint);
    }
  }
  const cpu = process.cpuUsage(start);
  const wallMs = performance.now() - t0;
  const text = await metrics.text();
  const invocations = /^continuum_function_invocations_total\{[^}]*\} (\d+)/m.exec(text)?.[1];
  const egress = /^continuum_egress_records_total\{[^}]*\} (\d+)/m.exec(text)?.[1];
  if (Number(invocations) !== RECORDS || Number(egress) !== RECORDS)
    throw new Error(
      `the metrics counted ${invocations} invocations and ${egress} egress records, not ${RECORDS}`,
    );
  return { cpuMs: (cpu.user + cpu.system) / 1000, wallMs };
}

if (values.child) {
  const r = await one(values.dist ?? ownDist, values.headers);
  process.stdout.write(JSON.stringify(r));
} else {
  const sides = values.compare
    ? [
        { name: 'compared', dist: resolve(values.compare), headers: 'eager' },
        { name: 'this checkout', dist: ownDist, headers: 'lazy' },
      ]
    : [
        {
          name: 'this checkout',
          dist: values.dist ? resolve(values.dist) : ownDist,
          headers: values.headers,
        },
      ];
  const results = new Map(sides.map((s) => [s.name, []]));
  for (let run = 0; run < runs; run++) {
    for (const side of sides) {
      const out = execFileSync(
        process.execPath,
        [
          '--expose-gc',
          fileURLToPath(import.meta.url),
          '--child',
          '--dist',
          side.dist,
          '--headers',
          side.headers,
        ],
        { encoding: 'utf8', timeout: 120_000 },
      );
      const r = JSON.parse(out);
      results.get(side.name).push(r);
      console.log(
        `run ${run + 1} ${side.name} (${side.dist}, headers ${side.headers}): ${r.cpuMs.toFixed(1)} ms CPU`,
      );
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const [name, rs] of results) {
    const cpu = rs.map((r) => r.cpuMs);
    console.log(
      `${name}: CPU ms per ${RECORDS} records / ${BATCHES} batches: median ${median(cpu).toFixed(1)} (runs ${cpu.map((c) => c.toFixed(1)).join(', ')})`,
    );
  }
}
