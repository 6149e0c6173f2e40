// The shared Kafka broker of the integration project behaves like a real one: transactions commit
// and abort, read_committed readers see only committed records, and zombies are fenced.
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { Producer } from 'kafkajs';
import { createKafkaClient, createTopic, readTopic, uniqueName } from '@continuum/test-infra';

const brokers = inject('kafkaBrokers').split(',');
const producers: Producer[] = [];

function transactionalProducer(transactionalId: string): Producer {
  const producer = createKafkaClient(brokers).producer({
    transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  producers.push(producer);
  return producer;
}

afterEach(async () => {
  await Promise.allSettled(producers.splice(0).map((p) => p.disconnect()));
});

const values = (records: { value: Buffer | null }[]): string[] =>
  records.map((r) => r.value?.toString() ?? '<null>');

describe('the shared Kafka broker', () => {
  it('shows a read_committed reader exactly the records of committed transactions', async () => {
    const topic = uniqueName('infra-tx');
    await createTopic(brokers, topic, 1);
    const producer = transactionalProducer(uniqueName('infra-tx-producer'));
    await producer.connect();

    const committed = await producer.transaction();
    await committed.send({ topic, messages: [{ value: 'c1' }, { value: 'c2' }, { value: 'c3' }] });
    await committed.commit();

    const aborted = await producer.transaction();
    await aborted.send({ topic, messages: [{ value: 'a1' }, { value: 'a2' }] });
    await aborted.abort();

    const committedAgain = await producer.transaction();
    await committedAgain.send({ topic, messages: [{ value: 'c4' }] });
    await committedAgain.commit();

    expect(values(await readTopic(brokers, topic, { isolation: 'read_committed' }))).toEqual([
      'c1',
      'c2',
      'c3',
      'c4',
    ]);
    // The aborted records were written: only the isolation level hides them.
    expect(values(await readTopic(brokers, topic, { isolation: 'read_uncommitted' }))).toEqual([
      'c1',
      'c2',
      'c3',
      'a1',
      'a2',
      'c4',
    ]);
  });

  it('fences the first producer when a second one initialises the same transactional id', async () => {
    const topic = uniqueName('infra-fence');
    await createTopic(brokers, topic, 1);
    const transactionalId = uniqueName('infra-fence-producer');

    const zombie = transactionalProducer(transactionalId);
    await zombie.connect();
    const zombieTx = await zombie.transaction();
    await zombieTx.send({ topic, messages: [{ value: 'from-zombie' }] });

    const successor = transactionalProducer(transactionalId);
    await successor.connect();
    const successorTx = await successor.transaction();
    await successorTx.send({ topic, messages: [{ value: 'from-successor' }] });
    await successorTx.commit();

    const failure = await zombieTx.commit().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(Error);
    expect(String((failure as { type?: unknown }).type)).toMatch(/PRODUCER_FENCED|INVALID_PRODUCER_EPOCH/);

    expect(values(await readTopic(brokers, topic))).toEqual(['from-successor']);
  });

  it('reads records that are still being produced when told how many to expect', async () => {
    const topic = uniqueName('infra-expect');
    await createTopic(brokers, topic, 3);
    const producer = createKafkaClient(brokers).producer();
    producers.push(producer);
    await producer.connect();
    const reading = readTopic(brokers, topic, { expected: 6, timeoutMs: 30_000 });
    await producer.send({
      topic,
      messages: ['a', 'b', 'c', 'd', 'e', 'f'].map((v) => ({ key: v, value: v })),
    });
    const records = await reading;
    expect(values(records).sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
  });
});
