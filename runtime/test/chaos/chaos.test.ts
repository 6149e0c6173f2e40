// The long chaos run (`npm run test:chaos`): 20,000 events over 500 keys through 3 runtime
// processes on the real broker and Redis, with a process killed (SIGKILL) every few seconds and
// processes killing themselves at the crash points between stage, commit and promote.
// CHAOS_EVENTS, CHAOS_KEYS, CHAOS_KILLS and CHAOS_RUNS scale it.
import { describe, expect, inject, it } from 'vitest';
import { runChaos } from './chaos-driver.js';

const events = Number(process.env.CHAOS_EVENTS ?? 20_000);
const keys = Number(process.env.CHAOS_KEYS ?? 500);
const kills = Number(process.env.CHAOS_KILLS ?? 12);
const runs = Number(process.env.CHAOS_RUNS ?? 1);

describe('exactly-once under process kills (long)', () => {
  for (let run = 1; run <= runs; run++) {
    it(`run ${run}/${runs}: ${events} events over ${keys} keys, ${kills} kills`, async () => {
      const report = await runChaos({
        brokers: inject('kafkaBrokers').split(','),
        redisUrl: inject('redisUrl'),
        processes: 3,
        events,
        keys,
        kills,
        killEveryMs: [3000, 7000],
        crashAfterStage: 0.01,
        crashAfterCommit: 0.01,
        delayedEvery: 10,
        partitions: 16,
        timeoutMs: 1_500_000,
      });
      expect(report.problems).toEqual([]);
      expect(report.kills).toBe(kills);
      // The crash points preloaded by the harness fired (a 1% chance at each of hundreds of checkpoints).
      expect(report.selfCrashes).toBeGreaterThan(0);
      expect(report.egressRecords).toBe(events + Math.floor((events - 1) / 10) + 1);
    }, 1_800_000);
  }
});
