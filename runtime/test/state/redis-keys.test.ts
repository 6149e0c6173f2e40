// The Redis store's key layout and the Cluster slot function it routes WAIT with.
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clusterSlot, redisPartitionKeys, scriptKeys } from '../../src/state/redis-keys.js';

// ioredis' own slot function (an untyped CommonJS dependency of ioredis) is the reference.
const referenceSlot = createRequire(import.meta.url)('cluster-key-slot') as (key: string) => number;

describe('clusterSlot', () => {
  // Expected values are what `CLUSTER KEYSLOT` of Redis 7.0 answers.
  it('matches the slots a Redis Cluster node computes, hash-tag edge cases included', () => {
    expect(clusterSlot('123456789')).toBe(0x31c3);
    expect(clusterSlot('foo')).toBe(12182);
    expect(clusterSlot('{continuum:p7}')).toBe(6022);
    expect(clusterSlot('{user1000}.following')).toBe(clusterSlot('{user1000}.followers'));
    expect(clusterSlot('foo{}{bar}')).toBe(8363);
    expect(clusterSlot('foo{{bar}}zap')).toBe(4015);
    expect(clusterSlot('foo{bar}{zap}')).toBe(5061);
  });

  // cluster-key-slot differs from Redis only for an empty first tag ("{}"), which no key of ours has.
  it('agrees with the slot function ioredis routes by, for any key without an empty tag', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 30 }),
        fc.constantFrom('', '{', '}', '{x}'),
        (s, brace) => {
          const key = `${s}${brace}${s}`;
          fc.pre(!key.includes('{}'));
          expect(clusterSlot(key)).toBe(referenceSlot(key));
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('redisPartitionKeys', () => {
  it('puts every key of a partition under one hash tag and so in one slot', () => {
    const keys = redisPartitionKeys('continuum', 7);
    expect(keys.tag).toBe('{continuum:p7}');
    expect(scriptKeys(keys)).toEqual([
      '{continuum:p7}:epoch',
      '{continuum:p7}:state',
      '{continuum:p7}:timers',
      '{continuum:p7}:meta',
      '{continuum:p7}:staged',
      '{continuum:p7}:staged-id',
      '{continuum:p7}:promoted',
    ]);
    const slots = new Set(scriptKeys(keys).map(referenceSlot));
    expect([...slots]).toEqual([clusterSlot(keys.tag)]);
  });

  it('gives different partitions different tags', () => {
    expect(redisPartitionKeys('c', 1).tag).not.toBe(redisPartitionKeys('c', 11).tag);
    expect(redisPartitionKeys('a', 1).tag).not.toBe(redisPartitionKeys('b', 1).tag);
  });
});
