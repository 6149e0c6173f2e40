// The long event-time chaos run (`npm run test:chaos`): more processes, keys, events and kills than
// the short version in test/integration/windowed-counts.test.ts, with crash points between the
// checkpoint steps; window results must still equal the offline counts, exactly once.
import { describe, expect, inject, it } from 'vitest';
import { runWindowedCounts } from './windowed-counts-driver.js';

describe('windowed counts under process kills (long)', () => {
  it('3 processes killed 8 times while 6000 out-of-order events flow: every window result equals the offline count, once', async () => {
    const report = await runWindowedCounts({
      brokers: inject('kafkaBrokers').split(','),
      redisUrl: inject('redisUrl'),
      processes: 3,
      partitions: 8,
      inputPartitions: 4,
      keys: 40,
      events: 6000,
      stepMs: 500,
      disorderMs: 30_000,
      idleTimeoutMs: 15_000,
      produceOverMs: 60_000,
      kills: 8,
      crashAfterStage: 0.02,
      crashAfterCommit: 0.02,
      official: true,
      timeoutMs: 600_000,
    });
    expect(report.problems).toEqual([]);
    expect(report.results).toEqual(report.expected);
  }, 700_000);
});
