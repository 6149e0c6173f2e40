// The benchmark's workload and references (bench/) in the default suite, short: the same module
// `npm run bench` runs, with 2,000 events and one runtime process, checked exactly once, and its
// report filled in with sane figures; the request-response scenario likewise (a few seconds of
// clients, every reply checked against its request and every key counted 1..n), and its rows in
// RESULTS.md under their own header. Nothing here asserts a timing.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { pidListeningOn, portOf, type Roles } from '../../../bench/proc-stats.js';
import { functionReference, kafkaReferences } from '../../../bench/references.js';
import {
  appendResults,
  formatRun,
  REQUEST_REPLY_HEADER,
  REQUEST_REPLY_TABLE,
  requestReplyRows,
  RESULTS_HEADER,
  type BenchRun,
} from '../../../bench/report.js';
import { ReplyLedger, runRequestReply } from '../../../bench/request-reply.js';
import { EgressLedger, runWorkload, startFunction, stopFunction } from '../../../bench/workload.js';

describe('benchmark workload (short)', () => {
  const brokers = inject('kafkaBrokers').split(',');
  const redisUrl = inject('redisUrl');
  const brokerPid = pidListeningOn(portOf(brokers[0]!));
  const infraRoles = (): Roles => ({ broker: brokerPid === undefined ? [] : [brokerPid] });

  it('the exactly-once check finds a duplicate, a lost event, a count twice and a wrong key', () => {
    const clean = new EgressLedger(4, 2);
    clean.produced = 4;
    for (const v of ['k0|0|1', 'k1|1|1', 'k1|3|2', 'k0|2|2']) clean.record(v, 1);
    clean.verify();
    expect(clean.problems).toEqual([]);

    const bad = new EgressLedger(6, 2);
    bad.produced = 6;
    // Event 0 twice, event 4 never, key k1 gets count 2 twice, event 5 under the wrong key.
    for (const v of ['k0|0|1', 'k0|0|1', 'k1|1|1', 'k0|2|2', 'k1|3|2', 'k1|1|2', 'k0|5|3']) bad.record(v, 1);
    bad.verify();
    expect(bad.problems.join('\n')).toMatch(/event 0 egressed 2 times/);
    expect(bad.problems.join('\n')).toMatch(/event 1 egressed 2 times/);
    expect(bad.problems.join('\n')).toMatch(/event 4 has no egress record/);
    expect(bad.problems.join('\n')).toMatch(/"k0\|5\|3" has the wrong key/);
    expect(bad.problems.join('\n')).toMatch(/key k1: counts/);
  });

  it('drain, idle and a paced step on the official-SDK counter: every event out once, counts 1..n, figures filled in', async () => {
    const report = await runWorkload({
      brokers,
      redisUrl,
      sdk: 'official',
      processes: 1,
      partitions: 8,
      keys: 100,
      checkpointIntervalMs: undefined,
      drainEvents: 2000,
      idleSeconds: 2,
      rates: [500],
      stepSeconds: 4,
      // A loaded test machine may lag; keeping up is recorded, not asserted.
      maxLagSeconds: 30,
      infraRoles,
      log: () => undefined,
    });
    expect(report.problems).toEqual([]);
    expect(report.events).toBe(4000);
    expect(report.egressRecords).toBe(4000);

    const drain = report.drain!;
    expect(drain.eventsPerSec).toBeGreaterThan(0);
    expect(drain.resources.cpu.runtime).toBeGreaterThan(0);
    expect(drain.resources.cpu.function).toBeGreaterThan(0);
    expect(drain.resources.cpuPer1000.runtime).toBeGreaterThan(0);
    expect(drain.resources.checkpointsPerSec).toBeGreaterThan(0);
    expect(drain.resources.meanBatch).toBeGreaterThanOrEqual(1);
    expect(drain.resources.txnLogWritesPerSec).toBeGreaterThan(0);
    if (brokerPid !== undefined) expect(drain.resources.cpu.broker).toBeGreaterThan(0);
    expect(report.idle?.resources.seconds).toBeGreaterThanOrEqual(2);

    const [step] = report.steps;
    expect(step?.targetPerSec).toBe(500);
    expect(step!.offeredPerSec).toBeGreaterThan(0);
    expect(step!.p50Ms).toBeGreaterThan(0);
    expect(step!.p99Ms).toBeGreaterThanOrEqual(step!.p50Ms);
    expect(step!.maxMs).toBeGreaterThanOrEqual(step!.p99Ms);
    expect(step!.endLagMs).toBeDefined();
    expect(report.runtimePeakRssBytes).toBeGreaterThan(0);
  }, 120_000);

  it('the references: Kafka alone and each SDK function alone, counted exactly', async () => {
    const kafka = await kafkaReferences({
      brokers,
      records: 2000,
      partitions: 8,
      recordsPerTransaction: 500,
      roles: infraRoles,
      timeoutMs: 60_000,
    });
    expect(kafka.map((r) => [r.events, r.problems])).toEqual([
      [2000, []],
      [2000, []],
    ]);
    for (const r of kafka) expect(r.eventsPerSec).toBeGreaterThan(0);

    for (const sdk of ['official', 'own'] as const) {
      const fn = await startFunction(sdk, 'unused');
      try {
        const r = await functionReference({
          url: `http://127.0.0.1:${fn.port}/`,
          events: 1000,
          keys: 100,
          batch: 5,
          concurrency: 8,
          roles: () => ({ function: [fn.pid] }),
          label: sdk,
        });
        expect(r.problems).toEqual([]);
        expect(r.events).toBe(1000);
        expect(r.usage.cpu.function).toBeGreaterThan(0);
      } finally {
        await stopFunction(fn.child);
      }
    }
  }, 120_000);

  it('the request-response check finds a reply to another request, a count twice and a lost count', () => {
    const clean = new ReplyLedger(2);
    expect([clean.reply(0, 'k0|0|1'), clean.reply(1, 'k1|1|1'), clean.reply(2, 'k0|2|2')]).toEqual([
      true,
      true,
      true,
    ]);
    clean.verify();
    expect(clean.problems).toEqual([]);

    const bad = new ReplyLedger(2);
    // Request 1's reply names request 3; key k0 counts 1 twice; key k1 skips 2.
    expect(bad.reply(1, 'k1|3|1')).toBe(false);
    bad.reply(0, 'k0|0|1');
    bad.reply(2, 'k0|2|1');
    bad.reply(3, 'k1|3|1');
    bad.reply(5, 'k1|5|3');
    bad.verify();
    const text = bad.problems.join('\n');
    expect(text).toMatch(/request 1 to k1 got the reply "k1\|3\|1"/);
    expect(text).toMatch(/key k0: counts \[1,1\]/);
    expect(text).toMatch(/key k1: counts \[1,3\]/);
  });

  it('request-response on one runtime process with both SDKs: every reply answers its request, every key counted 1..n, figures filled in, rows recorded under their own header', async () => {
    const run: BenchRun = {
      date: '2026-12-07 00:00',
      machine: 'test machine',
      commit: 'abc1234',
      settings: 'short',
      kafka: [],
      functions: {},
      workloads: [],
      requestReply: [],
    };
    for (const sdk of ['official', 'own'] as const) {
      const report = await runRequestReply({
        brokers,
        redisUrl,
        sdk,
        partitions: 4,
        keys: 40,
        clients: [2, 8],
        seconds: 2,
        infraRoles,
        log: () => undefined,
      });
      expect(report.problems).toEqual([]);
      expect(report.warmup).toBe(40);
      expect(report.levels.map((l) => l.clients)).toEqual([2, 8]);
      for (const l of report.levels) {
        expect(l.requests).toBeGreaterThan(0);
        expect(l.failed).toBe(0);
        expect(l.requestsPerSec).toBeGreaterThan(0);
        expect(l.p50Ms).toBeGreaterThan(0);
        expect(l.p99Ms).toBeGreaterThanOrEqual(l.p50Ms);
        expect(l.maxMs).toBeGreaterThanOrEqual(l.p99Ms);
        expect(l.cpuPer1000.runtime).toBeGreaterThan(0);
        expect(l.cpuPer1000.function).toBeGreaterThan(0);
      }
      expect(report.durability).toMatch(/Idempotency-Key.*committed/);
      run.requestReply.push(report);
    }
    expect(formatRun(run)).toMatch(/Request-response over HTTP, own SDK[\s\S]*durability: Idempotency-Key/);

    // RESULTS.md: after the throughput table, the request-response rows get their section and header.
    const dir = mkdtempSync(join(tmpdir(), 'continuum-results-'));
    try {
      const file = join(dir, 'RESULTS.md');
      const row = RESULTS_HEADER.map(() => 'x');
      writeFileSync(
        file,
        `# Benchmark results\n\n| ${RESULTS_HEADER.join(' | ')} |\n|${RESULTS_HEADER.map(() => '---').join('|')}|\n| ${row.join(' | ')} |\n`,
      );
      const rows = requestReplyRows(run);
      expect(rows).toHaveLength(4);
      for (const r of rows) expect(r).toHaveLength(REQUEST_REPLY_HEADER.length);
      expect(rows.map((r) => [r[4], r[5]])).toEqual([
        ['official', '2'],
        ['official', '8'],
        ['own', '2'],
        ['own', '8'],
      ]);
      appendResults(file, rows, REQUEST_REPLY_TABLE);
      appendResults(file, rows.slice(0, 1), REQUEST_REPLY_TABLE);
      const text = readFileSync(file, 'utf8');
      expect(text.match(/## Request-response over HTTP/g)).toHaveLength(1);
      expect(text.match(new RegExp(`\\| ${REQUEST_REPLY_HEADER.join(' \\| ')} \\|`, 'g'))).toHaveLength(1);
      const lines = text.trimEnd().split('\n');
      expect(lines.slice(-5).every((l) => l.includes('replies committed before returned'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
