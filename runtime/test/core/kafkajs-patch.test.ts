import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import {
  CONCURRENT_TRANSACTIONS_BACKOFF_MS,
  CoordinatorCache,
  filterAbortedMessages,
  forgetTransactionCoordinators,
  retryConcurrentTransactions,
} from '../../src/log/kafka/kafkajs-patch.js';

const msg = (
  offset: number,
  producerId: string,
  opts: { control?: 'abort' | 'commit'; tx?: boolean } = {},
) => ({
  offset: String(offset),
  key:
    opts.control === undefined ? Buffer.from('k') : Buffer.from([0, 0, 0, opts.control === 'abort' ? 0 : 1]),
  isControlRecord: opts.control !== undefined,
  batchContext: { producerId, inTransaction: opts.tx ?? true },
});

describe('read_committed filter for kafkajs', () => {
  it('drops every aborted transaction that began before the first fetched record, not only the first', () => {
    // Fetch starts at 100; producers X and Y both have aborted transactions begun at 90 and 95.
    const messages = [
      msg(100, 'Y'),
      msg(101, 'X'),
      msg(102, 'Y', { control: 'abort' }),
      msg(103, 'X', { control: 'abort' }),
      msg(104, 'Y'),
      msg(105, 'Y', { control: 'commit' }),
    ];
    const kept = filterAbortedMessages({
      messages,
      abortedTransactions: [
        { producerId: 'X', firstOffset: '90' },
        { producerId: 'Y', firstOffset: '95' },
      ],
    });
    expect(kept.filter((m) => !m.isControlRecord).map((m) => m.offset)).toEqual(['104']);
  });

  it('keeps committed transactions of a producer after its aborted one ended', () => {
    const messages = [
      msg(1, 'X'),
      msg(2, 'X', { control: 'abort' }),
      msg(3, 'X'),
      msg(4, 'X', { control: 'commit' }),
    ];
    const kept = filterAbortedMessages({
      messages,
      abortedTransactions: [{ producerId: 'X', firstOffset: '1' }],
    });
    expect(kept.filter((m) => !m.isControlRecord).map((m) => m.offset)).toEqual(['3']);
  });

  it('is installed in place of the kafkajs filter', async () => {
    const { createRequire } = await import('node:module');
    const require = createRequire(import.meta.url);
    const installed = require('kafkajs/src/consumer/filterAbortedMessages.js') as unknown;
    expect(installed).toBe(filterAbortedMessages);
  });
});

describe('grouping the messages of a send by partition', () => {
  it('keeps every message, in order, under the partition the partitioner names', async () => {
    const { groupMessagesPerPartition } = await import('../../src/log/kafka/kafkajs-patch.js');
    const messages = Array.from({ length: 10 }, (_, i) => ({ partition: i % 3, n: i }));
    const grouped = groupMessagesPerPartition({
      topic: 't',
      partitionMetadata: [{}, {}, {}],
      messages,
      partitioner: ({ message }) => message.partition,
    });
    expect(Object.keys(grouped)).toEqual(['0', '1', '2']);
    expect(grouped[0]!.map((m) => m.n)).toEqual([0, 3, 6, 9]);
    expect(grouped[2]!.map((m) => m.n)).toEqual([2, 5, 8]);
  });

  it('is what kafkajs uses once the patch is loaded', async () => {
    const { createRequire } = await import('node:module');
    const require = createRequire(import.meta.url);
    const { groupMessagesPerPartition } = await import('../../src/log/kafka/kafkajs-patch.js');
    expect(require('kafkajs/src/producer/groupMessagesPerPartition.js')).toBe(groupMessagesPerPartition);
  });
});

describe('the kafkajs encoder', () => {
  it('is the pooled one, and encodes a record batch kafkajs decodes back unchanged', async () => {
    await import('../../src/log/kafka/kafkajs-patch.js');
    const { createRequire } = await import('node:module');
    const require = createRequire(import.meta.url);
    const Encoder = require('kafkajs/src/protocol/encoder.js') as { name: string };
    expect(Encoder.name).toBe('PooledEncoder');
    const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as {
      RecordBatch: (args: unknown) => Promise<{ buffer: Buffer }>;
    };
    const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (
      args: unknown,
    ) => unknown;
    const Decoder = require('kafkajs/src/protocol/decoder.js') as new (b: Buffer) => unknown;
    const decodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as (
      d: unknown,
    ) => Promise<{ records: { key: Buffer; value: Buffer; headers: Record<string, Buffer> }[] }>;
    const records = Array.from({ length: 50 }, (_, i) =>
      Record({
        offsetDelta: i,
        key: Buffer.from(`k${i}`),
        value: Buffer.from('v'.repeat(i * 40)),
        headers: { h: Buffer.from(`x${i}`) },
      }),
    );
    const encoded = await RecordBatch({ records, timestamp: 1, maxTimestamp: 1 });
    const decoded = await decodeBatch(new Decoder(encoded.buffer));
    expect(decoded.records).toHaveLength(50);
    expect(decoded.records[49]!.key.toString()).toBe('k49');
    expect(decoded.records[49]!.value.toString()).toBe('v'.repeat(49 * 40));
    expect(decoded.records[7]!.headers.h!.toString()).toBe('x7');
  });
});

