// The state store's Redis client gives up on a command Redis does not answer in time, so that a
// partition task fails and recovers instead of waiting for good (a command in flight across a Redis
// restart may otherwise never settle). Redis is made to hold every command with CLIENT PAUSE.
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { stateRedis } from '../../src/prod-runtime.js';
import { DEFAULTS } from '../../src/defaults.js';
import { RedisStateStore } from '../../src/state/redis-state-store.js';

const url = inject('redisUrl');
const admin = new Redis(url);
const clients: Redis[] = [];
afterAll(async () => {
  await admin.call('CLIENT', 'UNPAUSE').catch(() => undefined);
  admin.disconnect();
  for (const c of clients) c.disconnect();
});

describe('state store Redis client', () => {
  it('fails a state load Redis holds past the command timeout, and works again after', async () => {
    const redis = stateRedis(url, undefined, 300);
    clients.push(redis);
    const store = new RedisStateStore({ redis, keyPrefix: `rct-${process.pid}` });
    await store.partition(0).get(['ns/fn/a']);
    await admin.call('CLIENT', 'PAUSE', '1000', 'ALL');
    const started = Date.now();
    await expect(store.partition(0).get(['ns/fn/a'])).rejects.toThrow(/timed out/i);
    expect(Date.now() - started).toBeLessThan(900);
    await admin.call('CLIENT', 'UNPAUSE');
    expect((await store.partition(0).get(['ns/fn/a'])).size).toBe(0);
  });

  it('has a command timeout by default', () => {
    const redis = stateRedis(url, undefined);
    clients.push(redis);
    expect(redis.options.commandTimeout).toBe(DEFAULTS.run.redisCommandTimeoutMs);
  });
});
