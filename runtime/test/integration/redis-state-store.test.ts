// The Redis state store against a real Redis: the StateStore contract, the one-slot key layout,
// large deltas, fencing between processes, durability across a restart and a SIGKILL, and the
// WAIT-on-replicas mode.
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { Redis } from 'ioredis';
import { createRedisClient, freePort, startRedis, uniqueName, waitUntil } from '@continuum/test-infra';
import type { RedisHandle } from '@continuum/test-infra';
import { encodeAddress } from '../../src/state/redis-blob-codec.js';
import { redisPartitionKeys, scriptKeys } from '../../src/state/redis-keys.js';
import { RedisStateStore } from '../../src/state/redis-state-store.js';
import type { StoredTimer, StoredValue } from '../../src/state/state-store.js';
import {
  address,
  bytes,
  delta,
  describeStateStoreContract,
  sortTimers,
  timer,
  value,
} from '../state/state-store-contract.js';

// ioredis routes Cluster commands with this slot function; it is the reference for "one slot".
const referenceSlot = createRequire(import.meta.url)('cluster-key-slot') as (key: string) => number;

const redisUrl = inject('redisUrl');

describeStateStoreContract(
  'the Redis store',
  () => {
    const keyPrefix = uniqueName('contract');
    return Promise.resolve({
      store: new RedisStateStore({ redis: redisUrl, keyPrefix }),
      reopen: () => Promise.resolve(new RedisStateStore({ redis: redisUrl, keyPrefix })),
    });
  },
  { durable: true },
);

// Every staged field in its own script call: the multi-call path must behave exactly the same.
describeStateStoreContract(
  'the Redis store on a borrowed client, staging one field per call',
  () => {
    const keyPrefix = uniqueName('contract-chunked');
    const client = createRedisClient(redisUrl);
    return Promise.resolve({
      store: new RedisStateStore({ redis: client, keyPrefix, stageChunkBytes: 1 }),
      reopen: () => Promise.resolve(new RedisStateStore({ redis: client, keyPrefix, stageChunkBytes: 1 })),
      cleanup: async () => {
        await client.quit();
      },
    });
  },
  { durable: true },
);

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function storeOn(
  url: string,
  options: Partial<ConstructorParameters<typeof RedisStateStore>[0]> = {},
): RedisStateStore {
  const store = new RedisStateStore({ redis: url, keyPrefix: uniqueName('store'), ...options });
  cleanups.push(() => store.close());
  return store;
}

function rawClient(url: string): Redis {
  const client = createRedisClient(url);
  cleanups.push(() => client.quit());
  return client;
}

async function keysWithPrefix(client: Redis, keyPrefix: string): Promise<string[]> {
  const found = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `{${keyPrefix}:*`, 'COUNT', 1000);
    cursor = next;
    for (const k of keys) found.add(k);
  } while (cursor !== '0');
  return [...found].sort();
}

/** Deep equality of two addresses' states, cheap enough for tens of thousands of them. */
function sameStates(
  actual: Record<string, StoredValue> | undefined,
  expected: Record<string, StoredValue>,
): boolean {
  if (actual === undefined) return false;
  const names = Object.keys(expected);
  if (Object.keys(actual).length !== names.length) return false;
  return names.every((name) => {
    const a = actual[name];
    const e = expected[name]!;
    return (
      a !== undefined &&
      a.typename === e.typename &&
      a.expiresAt === e.expiresAt &&
      a.value.constructor === Uint8Array &&
      Buffer.from(a.value).equals(e.value)
    );
  });
}

