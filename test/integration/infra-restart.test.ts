// A dedicated broker from startKafka() survives restart() and kill(): same address, same data,
// and clients created before the restart carry on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Producer } from 'kafkajs';
import { createKafkaClient, createTopic, readTopic, startKafka, uniqueName } from '@continuum/test-infra';
import type { KafkaHandle } from '@continuum/test-infra';

describe('a dedicated Kafka broker', () => {
  let kafka: KafkaHandle;
  let producer: Producer;
  const topic = uniqueName('infra-restart');

  beforeAll(async () => {
    kafka = await startKafka();
    await createTopic(kafka.brokers, topic, 2);
    producer = createKafkaClient(kafka.brokers).producer({
      transactionalId: uniqueName('infra-restart-producer'),
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect();
    await kafka?.stop();
  });

  async function commit(...messages: string[]): Promise<void> {
    const tx = await producer.transaction();
    await tx.send({ topic, messages: messages.map((value) => ({ key: value, value })) });
    await tx.commit();
  }

  const sortedValues = async (): Promise<string[]> =>
    (await readTopic(kafka.brokers, topic)).map((r) => r.value?.toString() ?? '<null>').sort();

  it('reports a positive startup time and a loopback address', () => {
    expect(kafka.startupMs).toBeGreaterThan(0);
    expect(kafka.brokers).toHaveLength(1);
    expect(kafka.brokers[0]).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(kafka.logTail(400)).toMatch(/Kafka Server started|started \(kafka\.server\.KafkaRaftServer\)/);
  });

  it('serves the same producer and its data again after restart()', async () => {
    const before = kafka.brokers.join(',');
    await commit('before-1', 'before-2');
    await kafka.restart();
    expect(kafka.brokers.join(',')).toBe(before);
    await commit('after-restart');
    expect(await sortedValues()).toEqual(['after-restart', 'before-1', 'before-2']);
  });

  it('recovers its committed data after kill() and restart()', async () => {
    await commit('before-kill');
    await kafka.kill();
    await kafka.restart();
    await commit('after-kill');
    expect(await sortedValues()).toEqual([
      'after-kill',
      'after-restart',
      'before-1',
      'before-2',
      'before-kill',
    ]);
  });
});
