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
    // Processes handed records to their own tasks (the ingress partition and the target's
    // partition in one process) instead of through the internal topic: exact all the same.
    expect(report.ingressRecordsInLog).toBeLessThan(3000);
  }, 300_000);
});