describe('the Redis store on the shared Redis', () => {
  it('writes every key of a partition under its hash tag, so that all of them map to one cluster slot', async () => {
    const keyPrefix = uniqueName('slots');
    const store = storeOn(redisUrl, { keyPrefix });
    const partitions = [0, 1, 7, 12];
    for (const n of partitions) {
      const p = store.partition(n);
      const epoch = await p.claim();
      await p.stage(
        epoch,
        1,
        delta({
          addresses: [[`ns/fn/${n}`, address({ s: value('t', [n]) })]],
          timersAdded: [timer(`t${n}`, 5)],
          meta: { completed: '[]' },
        }),
      );
      await p.promote(epoch, 1);
      // Left staged, so that the staged hash and its id exist too.
      await p.stage(epoch, 2, delta({ addresses: [[`ns/fn/${n}`, address({})]] }));
    }

    const written = await keysWithPrefix(rawClient(redisUrl), keyPrefix);
    const slots = new Set<number>();
    for (const n of partitions) {
      const keys = redisPartitionKeys(keyPrefix, n);
      const mine = written.filter((k) => k.startsWith(`${keys.tag}:`));
      expect(mine).toEqual([...scriptKeys(keys)].sort());
      const partitionSlots = new Set(mine.map(referenceSlot));
      expect(partitionSlots.size).toBe(1);
      slots.add([...partitionSlots][0]!);
    }
    expect(written).toHaveLength(partitions.length * 7);
    // Different partitions land on different slots here, so a cluster can spread them.
    expect(slots.size).toBe(partitions.length);
  });

  it('stages and promotes a delta of 20,000 addresses and 2,000 timers, then one that deletes half of them', async () => {
    const keyPrefix = uniqueName('large');
    const p = storeOn(redisUrl, { keyPrefix }).partition(3);
    const epoch = await p.claim();
    const addressCount = 20_000;
    const big = randomBytes(4096);
    const keys = Array.from({ length: addressCount }, (_, i) => `ns/big/${i}`);
    const stateOf = (i: number): ReturnType<typeof address> =>
      address(
        i % 40 === 0
          ? {
              blob: { typename: 'com.example/Blob', value: Uint8Array.from(big), expiresAt: i },
              n: value('t', [i % 256]),
            }
          : { n: value('t', [i % 256, (i >> 8) % 256]) },
      );
    const timers: StoredTimer[] = Array.from({ length: 2000 }, (_, i) => timer(`timer-${i}`, i));
    await p.stage(
      epoch,
      1,
      delta({
        addresses: keys.map((k, i) => [k, stateOf(i)]),
        timersAdded: timers,
        meta: { completed: '[]' },
      }),
    );
    expect(await p.staged()).toEqual({ checkpointId: 1 });
    await p.promote(epoch, 1);

    const got = await p.get(keys);
    expect(got.size).toBe(addressCount);
    expect(keys.filter((k, i) => !sameStates(got.get(k)?.states, stateOf(i).states))).toEqual([]);
    expect(sortTimers(await p.timers())).toEqual(sortTimers(timers));

    // A new owner, whose store writes a delta in calls of at most 256 KiB.
    const r = storeOn(redisUrl, { keyPrefix, stageChunkBytes: 256 * 1024 }).partition(3);
    const next = await r.claim();
    await expect(p.stage(epoch, 2, delta({}))).rejects.toMatchObject({ code: 'FENCED' });
    await r.stage(
      next,
      2,
      delta({
        addresses: keys.filter((_, i) => i % 2 === 0).map((k) => [k, address({})]),
        timersRemoved: timers.filter((_, i) => i % 2 === 0).map((t) => t.id),
      }),
    );
    await r.promote(next, 2);
    const after = await r.get(keys);
    expect(after.size).toBe(addressCount / 2);
    expect(
      keys.filter((k, i) =>
        i % 2 === 0 ? after.has(k) : !sameStates(after.get(k)?.states, stateOf(i).states),
      ),
    ).toEqual([]);
    expect(sortTimers(await r.timers())).toEqual(sortTimers(timers.filter((_, i) => i % 2 === 1)));
    expect(await r.meta()).toEqual({ completed: '[]' });
  });

  it('never promotes a stage cut short before its last call, and resolve drops what it left', async () => {
    const keyPrefix = uniqueName('cut-short');
    const keys = redisPartitionKeys(keyPrefix, 0);
    const p = storeOn(redisUrl, { keyPrefix }).partition(0);
    const epoch = await p.claim();
    // What a crash between the calls of a multi-call stage leaves: fields without a staged id.
    const raw = rawClient(redisUrl);
    await raw.hset(keys.staged, '#', '3', 'a:k', encodeAddress({ s: value('t', [1]) }));
    expect(await p.staged()).toBeUndefined();
    await expect(p.promote(epoch, 3)).rejects.toMatchObject({ code: 'CHECKPOINT_NOT_STAGED' });
    expect(await p.resolve(epoch, 10)).toBe('none');
    expect(await raw.exists(keys.staged)).toBe(0);
    expect(await p.get(['k'])).toEqual(new Map());
  });

  /**
   * A client whose stage script holds its second call until `release()`: a deterministic point
   * between the calls of a multi-call stage.
   */
  function clientHoldingSecondStageCall(): { client: Redis; held: Promise<void>; release: () => void } {
    const target = rawClient(redisUrl);
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let reached!: () => void;
    const held = new Promise<void>((resolve) => (reached = resolve));
    const client = new Proxy(target, {
      get(t, prop) {
        const v: unknown = Reflect.get(t, prop, t);
        if (typeof v !== 'function') return v;
        const fn = v as (...args: unknown[]) => unknown;
        if (prop !== 'continuumStateStoreStage') return fn.bind(t);
        return async (...args: unknown[]) => {
          if (++calls === 2) {
            reached();
            await gate;
          }
          return fn.apply(t, args);
        };
      },
    });
    return { client, held, release };
  }

  it('fences the rest of a multi-call stage once another process claims, and that owner drops the partial delta', async () => {
    const keyPrefix = uniqueName('cut-by-claim');
    const { client, held, release } = clientHoldingSecondStageCall();
    const p = new RedisStateStore({ redis: client, keyPrefix, stageChunkBytes: 1 }).partition(0);
    const epoch = await p.claim();
    const three = delta({ addresses: ['a', 'b', 'c'].map((k) => [k, address({ s: value('t', [1]) })]) });
    const staging = p.stage(epoch, 1, three).catch((e: unknown) => e);
    await held;
    const other = storeOn(redisUrl, { keyPrefix }).partition(0);
    const next = await other.claim();
    release();
    expect(await staging).toMatchObject({ code: 'FENCED' });
    expect(await other.staged()).toBeUndefined();
    expect(await other.resolve(next, 5)).toBe('none');
    expect(await rawClient(redisUrl).exists(redisPartitionKeys(keyPrefix, 0).staged)).toBe(0);
    expect(await other.get(['a', 'b', 'c'])).toEqual(new Map());
  });

  it('fails a multi-call stage with STAGE_INTERRUPTED when a newer stage replaced it half-way', async () => {
    const keyPrefix = uniqueName('interrupted');
    const { client, held, release } = clientHoldingSecondStageCall();
    const p = new RedisStateStore({ redis: client, keyPrefix, stageChunkBytes: 1 }).partition(0);
    const epoch = await p.claim();
    const older = p
      .stage(epoch, 1, delta({ addresses: ['a', 'b'].map((k) => [k, address({ s: value('t', [1]) })]) }))
      .catch((e: unknown) => e);
    await held;
    await p.stage(epoch, 2, delta({ addresses: [['c', address({ s: value('t', [2]) })]] }));
    release();
    expect(await older).toMatchObject({ code: 'STAGE_INTERRUPTED', retryable: false });
    expect(await p.staged()).toEqual({ checkpointId: 2 });
    await p.promote(epoch, 2);
    const got = await p.get(['a', 'b', 'c']);
    expect([...got.keys()]).toEqual(['c']);
  });

  it('fences a process whose partition another process claimed, with a non-retryable FENCED error', async () => {
    const keyPrefix = uniqueName('fence');
    const first = storeOn(redisUrl, { keyPrefix }).partition(9);
    const second = storeOn(redisUrl, { keyPrefix }).partition(9);
    const old = await first.claim();
    await first.stage(old, 1, delta({ addresses: [['k', address({ s: value('t', [1]) })]] }));
    const current = await second.claim();
    expect(current).toBe(old + 1);
    const err: unknown = await first.promote(old, 1).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'FENCED', retryable: false });
    expect((err as Error).message).toMatch(/partition 9 .*promote rejected.*epoch 2.*epoch 1/);
    expect(await second.get(['k'])).toEqual(new Map());
    expect(await second.resolve(current, 1)).toBe('promoted');
    expect((await first.get(['k'])).get('k')).toEqual({ states: { s: value('t', [1]) } });
  });

  it('fails with a retryable STATE_STORE_UNAVAILABLE error when Redis cannot be reached', async () => {
    const port = await freePort();
    const client = new Redis({
      host: '127.0.0.1',
      port,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    client.on('error', () => undefined);
    cleanups.push(() => Promise.resolve(client.disconnect()));
    const p = new RedisStateStore({ redis: client, keyPrefix: 'unreachable' }).partition(2);
    for (const attempt of [
      () => p.claim(),
      () => p.stage(1, 1, delta({})),
      () => p.get(['k']),
      () => p.timers(),
    ]) {
      const err: unknown = await attempt().catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'STATE_STORE_UNAVAILABLE', retryable: true });
      expect((err as Error).message).toContain('partition 2 ({unreachable:p2})');
    }
  });

  it('reports keys of the wrong type as a non-retryable STATE_STORE_REJECTED error, before writing anything', async () => {
    const keyPrefix = uniqueName('wrongtype');
    const keys = redisPartitionKeys(keyPrefix, 0);
    const raw = rawClient(redisUrl);
    const p = storeOn(redisUrl, { keyPrefix }).partition(0);
    const epoch = await p.claim();
    await p.stage(epoch, 1, delta({ addresses: [['k', address({ s: value('t', [1]) })]], meta: { c: '1' } }));
    await raw.set(keys.state, 'not a hash');
    await expect(p.get(['k'])).rejects.toMatchObject({ code: 'STATE_STORE_REJECTED', retryable: false });
    await expect(p.promote(epoch, 1)).rejects.toMatchObject({
      code: 'STATE_STORE_REJECTED',
      retryable: false,
      message: expect.stringContaining(`${keys.state} holds a string`),
    });
    // Refused before its first write: the staged delta and the promoted id are untouched.
    expect(await p.staged()).toEqual({ checkpointId: 1 });
    expect(await raw.hlen(keys.staged)).toBe(4);
    expect(await raw.exists(keys.promoted)).toBe(0);
    await expect(p.stage(epoch, 2, delta({}))).rejects.toMatchObject({ code: 'STATE_STORE_REJECTED' });
    expect(await p.staged()).toEqual({ checkpointId: 1 });
  });

  it('reports a damaged blob as STATE_CORRUPT naming its key and field', async () => {
    const keyPrefix = uniqueName('corrupt');
    const keys = redisPartitionKeys(keyPrefix, 0);
    const raw = rawClient(redisUrl);
    await raw.hset(keys.state, 'ns/fn/x', Buffer.from([9, 9, 9]));
    await raw.hset(keys.timers, 't1', Buffer.from([1]));
    const p = storeOn(redisUrl, { keyPrefix }).partition(0);
    await expect(p.get(['ns/fn/x'])).rejects.toMatchObject({
      code: 'STATE_CORRUPT',
      message: expect.stringContaining(`${keys.state} field "ns/fn/x"`),
    });
    await expect(p.timers()).rejects.toMatchObject({
      code: 'STATE_CORRUPT',
      message: expect.stringContaining(`${keys.timers} field "t1"`),
    });
  });

  it('refuses a key prefix that would break the hash tag', () => {
    expect(() => new RedisStateStore({ redis: redisUrl, keyPrefix: 'a{b}' })).toThrow(
      expect.objectContaining({ code: 'STATE_STORE_CONFIG' }),
    );
    expect(() => new RedisStateStore({ redis: 'localhost:6379' })).toThrow(
      expect.objectContaining({ code: 'STATE_STORE_CONFIG' }),
    );
  });
});

