// Exactly-once through infrastructure faults: a frozen (zombie) owner, a Redis restart, a Kafka
// broker restart, and processes joining and leaving. Each run is checked like the chaos test.
import { afterEach, describe, expect, inject, it } from 'vitest';
import { startKafka, startRedis, type KafkaHandle, type RedisHandle } from '@continuum/test-infra';
import { runChaos, type ChaosOptions } from '../chaos/chaos-driver.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

function base(over: Partial<ChaosOptions>): ChaosOptions {
  return {
    brokers: inject('kafkaBrokers').split(','),
    redisUrl: inject('redisUrl'),
    processes: 2,
    events: 2000,
    keys: 50,
    kills: 0,
    killEveryMs: [1000, 1000],
    crashAfterStage: 0,
    crashAfterCommit: 0,
    delayedEvery: 10,
    partitions: 8,
    timeoutMs: 180_000,
    produceOverMs: 12_000,
    ...over,
  };
}

describe('exactly-once through faults', () => {
  it('a frozen owner whose partitions moved cannot write when it wakes up (zombie fencing)', async () => {
    const report = await runChaos(
      base({
        schedule: [
          { atMs: 2000, name: 'SIGSTOP process 0', run: (c) => c.freeze(0) },
          { atMs: 14_000, name: 'SIGCONT process 0', run: (c) => c.thaw(0) },
        ],
      }),
    );
    expect(report.faults).toEqual(['SIGSTOP process 0', 'SIGCONT process 0']);
    expect(report.problems).toEqual([]);
    expect(report.egressRecords).toBe(2200);
  }, 240_000);

  it('a Redis restart mid-run: the run completes with exact results', async () => {
    const redis: RedisHandle = await startRedis();
    stops.push(() => redis.stop());
    const report = await runChaos(
      base({
        redisUrl: redis.url,
        schedule: [{ atMs: 4000, name: 'restart Redis', run: () => redis.restart() }],
      }),
    );
    expect(report.problems).toEqual([]);
    expect(report.egressRecords).toBe(2200);
  }, 240_000);

  it('a Kafka broker restart mid-run: the run completes with exact results', async () => {
    const kafka: KafkaHandle = await startKafka();
    stops.push(() => kafka.stop());
    const report = await runChaos(
      base({
        brokers: kafka.brokers,
        schedule: [{ atMs: 4000, name: 'restart Kafka', run: () => kafka.restart() }],
      }),
    );
    expect(report.problems).toEqual([]);
    expect(report.egressRecords).toBe(2200);
  }, 300_000);

  it('processes joining and leaving (rebalances) lose nothing and duplicate nothing', async () => {
    const report = await runChaos(
      base({
        processes: 1,
        produceOverMs: 16_000,
        schedule: [
          { atMs: 2000, name: 'add a process', run: (c) => void c.add() },
          { atMs: 5000, name: 'add another process', run: (c) => void c.add() },
          { atMs: 9000, name: 'remove process 0 (SIGTERM)', run: (c) => c.remove(0) },
          { atMs: 13_000, name: 'remove process 1 (SIGTERM)', run: (c) => c.remove(1) },
        ],
      }),
    );
    expect(report.faults).toHaveLength(4);
    expect(report.problems).toEqual([]);
    expect(report.egressRecords).toBe(2200);
  }, 240_000);
});
