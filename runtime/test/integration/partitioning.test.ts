// The deployment's partitioning, kept in Redis: a new deployment records the configured one (or
// the default), later processes adopt it, a different explicit one refuses to start, and a
// deployment whose state predates the record keeps `address`.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { partitioningKey, resolvePartitioning } from '../../src/state/partitioning.js';
import { redisPartitionKeys } from '../../src/state/redis-keys.js';

const redis = new Redis(inject('redisUrl'));
afterAll(() => redis.disconnect());

const prefix = (): string => `pt-${randomUUID().slice(0, 8)}`;

describe('deployment partitioning', () => {
  it('a new deployment records the default; later processes adopt it', async () => {
    const p = prefix();
    expect(await resolvePartitioning(redis, p, undefined, 'id')).toEqual({
      partitioning: 'id',
      origin: 'new',
    });
    expect(await redis.get(partitioningKey(p))).toBe('id');
    expect(await resolvePartitioning(redis, p, undefined, 'id')).toEqual({
      partitioning: 'id',
      origin: 'recorded',
    });
    expect(await resolvePartitioning(redis, p, 'id', 'id')).toEqual({
      partitioning: 'id',
      origin: 'recorded',
    });
  });

  it('a new deployment takes an explicit partitioning; a process configured otherwise refuses to start', async () => {
    const p = prefix();
    expect((await resolvePartitioning(redis, p, 'address', 'id')).partitioning).toBe('address');
    await expect(resolvePartitioning(redis, p, 'id', 'id')).rejects.toMatchObject({
      code: 'PARTITIONING_MISMATCH',
      message: expect.stringContaining('partitioned by address') as unknown,
    });
    // Unset, it adopts what is recorded.
    expect((await resolvePartitioning(redis, p, undefined, 'id')).partitioning).toBe('address');
  });

  it('state written before the partitioning was recorded keeps address', async () => {
    const p = prefix();
    await redis.set(redisPartitionKeys(p, 0).epoch, '3');
    await expect(resolvePartitioning(redis, p, 'id', 'id')).rejects.toMatchObject({
      code: 'PARTITIONING_MISMATCH',
    });
    expect(await resolvePartitioning(redis, p, undefined, 'id')).toEqual({
      partitioning: 'address',
      origin: 'existing-state',
    });
    expect(await redis.get(partitioningKey(p))).toBe('address');
  });

  it('processes of a new deployment starting together agree on one', async () => {
    const p = prefix();
    const all = await Promise.all([
      resolvePartitioning(redis, p, undefined, 'id'),
      resolvePartitioning(redis, p, undefined, 'address'),
      resolvePartitioning(redis, p, undefined, 'id'),
    ]);
    expect(new Set(all.map((c) => c.partitioning)).size).toBe(1);
    expect(all.filter((c) => c.origin === 'new')).toHaveLength(1);
  });

  it('a value that is not a partitioning is reported with its key', async () => {
    const p = prefix();
    await redis.set(partitioningKey(p), 'hash');
    await expect(resolvePartitioning(redis, p, undefined, 'id')).rejects.toThrow(/holds "hash"/);
  });
});