describe('the kafkajs request queue', () => {
  it('schedules no throttle check while nothing is queued, and never one with a negative delay', async () => {
    const { createRequire } = await import('node:module');
    const RequestQueue = createRequire(import.meta.url)('kafkajs/src/network/requestQueue/index.js') as {
      prototype: { scheduleCheckPendingRequests(this: unknown): void };
    };
    const delays: number[] = [];
    const realSetTimeout = globalThis.setTimeout;
    const spy = ((fn: () => void, ms: number) => {
      delays.push(ms);
      return realSetTimeout(() => undefined, 0);
    }) as unknown as typeof setTimeout;
    globalThis.setTimeout = spy;
    try {
      const never = {
        throttledUntil: 0,
        pending: [],
        throttleCheckTimeoutId: null,
        checkPendingRequests() {},
      };
      RequestQueue.prototype.scheduleCheckPendingRequests.call(never);
      const waiting = {
        throttledUntil: 0,
        pending: [{}],
        throttleCheckTimeoutId: null,
        checkPendingRequests() {},
      };
      RequestQueue.prototype.scheduleCheckPendingRequests.call(waiting);
      const throttled = {
        throttledUntil: Date.now() + 5000,
        pending: [{}],
        throttleCheckTimeoutId: null,
        checkPendingRequests() {},
      };
      RequestQueue.prototype.scheduleCheckPendingRequests.call(throttled);
    } finally {
      globalThis.setTimeout = realSetTimeout;
    }
    // Nothing queued (kafkajs asks after every response): no timer. Queued: kafkajs' 10 ms
    // interval, or the end of the broker's throttle.
    expect(delays).toHaveLength(2);
    expect(delays[0]).toBe(10);
    expect(delays[1]).toBeGreaterThan(4000);
    expect(delays[1]).toBeLessThanOrEqual(5000);
  });
});

describe('the transaction coordinator cache', () => {
  const setup = (): {
    cache: CoordinatorCache;
    generation: { value: number };
    clock: { now: number };
    lookups: string[];
    lookup: (answer: string | Error) => () => Promise<unknown>;
  } => {
    const generation = { value: 0 };
    const clock = { now: 1000 };
    const lookups: string[] = [];
    return {
      cache: new CoordinatorCache(10_000, generation, () => clock.now),
      generation,
      clock,
      lookups,
      lookup: (answer) => () => {
        lookups.push(answer instanceof Error ? answer.message : answer);
        return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
      },
    };
  };

  it('reuses a lookup within its time to live, per transactional id', async () => {
    const { cache, clock, lookups, lookup } = setup();
    expect(await cache.get('txn-a', lookup('broker-1'))).toBe('broker-1');
    clock.now += 9_999;
    expect(await cache.get('txn-a', lookup('broker-2'))).toBe('broker-1');
    expect(await cache.get('txn-b', lookup('broker-3'))).toBe('broker-3');
    clock.now += 1;
    expect(await cache.get('txn-a', lookup('broker-4'))).toBe('broker-4');
    expect(lookups).toEqual(['broker-1', 'broker-3', 'broker-4']);
  });

  it('looks up again after a failed lookup and after the generation moved (a transaction failed)', async () => {
    const { cache, generation, lookups, lookup } = setup();
    await expect(cache.get('txn', lookup(new Error('COORDINATOR_NOT_AVAILABLE')))).rejects.toThrow();
    expect(await cache.get('txn', lookup('broker-1'))).toBe('broker-1');
    generation.value++;
    expect(await cache.get('txn', lookup('broker-2'))).toBe('broker-2');
    expect(await cache.get('txn', lookup('broker-3'))).toBe('broker-2');
    expect(lookups).toEqual(['COORDINATOR_NOT_AVAILABLE', 'broker-1', 'broker-2']);
  });
});

interface TransactionManager {
  initProducerId(): Promise<void>;
  beginTransaction(): void;
  addPartitionsToTransaction(topicData: unknown): Promise<void>;
  sendOffsets(args: object): Promise<void>;
  commit(): Promise<void>;
}

/** kafkajs' transaction manager (as patched) over a stand-in cluster, with a transactional id of its own. */
function transactionManager(cluster: object): TransactionManager {
  const require = createRequire(import.meta.url);
  const create = require('kafkajs/src/producer/eosManager/index.js') as (opts: object) => TransactionManager;
  const quiet = () => undefined;
  return create({
    logger: { debug: quiet, info: quiet, warn: quiet, error: quiet },
    cluster,
    transactional: true,
    transactionalId: `txn-under-test-${randomUUID()}`,
  });
}

