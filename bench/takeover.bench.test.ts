// Takeover after a kill (`npx vitest run --project bench bench/takeover.bench.test.ts`): two
// runtime processes (`statefun run`) on the real broker and Redis take a paced input through the
// benchmark counter (own SDK); one of them is SIGKILLed and restarted at once, BENCH_TAKEOVER_KILLS
// times. Per kill it prints
//   kill → first output   the first egress record, among the keys the kill held up (none of their
//                         events sent after the kill out within 2 s), of such an event,
//   kill → all keys       until every key had an egress record of an event sent after the kill,
//   kill → caught up      the last egress record of an event whose produce → egress latency
//                         passed 1 s (after it, the output is back to its usual latency),
// and, from the restarted process's log, kill → it runs (connected, group joined) and kill → the
// last partition it recovered before the next kill. Exactly-once is asserted; the figures are printed, never asserted.
//
// Environment knobs (defaults in brackets):
//   BENCH_TAKEOVER_RATE       events/s offered [200]
//   BENCH_TAKEOVER_KILLS      kills, alternating between the two processes [3]
//   BENCH_TAKEOVER_GAP_S      seconds from one kill to the next (and after the last) [25]
//   BENCH_TAKEOVER_IDENTITY   per-slot (a restart keeps the process identity, as in a pod) or
//                             per-start (every process a new one) [per-slot]
//   BENCH_SESSION_TIMEOUT_MS  CONTINUUM_KAFKA_SESSION_TIMEOUT_MS of the runtime [runtime default]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, inject, it } from 'vitest';
import { RuntimeFleet } from '@continuum/test-infra';
import { machineDescription } from './proc-stats.js';
import { gitCommit } from './report.js';
import { EgressLedger, moduleYaml, startFunction, stopFunction } from './workload.js';

const num = (name: string, fallback: number): number => {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(value) || value < 0)
    throw new Error(`${name} must be a non-negative number, not ${raw}`);
  return value;
};

const rate = Math.max(1, num('BENCH_TAKEOVER_RATE', 200));
const kills = Math.max(1, num('BENCH_TAKEOVER_KILLS', 3));
const gapMs = Math.max(5, num('BENCH_TAKEOVER_GAP_S', 25)) * 1000;
const identity = process.env.BENCH_TAKEOVER_IDENTITY === 'per-start' ? 'per-start' : 'per-slot';
const sessionTimeoutMs = process.env.BENCH_SESSION_TIMEOUT_MS;
const keys = 50;
const heldMs = 1000;

interface KillResult {
  slot: number;
  firstOutputMs: number | undefined;
  allKeysMs: number | undefined;
  caughtUpMs: number | undefined;
  runningMs: number | undefined;
  recoveredMs: number | undefined;
}

/** Times (ms since the epoch) of the restarted process's log lines after `since`. */
function restartTimeline(
  logFile: string,
  since: number,
  until: number,
): { running?: number; recovered?: number } {
  let text = '';
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return {};
  }
  let running: number | undefined;
  let recovered: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry: { time?: string; msg?: string };
    try {
      entry = JSON.parse(line) as { time?: string; msg?: string };
    } catch {
      continue;
    }
    const at = Date.parse(entry.time ?? '');
    if (!(at >= since && at < until)) continue;
    if (entry.msg === 'statefun run is running' && running === undefined) running = at;
    if (entry.msg === 'partition recovered') recovered = at;
  }
  return { running, recovered };
}

