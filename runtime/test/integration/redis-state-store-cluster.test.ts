// The Redis state store on a real three-node Redis Cluster: Cluster refuses a script whose keys
// span slots, so the contract passing here shows that every script stays on its partition's slot.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import { createRedisClient, freePort, startRedis, uniqueName, waitUntil } from '@continuum/test-infra';
import type { RedisHandle } from '@continuum/test-infra';
import { clusterSlot, redisPartitionKeys } from '../../src/state/redis-keys.js';
import { RedisStateStore } from '../../src/state/redis-state-store.js';
import { address, delta, describeStateStoreContract, timer, value } from '../state/state-store-contract.js';

const SLOT_RANGES = [
  [0, 5460],
  [5461, 10922],
  [10923, 16383],
] as const;

describe('the Redis store on a three-node Redis Cluster', () => {
  const nodes: RedisHandle[] = [];
  let cluster: Cluster;

  beforeAll(async () => {
    const busPorts: number[] = [];
    for (let i = 0; i < SLOT_RANGES.length; i++) {
      const busPort = await freePort();
      busPorts.push(busPort);
      nodes.push(
        await startRedis({
          mode: 'local',
          quiet: true,
          serverArgs: {
            'cluster-enabled': 'yes',
            'cluster-port': String(busPort),
            'cluster-node-timeout': '5000',
          },
        }),
      );
    }
    const admins = nodes.map((n) => createRedisClient(n.url));
    try {
      await Promise.all(
        admins.map((c, i) => c.call('CLUSTER', 'ADDSLOTSRANGE', ...SLOT_RANGES[i]!.map(String))),
      );
      for (let i = 1; i < nodes.length; i++)
        await admins[0]!.call('CLUSTER', 'MEET', '127.0.0.1', String(nodes[i]!.port), String(busPorts[i]));
      await waitUntil(
        async () => {
          const infos = (await Promise.all(admins.map((c) => c.call('CLUSTER', 'INFO')))) as string[];
          return infos.every((info) => /cluster_state:ok/.test(info) && /cluster_known_nodes:3\b/.test(info));
        },
        {
          timeoutMs: 60_000,
          what: 'the three nodes to form a cluster with every slot served',
          intervalMs: 100,
        },
      );
    } finally {
      for (const c of admins) c.disconnect();
    }
    cluster = new Cluster(
      nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
      { redisOptions: { maxRetriesPerRequest: 3 } },
    );
    await waitUntil(() => cluster.status === 'ready', {
      timeoutMs: 30_000,
      what: 'the Cluster client to connect',
      intervalMs: 100,
    });
  });

  afterAll(async () => {
    cluster?.disconnect();
    await Promise.allSettled(nodes.map((n) => n.stop()));
  });

  describeStateStoreContract(
    'the Redis store on a Cluster client',
    () => {
      const keyPrefix = uniqueName('cluster');
      return Promise.resolve({
        store: new RedisStateStore({ redis: cluster, keyPrefix, stageChunkBytes: 64 }),
        reopen: () => Promise.resolve(new RedisStateStore({ redis: cluster, keyPrefix })),
      });
    },
    { durable: true },
  );

  it('spreads partitions over the nodes and waits on the primary that serves each one', async () => {
    const keyPrefix = uniqueName('cluster-wait');
    const store = new RedisStateStore({
      redis: cluster,
      keyPrefix,
      waitReplicas: { count: 0, timeoutMs: 100 },
    });
    const owners = new Set<string>();
    for (let n = 0; n < 12; n++) {
      const tag = redisPartitionKeys(keyPrefix, n).tag;
      owners.add(cluster.slots[clusterSlot(tag)]![0]!);
      const p = store.partition(n);
      const epoch = await p.claim();
      await p.stage(
        epoch,
        1,
        delta({ addresses: [[`k${n}`, address({ s: value('t', [n]) })]], timersAdded: [timer(`t${n}`, n)] }),
      );
      await p.promote(epoch, 1);
      expect((await p.get([`k${n}`])).get(`k${n}`)).toEqual({ states: { s: value('t', [n]) } });
      expect(await p.timers()).toEqual([timer(`t${n}`, n)]);
    }
    expect(owners.size).toBeGreaterThan(1);
  });
});