describe('CONCURRENT_TRANSACTIONS at the start of a transaction', () => {
  const concurrent = (): Error => Object.assign(new Error('concurrent'), { type: 'CONCURRENT_TRANSACTIONS' });

  it('is tried again after short waits, and the answer of the try that worked is returned', async () => {
    const waits: number[] = [];
    let calls = 0;
    const result = await retryConcurrentTransactions(
      () => (++calls < 4 ? Promise.reject(concurrent()) : Promise.resolve('added')),
      CONCURRENT_TRANSACTIONS_BACKOFF_MS,
      (ms) => {
        waits.push(ms);
        return Promise.resolve();
      },
    );
    expect(result).toBe('added');
    expect(waits).toEqual([5, 10, 20]);
  });

  it('passes other errors on at once, and this one once the waits are used up', async () => {
    const waits: number[] = [];
    const sleep = (ms: number): Promise<void> => {
      waits.push(ms);
      return Promise.resolve();
    };
    const other = Object.assign(new Error('fenced'), { type: 'INVALID_PRODUCER_EPOCH' });
    await expect(retryConcurrentTransactions(() => Promise.reject(other), [1, 2], sleep)).rejects.toBe(other);
    expect(waits).toEqual([]);
    await expect(
      retryConcurrentTransactions(() => Promise.reject(concurrent()), [1, 2], sleep),
    ).rejects.toThrow('concurrent');
    expect(waits).toEqual([1, 2]);
  });

  it("is retried inside kafkajs' transaction manager, without a metadata refresh", async () => {
    const sent: string[] = [];
    let refreshes = 0;
    const broker = {
      initProducerId: () => Promise.resolve({ producerId: 7, producerEpoch: 1 }),
      addPartitionsToTxn: ({ topics }: { topics: { topic: string; partitions: number[] }[] }) => {
        sent.push(JSON.stringify(topics));
        return sent.length < 3 ? Promise.reject(concurrent()) : Promise.resolve();
      },
    };
    const manager = transactionManager({
      retry: { retries: 0 },
      refreshMetadataIfNecessary: () => Promise.resolve(void refreshes++),
      refreshMetadata: () => Promise.resolve(void refreshes++),
      findGroupCoordinator: () => Promise.resolve(broker),
    });
    await manager.initProducerId();
    const refreshesBefore = refreshes;
    manager.beginTransaction();
    await manager.addPartitionsToTransaction([{ topic: 'out', partitions: [{ partition: 3 }] }]);
    expect(sent).toEqual(Array(3).fill('[{"topic":"out","partitions":[3]}]'));
    expect(refreshes).toBe(refreshesBefore);
    // Added once it worked: the next send of the transaction to that partition adds nothing.
    await manager.addPartitionsToTransaction([{ topic: 'out', partitions: [{ partition: 3 }] }]);
    expect(sent).toHaveLength(3);
  });
});

describe("the group coordinator of a transaction's offsets", () => {
  it('is looked up once for many transactions, again after a failed one, and at once when kafkajs asks again', async () => {
    const lookups: string[] = [];
    const commits: string[] = [];
    const stale = new Set<string>();
    const group = (name: string) => ({
      txnOffsetCommit: () => {
        commits.push(name);
        return stale.has(name)
          ? Promise.reject(Object.assign(new Error('not coordinator'), { type: 'NOT_COORDINATOR' }))
          : Promise.resolve();
      },
    });
    let groupAnswers = 0;
    const coordinator = {
      initProducerId: () => Promise.resolve({ producerId: 9, producerEpoch: 0 }),
      addOffsetsToTxn: () => Promise.resolve(),
      endTxn: () => Promise.resolve(),
    };
    const manager = transactionManager({
      retry: { retries: 2, initialRetryTime: 1, maxRetryTime: 2 },
      refreshMetadataIfNecessary: () => Promise.resolve(),
      findGroupCoordinator: ({ groupId, coordinatorType }: { groupId: string; coordinatorType: number }) => {
        if (coordinatorType !== 0) return Promise.resolve(coordinator);
        lookups.push(groupId);
        return Promise.resolve(group(`group-broker-${++groupAnswers}`));
      },
    });
    await manager.initProducerId();
    const transaction = async (): Promise<void> => {
      manager.beginTransaction();
      await manager.sendOffsets({
        consumerGroupId: 'tasks',
        topics: [{ topic: 'internal', partitions: [] }],
      });
      await manager.commit();
    };
    await transaction();
    await transaction();
    expect(lookups).toEqual(['tasks']);
    forgetTransactionCoordinators();
    await transaction();
    expect(lookups).toEqual(['tasks', 'tasks']);
    // Its coordinator moved: kafkajs looks it up again within the send, and that answer is kept.
    stale.add('group-broker-2');
    await transaction();
    await transaction();
    expect(lookups).toEqual(['tasks', 'tasks', 'tasks']);
    expect(commits).toEqual([
      'group-broker-1',
      'group-broker-1',
      'group-broker-2',
      'group-broker-2',
      'group-broker-3',
      'group-broker-3',
    ]);
  });
});
