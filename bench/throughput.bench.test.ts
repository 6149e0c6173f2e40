// Benchmark (`npm run bench`): N events over K keys from a Kafka ingress topic through a counter
// function (state + Kafka egress + a delayed message every 10th event) with exactly-once on, on
// the real broker and Redis. Reports sustained events/s and produce→egress latency p50/p99 and
// appends them to bench/RESULTS.md with the date and the machine. Correctness is asserted (every
// record exactly once); the figures are recorded, never asserted.
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { describe, expect, inject, it } from 'vitest';
import { runChaos } from '../runtime/test/chaos/chaos-driver.js';

const events = Number(process.env.BENCH_EVENTS ?? 20_000);
const keys = Number(process.env.BENCH_KEYS ?? 1000);
const processes = Number(process.env.BENCH_PROCESSES ?? 1);
const results = new URL('./RESULTS.md', import.meta.url);

const cases = [
  // All input at once: the sustained rate the pipeline drains a backlog at (latency = queueing).
  { mode: 'backlog', events, produceOverMs: 0 },
  // Input paced below capacity: end-to-end latency of one event.
  { mode: 'paced 1000/s', events: Math.min(events, 10_000), produceOverMs: Math.min(events, 10_000) },
];

describe('throughput and latency, exactly-once', () => {
  it.each(cases)(
    `$mode: $events events over ${keys} keys, ${processes} runtime process(es)`,
    async ({ mode, events, produceOverMs }) => {
      const report = await runChaos({
        brokers: inject('kafkaBrokers').split(','),
        redisUrl: inject('redisUrl'),
        processes,
        events,
        keys,
        kills: 0,
        killEveryMs: [0, 0],
        crashAfterStage: 0,
        crashAfterCommit: 0,
        delayedEvery: 10,
        partitions: 16,
        timeoutMs: 900_000,
        produceOverMs,
      });
      expect(report.problems).toEqual([]);
      const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
      if (!existsSync(results)) {
        writeFileSync(
          results,
          '# Benchmark results\n\nRecorded by `npm run bench` (bench/throughput.bench.test.ts). Broker and Redis run on the same machine as the runtime and the function.\n\n' +
            '| date | machine | mode | events | keys | processes | events/s | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|---|---|---|---|\n',
        );
      }
      appendFileSync(
        results,
        `| ${new Date().toISOString().slice(0, 16).replace('T', ' ')} | ${machine} | ${mode} | ${events} | ${keys} | ${processes} | ${report.throughputPerSec} | ${report.latencyMs.p50} | ${report.latencyMs.p99} | ${report.latencyMs.max} |\n`,
      );
      process.stdout.write(
        `bench (${mode}): ${report.throughputPerSec} events/s, latency p50 ${report.latencyMs.p50} ms, p99 ${report.latencyMs.p99} ms, max ${report.latencyMs.max} ms\n`,
      );
    },
    1_000_000,
  );
});