describe('the Redis store on a dedicated Redis with an fsync-always AOF', () => {
  let redis: RedisHandle;
  beforeAll(async () => {
    redis = await startRedis({ quiet: true });
  });
  afterAll(async () => {
    await redis?.stop();
  });

  async function checkpointThenStage(keyPrefix: string): Promise<{ store: RedisStateStore; epoch: number }> {
    const store = storeOn(redis.url, { keyPrefix });
    const p = store.partition(4);
    const epoch = await p.claim();
    await p.stage(
      epoch,
      1,
      delta({
        addresses: [
          ['k', address({ s: value('t', [1]), e: { typename: 't', value: bytes([2]), expiresAt: 77 } })],
        ],
        timersAdded: [timer('a', 10, { eventTime: 3 }), timer('b', 20)],
        meta: { completed: '[[1,2]]' },
      }),
    );
    await p.promote(epoch, 1);
    await p.stage(
      epoch,
      2,
      delta({ addresses: [['k2', address({ s: value('t', [2]) })]], timersRemoved: ['a'] }),
    );
    return { store, epoch };
  }

  async function expectCheckpointOne(
    store: RedisStateStore,
    keyPrefix: string,
    epoch: number,
  ): Promise<void> {
    const raw = rawClient(redis.url);
    const keys = redisPartitionKeys(keyPrefix, 4);
    expect(await raw.get(keys.epoch)).toBe(String(epoch));
    expect(await raw.get(keys.promoted)).toBe('1');
    const p = store.partition(4);
    expect((await p.get(['k', 'k2'])).get('k')).toEqual({
      states: { s: value('t', [1]), e: { typename: 't', value: bytes([2]), expiresAt: 77 } },
    });
    expect((await p.get(['k2'])).size).toBe(0);
    expect(sortTimers(await p.timers())).toEqual([timer('a', 10, { eventTime: 3 }), timer('b', 20)]);
    expect(await p.meta()).toEqual({ completed: '[[1,2]]' });
    expect(await p.staged()).toEqual({ checkpointId: 2 });
  }

  it('keeps promoted state, timers, metadata, epoch and promoted id, and the staged delta, across a restart', async () => {
    const keyPrefix = uniqueName('restart');
    const { store, epoch } = await checkpointThenStage(keyPrefix);
    await redis.restart();
    // The same store goes on once its client reconnected, although Redis forgot the scripts.
    await expectCheckpointOne(store, keyPrefix, epoch);
    const p = store.partition(4);
    const next = await p.claim();
    expect(next).toBe(epoch + 1);
    expect(await p.resolve(next, 2)).toBe('promoted');
    expect((await p.get(['k2'])).get('k2')).toEqual({ states: { s: value('t', [2]) } });
    expect(await p.timers()).toEqual([timer('b', 20)]);
  });

  it('keeps every acknowledged checkpoint across a SIGKILL, and resolve discards the uncommitted stage', async () => {
    const keyPrefix = uniqueName('sigkill');
    const { epoch } = await checkpointThenStage(keyPrefix);
    await redis.kill();
    await redis.restart();
    const fresh = storeOn(redis.url, { keyPrefix });
    await expectCheckpointOne(fresh, keyPrefix, epoch);
    const p = fresh.partition(4);
    const next = await p.claim();
    expect(await p.resolve(next, 1)).toBe('discarded');
    expect((await p.get(['k2'])).size).toBe(0);
    expect(await p.staged()).toBeUndefined();
    expect(sortTimers(await p.timers())).toEqual([timer('a', 10, { eventTime: 3 }), timer('b', 20)]);
  });
});

