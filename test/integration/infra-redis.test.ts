// The Redis of the integration project is a real server: Lua scripts run, and a dedicated
// instance with an fsync-always AOF keeps its data across a restart and a SIGKILL.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createRedisClient, startRedis, uniqueName } from '@continuum/test-infra';
import type { RedisHandle } from '@continuum/test-infra';

// Compare-and-set with a fencing epoch, the shape the state store's scripts take.
const CAS_SCRIPT = `
local epoch = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) < epoch then return redis.error_reply('FENCED epoch ' .. epoch) end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return redis.call('HLEN', KEYS[2])
`;

type CasRedis = Redis & {
  cas(epochKey: string, hashKey: string, epoch: number, field: string, value: string): Promise<number>;
};

function withCas(client: Redis): CasRedis {
  client.defineCommand('cas', { numberOfKeys: 2, lua: CAS_SCRIPT });
  return client as CasRedis;
}

describe('the shared Redis', () => {
  it('runs a Lua script that fences writers with a stale epoch', async () => {
    const client = withCas(createRedisClient(inject('redisUrl')));
    try {
      const tag = uniqueName('{infra-lua}');
      expect(await client.cas(`${tag}:epoch`, `${tag}:state`, 1, 'a', 'x')).toBe(1);
      expect(await client.cas(`${tag}:epoch`, `${tag}:state`, 2, 'b', 'y')).toBe(2);
      await expect(client.cas(`${tag}:epoch`, `${tag}:state`, 1, 'c', 'z')).rejects.toThrow(/FENCED epoch 2/);
      expect(await client.hgetall(`${tag}:state`)).toEqual({ a: 'x', b: 'y' });
      expect(await client.eval('return redis.call("GET", KEYS[1])', 1, `${tag}:epoch`)).toBe('2');
    } finally {
      client.disconnect();
    }
  });
});

describe('a dedicated Redis', () => {
  let redis: RedisHandle;
  let client: Redis;

  beforeAll(async () => {
    redis = await startRedis();
    client = createRedisClient(redis.url);
  });

  afterAll(async () => {
    client.disconnect();
    await redis.stop();
  });

  it('reports how long it took to start', () => {
    expect(redis.startupMs).toBeGreaterThan(0);
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
  });

  it('brings its data back from the AOF after restart()', async () => {
    await client.set('restart-key', 'before-restart');
    await client.hset('restart-hash', { f1: '1', f2: '2' });
    await redis.restart();
    expect(await client.get('restart-key')).toBe('before-restart');
    expect(await client.hgetall('restart-hash')).toEqual({ f1: '1', f2: '2' });
  });

  it('keeps every acknowledged write across a SIGKILL, because the AOF is fsynced on every write', async () => {
    const written = 200;
    for (let i = 0; i < written; i++) await client.rpush('kill-list', String(i));
    await redis.kill();
    await redis.restart();
    expect(await client.llen('kill-list')).toBe(written);
    expect(await client.lindex('kill-list', -1)).toBe(String(written - 1));
  });
});
