// Event time end to end on the real Kafka broker and Redis, through the windowed-counts example run
// by `statefun run` processes: window results equal the offline ones under bounded disorder, also
// while processes are killed; an official StateFun SDK function works unchanged alongside; an idle
// ingress partition does not block windows; an event beyond the bound follows the late-event rule.
// The long version: `npm run test:chaos` (test/chaos/windowed-counts.test.ts).
import { describe, expect, inject, it } from 'vitest';
import { runWindowedCounts } from '../chaos/windowed-counts-driver.js';

const brokers = (): string[] => inject('kafkaBrokers').split(',');

describe('windowed counts on event time (Kafka + Redis)', () => {
  it('results equal the offline counts of out-of-order input, while runtime processes are killed; an official SDK function counts every event exactly once alongside', async () => {
    const report = await runWindowedCounts({
      brokers: brokers(),
      redisUrl: inject('redisUrl'),
      processes: 2,
      partitions: 4,
      inputPartitions: 3,
      keys: 12,
      events: 1200,
      stepMs: 1_000,
      disorderMs: 20_000,
      idleTimeoutMs: 10_000,
      produceOverMs: 12_000,
      kills: 2,
      crashAfterStage: 0.01,
      crashAfterCommit: 0.01,
      official: true,
      timeoutMs: 150_000,
    });
    expect(report.problems).toEqual([]);
    expect(report.kills).toBe(2);
    expect(report.results).toEqual(report.expected);
    expect(report.expected.length).toBeGreaterThan(150);
  }, 200_000);

  it('an idle ingress partition does not block windows, and an event beyond the disorder bound goes to the late topic uncounted', async () => {
    const t0 = Math.floor(Date.parse('2024-05-01T12:00:00Z') / 60_000) * 60_000;
    const report = await runWindowedCounts({
      brokers: brokers(),
      redisUrl: inject('redisUrl'),
      processes: 1,
      partitions: 2,
      inputPartitions: 2,
      idleInputPartitions: [1],
      keys: 4,
      events: 300,
      stepMs: 1_000,
      disorderMs: 3_000,
      idleTimeoutMs: 1_500,
      produceOverMs: 1_000,
      kills: 0,
      lateEvents: [
        { key: 'k1', eventTime: t0 + 30_000 },
        { key: 'k2', eventTime: t0 + 150_000 },
      ],
      timeoutMs: 90_000,
    });
    expect(report.problems).toEqual([]);
    expect(report.results).toEqual(report.expected);
    expect(report.late.map((l) => [l.key, l.eventTime])).toEqual([
      ['k1', t0 + 30_000],
      ['k2', t0 + 150_000],
    ]);
    for (const l of report.late) expect(l.watermark).toBeGreaterThan(l.eventTime);
  }, 120_000);
});