describe('the Redis store with waitReplicas', () => {
  let primary: RedisHandle;
  let replica: RedisHandle;
  beforeAll(async () => {
    // No diskless-sync delay: the replica's first full sync starts at once.
    primary = await startRedis({ quiet: true, serverArgs: { 'repl-diskless-sync-delay': '0' } });
    replica = await startRedis({ quiet: true });
    const client = createRedisClient(replica.url);
    try {
      await client.replicaof('127.0.0.1', primary.port);
      await waitUntil(async () => /master_link_status:up/.test(await client.info('replication')), {
        timeoutMs: 60_000,
        what: 'the replica to finish its first sync',
        intervalMs: 100,
      });
    } finally {
      client.disconnect();
    }
  });
  afterAll(async () => {
    await Promise.allSettled([replica?.stop(), primary?.stop()]);
  });

  it('claims, stages and promotes once a replica acknowledged each step, so the replica holds the checkpoint', async () => {
    const keyPrefix = uniqueName('wait');
    const p = storeOn(primary.url, { keyPrefix, waitReplicas: { count: 1, timeoutMs: 10_000 } }).partition(1);
    const epoch = await p.claim();
    await p.stage(
      epoch,
      1,
      delta({ addresses: [['k', address({ s: value('t', [5]) })]], timersAdded: [timer('x', 1)] }),
    );
    await p.promote(epoch, 1);
    const keys = redisPartitionKeys(keyPrefix, 1);
    const onReplica = rawClient(replica.url);
    expect(await onReplica.get(keys.epoch)).toBe(String(epoch));
    expect(await onReplica.get(keys.promoted)).toBe('1');
    expect(await onReplica.hexists(keys.state, 'k')).toBe(1);
    expect(await onReplica.hexists(keys.timers, 'x')).toBe(1);
  });

  it('fails with a retryable STATE_STORE_NOT_DURABLE error when too few replicas acknowledge in time', async () => {
    await replica.kill();
    const keyPrefix = uniqueName('wait-lost');
    const plain = storeOn(primary.url, { keyPrefix }).partition(1);
    const waiting = storeOn(primary.url, { keyPrefix, waitReplicas: { count: 1, timeoutMs: 200 } }).partition(
      1,
    );
    const err: unknown = await waiting.claim().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'STATE_STORE_NOT_DURABLE', retryable: true });
    expect((err as Error).message).toMatch(/claim reached 0 of 1 replicas within 200 ms/);
    const epoch = await plain.claim();
    await expect(waiting.stage(epoch, 1, delta({ meta: { a: '1' } }))).rejects.toMatchObject({
      code: 'STATE_STORE_NOT_DURABLE',
    });
    await expect(waiting.promote(epoch, 1)).rejects.toMatchObject({ code: 'STATE_STORE_NOT_DURABLE' });
  });
});
