// The process's shared transactions on the real broker: the commits of many partitions share one
// transaction with their offsets, a part whose prepare fails is left out while the rest commits,
// and back-to-back transactions (where the broker answers CONCURRENT_TRANSACTIONS while the
// previous one's markers are written) all commit without failing a part.
import '../../src/log/kafka/kafkajs-patch.js';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createTopic, readTopic, uniqueName } from '@continuum/test-infra';
import { createKafka } from '../../src/log/kafka/client.js';
import { ProcessTransactions, type TxnPart } from '../../src/log/kafka/process-transactions.js';
import { silentLogger } from '../../src/logger.js';

const brokers = inject('kafkaBrokers').split(',');
const kafka = createKafka({ brokers }, silentLogger);
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function part(
  topic: string,
  group: string,
  partition: number,
  n: number,
  prepare?: () => Promise<void>,
): TxnPart {
  return {
    records: Array.from({ length: n }, (_, i) => ({
      topic,
      partition,
      key: `p${partition}`,
      value: Buffer.from(`p${partition}-${i}`),
    })),
    offsets: [{ groupId: group, topic, partition, offset: 100 + partition, metadata: `m${partition}` }],
    prepare,
  };
}

async function committedOffsets(group: string, topic: string): Promise<Map<number, string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return new Map((t?.partitions ?? []).map((p) => [p.partition, p.offset]));
  } finally {
    await admin.disconnect();
  }
}

async function started(lingerMs = 0, lanes = 2): Promise<ProcessTransactions> {
  const txns = new ProcessTransactions({
    kafka,
    logger: silentLogger,
    idPrefix: `txn-${randomUUID()}`,
    lingerMs,
    lanes,
  });
  await txns.start();
  cleanups.push(() => txns.close());
  return txns;
}

describe('process transactions', () => {
  it('commits the parts of many partitions, with their offsets, in one transaction', async () => {
    const topic = uniqueName('ptx');
    const group = uniqueName('ptx-group');
    await createTopic(brokers, topic, 4);
    const txns = await started(0, 1);
    // The first transaction starts at once; the parts that arrive while it runs share the next.
    await Promise.all([0, 1, 2, 3].map((p) => txns.commit(part(topic, group, p, p === 0 ? 1 : 5))));
    expect(txns.stats, JSON.stringify(txns.stats)).toMatchObject({ transactions: 2, parts: 4 });
    const records = await readTopic(brokers, topic, { expected: 16 });
    expect(records).toHaveLength(16);
    const offsets = await committedOffsets(group, topic);
    expect([...offsets].sort()).toEqual([
      [0, '100'],
      [1, '101'],
      [2, '102'],
      [3, '103'],
    ]);
  });

  it('leaves out a part whose prepare fails and commits the others', async () => {
    const topic = uniqueName('ptx-drop');
    const group = uniqueName('ptx-drop-group');
    await createTopic(brokers, topic, 3);
    const txns = await started();
    const prepared: number[] = [];
    const results = await Promise.allSettled([
      txns.commit(part(topic, group, 0, 2, () => Promise.resolve(void prepared.push(0)))),
      txns.commit(part(topic, group, 1, 2, () => Promise.reject(new Error('epoch moved on')))),
      txns.commit(part(topic, group, 2, 2)),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ message: 'epoch moved on' });
    expect(txns.stats.dropped).toBe(1);
    // The remaining part prepared again for the transaction that committed.
    expect(prepared.length).toBeGreaterThanOrEqual(1);
    const values = (await readTopic(brokers, topic, { expected: 4 })).map((r) => r.value?.toString());
    expect(values.sort()).toEqual(['p0-0', 'p0-1', 'p2-0', 'p2-1']);
    const offsets = await committedOffsets(group, topic);
    expect(offsets.get(1)).toBe('-1');
    expect(offsets.get(0)).toBe('100');
  });

  it('runs transactions of two lanes side by side, each part committed once', async () => {
    const topic = uniqueName('ptx-lanes');
    const group = uniqueName('ptx-lanes-group');
    await createTopic(brokers, topic, 4);
    const txns = await started(0, 2);
    expect(new Set(txns.transactionalIds).size).toBe(2);
    // Four committers, each with one commit in flight at a time, as partition tasks are.
    await Promise.all(
      [0, 1, 2, 3].map(async (p) => {
        for (let i = 0; i < 10; i++) await txns.commit(part(topic, group, p, 1));
      }),
    );
    expect(txns.stats.parts).toBe(40);
    expect(await readTopic(brokers, topic, { expected: 40 })).toHaveLength(40);
  });

  it('runs transactions back to back without failing a part', async () => {
    const topic = uniqueName('ptx-b2b');
    const group = uniqueName('ptx-b2b-group');
    await createTopic(brokers, topic, 2);
    const txns = await started(0, 1);
    for (let i = 0; i < 40; i++) await txns.commit(part(topic, group, i % 2, 1));
    expect(txns.stats.transactions).toBe(40);
    expect(await readTopic(brokers, topic, { expected: 40 })).toHaveLength(40);
  });

  it('a restarted process with the same identity ends the transaction its predecessor left open at once', async () => {
    const topic = uniqueName('ptx-restart');
    const group = uniqueName('ptx-group');
    await createTopic(brokers, topic, 1);
    const same = {
      kafka,
      logger: silentLogger,
      idPrefix: `txn-${randomUUID()}`,
      identity: 'pod-a/1',
      lanes: 1,
    };
    // The predecessor's transaction would only be aborted by the broker after 120 s.
    const before = new ProcessTransactions({ ...same, lingerMs: 0, transactionTimeoutMs: 120_000 });
    await before.start();
    cleanups.push(() => before.close());
    let release = (): void => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let inPrepare = (): void => undefined;
    const prepared = new Promise<void>((resolve) => (inPrepare = resolve));
    const abandoned = before.commit(
      part(topic, group, 0, 3, () => {
        inPrepare();
        return held;
      }),
    );
    abandoned.catch(() => undefined);
    // Its records are written into the open transaction before prepare runs.
    await prepared;

    const after = new ProcessTransactions({ ...same, lingerMs: 0 });
    expect(after.transactionalIds).toEqual(before.transactionalIds);
    await after.start();
    cleanups.push(() => after.close());
    await after.commit(part(topic, group, 0, 1));
    // read_committed readers see the new record only once the open transaction before it ended.
    const records = await readTopic(brokers, topic, {
      isolation: 'read_committed',
      expected: 1,
      timeoutMs: 30_000,
    });
    expect(records.map((r) => r.value?.toString())).toEqual(['p0-0']);

    // The predecessor, still alive here, is fenced: its part fails and it moves to an id of its own.
    release();
    await expect(abandoned).rejects.toMatchObject({ code: 'FENCED' });
    expect(before.transactionalIds[0]).not.toBe(after.transactionalIds[0]);
    expect(before.transactionalIds[0]).toMatch(new RegExp(`^${same.idPrefix}\\.pod-a\\.1\\.`));
    await before.commit(part(topic, group, 0, 2));
    await after.commit(part(topic, group, 0, 1));
    const all = await readTopic(brokers, topic, {
      isolation: 'read_committed',
      expected: 4,
      timeoutMs: 30_000,
    });
    expect(all.map((r) => r.value?.toString())).toEqual(['p0-0', 'p0-0', 'p0-1', 'p0-0']);
  });
});
