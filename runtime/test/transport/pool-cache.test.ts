import { afterEach, describe, expect, it } from 'vitest';
import { parseEndpointUrl } from '../../src/transport/endpoint-url.js';
import { PoolCache } from '../../src/transport/pool-cache.js';
import { endpoint } from './fixtures.js';

const caches: PoolCache[] = [];

afterEach(async () => {
  for (const cache of caches.splice(0)) await cache.destroyAll();
});

function cache(maxPools: number): PoolCache {
  const c = new PoolCache(maxPools);
  caches.push(c);
  return c;
}

const transport = endpoint().transport;
const a = parseEndpointUrl('http://127.0.0.1:1/a');
const b = parseEndpointUrl('http://127.0.0.2:1/b');
const c = parseEndpointUrl('http://127.0.0.3:1/c');

describe('PoolCache', () => {
  it('gives one origin under one transport the same pool, and another transport a pool of its own', async () => {
    const pools = cache(8);
    const first = await pools.get(a, transport);
    expect(await pools.get(a, transport)).toBe(first);
    expect(await pools.get(parseEndpointUrl('http://127.0.0.1:1/other-path'), transport)).toBe(first);
    const sized = await pools.get(a, { ...transport, poolSize: 2 });
    expect(sized).not.toBe(first);
    expect(await pools.get(a, transport)).toBe(first);
    expect(pools.size).toBe(2);
  });

  it('closes the least recently used pool past maxPools, counting repeated use of the newest', async () => {
    const pools = cache(2);
    const poolA = await pools.get(a, transport);
    const poolB = await pools.get(b, transport);
    await pools.get(a, transport);
    await pools.get(a, transport);
    await pools.get(c, transport); // b is the least recently used
    expect(pools.size).toBe(2);
    expect(await pools.get(a, transport)).toBe(poolA);
    expect(await pools.get(b, transport)).not.toBe(poolB);
    // Taking b back evicted c (a was used after it); a is still cached.
    expect(await pools.get(a, transport)).toBe(poolA);
  });
});
