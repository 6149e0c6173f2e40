// Stopping a consumer group under faults: a stop that is stuck (a partition's revocation never
// finishes) is given up with abandon(), which leaves the group at once so the partitions move now
// and not after the session timeout; and a stop while kafkajs restarts its crashed consumer (the
// broker is gone) still revokes every partition instead of failing.
import '../../src/log/kafka/kafkajs-patch.js';
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createTopic, startKafka, waitUntil } from '@continuum/test-infra';
import { createKafka } from '../../src/log/kafka/client.js';
import { ProcessTransactions } from '../../src/log/kafka/process-transactions.js';
import { TransactionalGroup } from '../../src/log/kafka/transactional-group.js';
import { silentLogger, type Logger } from '../../src/logger.js';

const brokers = inject('kafkaBrokers').split(',');
const kafka = createKafka({ brokers }, silentLogger);
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('giving up a stuck stop', () => {
  it('abandon() leaves the group at once while the graceful stop still waits on a revocation', async () => {
    const id = randomUUID().slice(0, 8);
    const topic = `abandon-${id}`;
    const groupId = `abandon-group-${id}`;
    await createTopic(brokers, topic, 2);
    const admin = kafka.admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    const group = new TransactionalGroup({
      kafka,
      admin,
      groupId,
      topics: [topic],
      transactions: new ProcessTransactions({ kafka, logger: silentLogger, idPrefix: groupId }),
      logger: silentLogger,
      // Long enough that only a leave-group can empty the group within the test's bound.
      sessionTimeoutMs: 60_000,
      heartbeatIntervalMs: 1000,
    });
    const assigned: number[] = [];
    await group.start({
      assigned: (owned) => {
        assigned.push(owned.tp.partition);
        return Promise.resolve();
      },
      // A revocation that never ends: the graceful stop hangs on it.
      revoked: () => new Promise<void>(() => undefined),
    });
    await waitUntil(() => assigned.length === 2, {
      timeoutMs: 60_000,
      what: 'both partitions assigned',
      intervalMs: 100,
    });
    const members = async (): Promise<number> =>
      (await admin.describeGroups([groupId])).groups[0]?.members.length ?? -1;
    expect(await members()).toBe(1);

    void group.stop();
    const started = Date.now();
    await group.abandon();
    await waitUntil(async () => (await members()) === 0, {
      timeoutMs: 20_000,
      what: 'the member to have left the group',
      intervalMs: 100,
    });
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('stop() revokes every partition while kafkajs restarts its crashed consumer (broker gone)', async () => {
    const broker = await startKafka({ quiet: true });
    cleanups.push(() => broker.stop());
    const own = createKafka({ brokers: broker.brokers }, silentLogger);
    const id = randomUUID().slice(0, 8);
    const topic = `crashed-${id}`;
    await createTopic(broker.brokers, topic, 2);
    const admin = own.admin();
    await admin.connect();
    let crashes = 0;
    const logger: Logger = {
      ...silentLogger,
      error: (msg) => {
        if (msg.startsWith('Kafka consumer crashed')) crashes++;
      },
      child: () => logger,
    };
    const group = new TransactionalGroup({
      kafka: own,
      admin,
      groupId: `crashed-group-${id}`,
      topics: [topic],
      transactions: new ProcessTransactions({ kafka: own, logger: silentLogger, idPrefix: `crashed-${id}` }),
      logger,
      sessionTimeoutMs: 6000,
      heartbeatIntervalMs: 500,
    });
    const assigned = new Set<number>();
    const revoked: number[] = [];
    await group.start({
      assigned: (owned) => {
        assigned.add(owned.tp.partition);
        return Promise.resolve();
      },
      revoked: (tp) => {
        revoked.push(tp.partition);
        return Promise.resolve();
      },
    });
    await waitUntil(() => assigned.size === 2, {
      timeoutMs: 60_000,
      what: 'both partitions assigned',
      intervalMs: 100,
    });
    await broker.kill();
    await waitUntil(() => crashes > 0, { timeoutMs: 60_000, what: 'the consumer to crash', intervalMs: 100 });
    await group.stop();
    expect(revoked.sort()).toEqual([0, 1]);
    await admin.disconnect().catch(() => undefined);
  });

  it('a consumer kafkajs does not restart after a crash is replaced, and the group assigns its partitions again', async () => {
    const broker = await startKafka({ quiet: true });
    cleanups.push(() => broker.stop());
    const own = createKafka({ brokers: broker.brokers }, silentLogger);
    // kafkajs gives up on some errors while a broker restarts ("Failed to find group coordinator");
    // here it gives up on every crash, so the broker crash below always ends its consumer.
    const givingUp = Object.assign(Object.create(own) as Kafka, {
      consumer: (config: Parameters<Kafka['consumer']>[0]) =>
        own.consumer({
          ...config,
          retry: { ...config.retry, restartOnFailure: () => Promise.resolve(false) },
        }),
    });
    const id = randomUUID().slice(0, 8);
    const topic = `replaced-${id}`;
    await createTopic(broker.brokers, topic, 2);
    const admin = own.admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect().catch(() => undefined));
    const replaced: string[] = [];
    const logger: Logger = {
      ...silentLogger,
      error: (msg) => {
        if (msg.startsWith('Kafka consumer stopped')) replaced.push(msg);
      },
      child: () => logger,
    };
    const group = new TransactionalGroup({
      kafka: givingUp,
      admin,
      groupId: `replaced-group-${id}`,
      topics: [topic],
      transactions: new ProcessTransactions({ kafka: own, logger: silentLogger, idPrefix: `replaced-${id}` }),
      logger,
      sessionTimeoutMs: 6000,
      heartbeatIntervalMs: 500,
    });
    cleanups.push(() => group.stop());
    let assignments = 0;
    const revoked: number[] = [];
    await group.start({
      assigned: () => {
        assignments++;
        return Promise.resolve();
      },
      revoked: (tp) => {
        revoked.push(tp.partition);
        return Promise.resolve();
      },
    });
    await waitUntil(() => assignments === 2, {
      timeoutMs: 60_000,
      what: 'both partitions assigned',
      intervalMs: 100,
    });
    await broker.kill();
    await waitUntil(() => replaced.length > 0, {
      timeoutMs: 60_000,
      what: 'the consumer to give up',
      intervalMs: 100,
    });
    await broker.restart();
    await waitUntil(() => assignments === 4, {
      timeoutMs: 90_000,
      what: 'both partitions assigned again to a new consumer',
      intervalMs: 200,
    });
    expect(revoked.sort()).toEqual([0, 1]);
    expect(
      group
        .assignedPartitions()
        .map((tp) => tp.partition)
        .sort(),
    ).toEqual([0, 1]);
  }, 240_000);
});
