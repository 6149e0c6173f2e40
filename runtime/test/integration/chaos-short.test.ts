// The short chaos run of the default suite (the long one: `npm run test:chaos`).
import { describe, expect, inject, it } from 'vitest';
import { runChaos } from '../chaos/chaos-driver.js';

describe('exactly-once under process kills (short)', () => {
  it('3 runtime processes killed and restarted: every count, egress record and delayed message exactly once', async () => {
    const report = await runChaos({
      brokers: inject('kafkaBrokers').split(','),
      redisUrl: inject('redisUrl'),
      processes: 3,
      events: 3000,
      keys: 100,
      kills: 3,
      killEveryMs: [3000, 6000],
      crashAfterStage: 0.02,
      crashAfterCommit: 0.02,
      delayedEvery: 10,
      partitions: 8,
      timeoutMs: 240_000,
    });
    expect(report.problems).toEqual([]);
    expect(report.kills).toBe(3);
    expect(report.egressRecords).toBe(3000 + 300);
    // How many ingress records went through the internal topic instead of being handed over is
    // printed, not asserted: with kills at random times a run may move every record through the
    // log at some point (a process killed before its tasks ran, replays from committed offsets),
    // and that is as exact. Hand-over itself is asserted in ingress-handoff.test.ts.
  }, 300_000);
});