describe('takeover after a kill', () => {
  it(`kill → first output and kill → caught up, 2 processes, ${identity} identity`, async () => {
    const brokers = inject('kafkaBrokers').split(',');
    const redisUrl = inject('redisUrl');
    const id = randomUUID().slice(0, 8);
    const names = {
      input: `takeover-in-${id}`,
      out: `takeover-out-${id}`,
      internal: `takeover-internal-${id}`,
      dlq: `takeover-dlq-${id}`,
      group: `takeover-${id}`,
      prefix: `takeover-${id}`,
    };
    const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING, clientId: 'takeover-bench' });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: names.input, numPartitions: 8 },
        { topic: names.out, numPartitions: 8 },
      ],
    });
    await admin.disconnect();
    const fn = await startFunction('own', names.out);
    const dir = mkdtempSync(join(tmpdir(), 'continuum-takeover-'));
    const moduleFile = join(dir, 'module.yaml');
    writeFileSync(moduleFile, moduleYaml(brokers.join(','), fn.port, names.input, 'own'));
    const fleet = new RuntimeFleet({
      moduleFile,
      brokers,
      redisUrl,
      partitions: 8,
      processes: 2,
      names,
      logDir: dir,
      identity,
      env: sessionTimeoutMs === undefined ? {} : { CONTINUUM_KAFKA_SESSION_TIMEOUT_MS: sessionTimeoutMs },
    });

    const totalMs = 15_000 + kills * gapMs;
    const capacity = Math.ceil((rate * totalMs) / 1000) + rate;
    const ledger = new EgressLedger(capacity, keys);
    const consumer = kafka.consumer({ groupId: `takeover-reader-${id}`, readUncommitted: false });
    await consumer.connect();
    await consumer.subscribe({ topics: [names.out], fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        const at = Date.now();
        for (const m of batch.messages) ledger.record(m.value?.toString() ?? '', at);
        await Promise.resolve();
      },
    });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();

    const results: KillResult[] = [];
    const killAt: { slot: number; at: number; seq: number }[] = [];
    const started = Date.now();
    // Paced input in 50 ms ticks; the first kill once both processes have run for 15 s.
    let nextKill = started + 15_000;
    let slot = 0;
    while (Date.now() - started < totalMs && ledger.produced < capacity) {
      const due = Math.min(capacity, Math.floor(((Date.now() - started) * rate) / 1000));
      const messages = [];
      const now = Date.now();
      for (let seq = ledger.produced; seq < due; seq++) {
        ledger.sentAt[seq] = now;
        messages.push({ key: `k${seq % keys}`, value: String(seq) });
      }
      if (messages.length > 0) {
        ledger.produced = due;
        await producer.send({ topic: names.input, messages });
      }
      if (Date.now() >= nextKill && killAt.length < kills) {
        killAt.push({ slot, at: Date.now(), seq: ledger.produced });
        fleet.kill(slot);
        console.log(`takeover: killed process ${slot} at event ${ledger.produced}`);
        slot = 1 - slot;
        nextKill += gapMs;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await producer.disconnect();
    const drainDeadline = Date.now() + 120_000;
    while (ledger.received < ledger.produced && Date.now() < drainDeadline)
      await new Promise((r) => setTimeout(r, 200));
    await new Promise((r) => setTimeout(r, 2000));
    fleet.stop();
    await consumer.disconnect();
    await stopFunction(fn.child);

    for (let i = 0; i < killAt.length; i++) {
      const k = killAt[i]!;
      const end = killAt[i + 1]?.seq ?? ledger.produced;
      // Events sent in the second before the kill may have been in the killed process's hands.
      const from = Math.max(0, k.seq - rate);
      let caughtUp: number | undefined;
      const firstPerKey = new Map<number, number>();
      for (let s = from; s < end; s++) {
        if (ledger.times[s] === 0) continue;
        const out = ledger.egressAt[s]!;
        if (out - ledger.sentAt[s]! > heldMs) caughtUp = Math.max(caughtUp ?? 0, out);
        if (s >= k.seq) {
          const key = s % keys;
          firstPerKey.set(key, Math.min(firstPerKey.get(key) ?? Infinity, out));
        }
      }
      const allKeys = firstPerKey.size === keys ? Math.max(...firstPerKey.values()) : undefined;
      // The keys the kill held up: no output for an event sent after the kill within 2 s.
      const held = [...firstPerKey.values()].filter((at) => at - k.at > 2000);
      const first = held.length === 0 ? undefined : Math.min(...held);
      // Up to the next kill: later recoveries belong to the next takeover.
      const restart = restartTimeline(join(dir, `proc-${k.slot}.log`), k.at, killAt[i + 1]?.at ?? Infinity);
      results.push({
        slot: k.slot,
        firstOutputMs: first === undefined ? undefined : first - k.at,
        allKeysMs: allKeys === undefined ? undefined : allKeys - k.at,
        caughtUpMs: caughtUp === undefined ? undefined : caughtUp - k.at,
        runningMs: restart.running === undefined ? undefined : restart.running - k.at,
        recoveredMs: restart.recovered === undefined ? undefined : restart.recovered - k.at,
      });
    }
    const s = (ms: number | undefined): string => (ms === undefined ? '—' : (ms / 1000).toFixed(1));
    console.log(
      [
        `takeover (${new Date().toISOString().slice(0, 16).replace('T', ' ')}, ${machineDescription()}, commit ${gitCommit(process.cwd())}): ` +
          `2 processes, ${rate} events/s, identity ${identity}, session timeout ${sessionTimeoutMs ?? 'default'} ms`,
        '| kill | first output s | all keys s | caught up s | restarted running s | restarted recovered s |',
        ...results.map(
          (r, i) =>
            `| ${i + 1} (process ${r.slot}) | ${s(r.firstOutputMs)} | ${s(r.allKeysMs)} | ${s(r.caughtUpMs)} | ${s(r.runningMs)} | ${s(r.recoveredMs)} |`,
        ),
      ].join('\n'),
    );
    ledger.verify();
    rmSync(dir, { recursive: true, force: true });
    expect(fleet.problems).toEqual([]);
    expect(ledger.problems).toEqual([]);
    expect(results).toHaveLength(kills);
  }, 900_000);
});
