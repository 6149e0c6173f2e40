// A runtime process that lived through a broker restart still ends on SIGTERM within its grace
// period (its Kafka client may hold connections it re-opened after the restart), and the outputs
// of the run stay exactly-once across the restart and both graceful exits.
import { afterEach, describe, expect, inject, it, onTestFailed } from 'vitest';
import { startKafka, waitUntil, type KafkaHandle } from '@continuum/test-infra';
import { runChaos, type ChaosControl } from '../chaos/chaos-driver.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

describe('shutdown after a broker restart', () => {
  it('processes that lived through a broker restart exit within 30 s of SIGTERM, outputs exactly once', async () => {
    const kafka: KafkaHandle = await startKafka();
    stops.push(() => kafka.stop());
    onTestFailed(() => console.log(`broker log:\n${kafka.logTail(60)}`));
    const exitMs: number[] = [];
    let afterRestart = 0;
    const progressing = (c: ChaosControl, min: number, what: string): Promise<unknown> =>
      waitUntil(() => c.progress() >= min, { timeoutMs: 120_000, what: what, intervalMs: 100 });
    const report = await runChaos({
      brokers: kafka.brokers,
      redisUrl: inject('redisUrl'),
      processes: 2,
      events: 1500,
      keys: 50,
      kills: 0,
      killEveryMs: [1000, 1000],
      crashAfterStage: 0,
      crashAfterCommit: 0,
      delayedEvery: 10,
      partitions: 8,
      timeoutMs: 180_000,
      produceOverMs: 15_000,
      schedule: [
        {
          atMs: 0,
          name: 'restart Kafka once outputs flow',
          run: async (c) => {
            await progressing(c, 100, 'outputs before the broker restart');
            await kafka.restart();
            afterRestart = c.progress();
          },
        },
        // A third process takes over the partitions of the two that end.
        { atMs: 0, name: 'add a process', run: (c) => void c.add() },
        {
          atMs: 0,
          name: 'SIGTERM process 0 once outputs flow again',
          run: async (c) => {
            await progressing(c, afterRestart + 100, 'outputs after the broker restart');
            exitMs.push(await c.remove(0, 60_000));
          },
        },
        {
          atMs: 0,
          name: 'SIGTERM process 1',
          run: async (c) => void exitMs.push(await c.remove(1, 60_000)),
        },
      ],
    });
    expect(report.faults).toHaveLength(4);
    expect(exitMs).toHaveLength(2);
    for (const ms of exitMs) expect(ms).toBeLessThan(30_000);
    expect(report.problems).toEqual([]);
    expect(report.egressRecords).toBe(1650);
  }, 300_000);
});
