// The cluster view on the real Kafka broker and Redis: every runtime process reports itself and
// its partitions to Redis, so the admin API of any one of them shows all processes, which
// partitions each owns and which have no owner; a process that leaves or dies drops out.
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createRedisClient, uniqueName, waitUntil } from '@continuum/test-infra';
import { RedisMembership, type MemberReport, type ClusterView } from '../../src/cluster/membership.js';
import type { ProdRuntime } from '../../src/prod-runtime.js';
import { clusterSlot } from '../../src/state/redis-keys.js';
import { adminCall, serveOpsFunctions, type OpsFunctions } from '../metrics/ops-fixture.js';
import { adminUrl, prodNames, startOpsRuntime } from './prod-fixture.js';

const report = (instance: string, partitions: number[]): MemberReport => ({
  instance,
  startedAt: new Date().toISOString(),
  reportedAt: new Date().toISOString(),
  ready: true,
  partitions: partitions.map((partition) => ({ partition, status: 'running', lag: 0, watermark: undefined })),
});

describe('membership in Redis', () => {
  const redis = createRedisClient(inject('redisUrl'));
  afterAll(() => redis.disconnect());

  it('lists the members that report, drops one that leaves and one that stops reporting', async () => {
    const keyPrefix = uniqueName('members');
    const member = (instance: string, partitions: number[], ttlMs = 10_000): RedisMembership =>
      new RedisMembership({
        redis,
        keyPrefix,
        instance,
        report: () => Promise.resolve(report(instance, partitions)),
        intervalMs: ttlMs,
        ttlMs,
      });
    const a = member('a', [0, 1]);
    const b = member('b', [2]);
    const c = member('c', [3], 300);
    await Promise.all([a.publish(), b.publish(), c.publish()]);
    const names = async (): Promise<string[]> => (await a.members()).map((m) => m.instance).sort();
    expect(await names()).toEqual(['a', 'b', 'c']);
    expect((await a.members()).find((m) => m.instance === 'a')!.partitions.map((p) => p.partition)).toEqual([
      0, 1,
    ]);

    await b.close();
    expect(await names()).toEqual(['a', 'c']);
    // c never publishes again: it is gone once its report expires.
    await waitUntil(async () => (await names()).join() === 'a', {
      timeoutMs: 5_000,
      what: 'c to expire',
      intervalMs: 100,
    });

    // Every membership key sits in one Redis Cluster slot.
    const keys = await redis.keys(`${keyPrefix}:*`);
    expect(keys.length).toBeGreaterThan(1);
    expect(new Set(keys.map((k) => clusterSlot(k))).size).toBe(1);
    await a.close();
    expect(await redis.keys(`${keyPrefix}:*`)).toEqual([]);
  });
});

describe('the cluster view of production runtimes', () => {
  const PARTITIONS = 4;
  let fns: OpsFunctions | undefined;
  const running: ProdRuntime[] = [];
  afterAll(async () => {
    for (const p of running) await p.stop().catch(() => undefined);
    await fns?.close();
  });

  it('shows every process with its partitions from any of them, and drops a process that leaves', async () => {
    fns = await serveOpsFunctions();
    const names = prodNames('cv');
    const start = (instance: string): Promise<ProdRuntime> =>
      startOpsRuntime(fns!, names, {
        partitions: PARTITIONS,
        waitForAll: false,
        adminPort: 0,
        sessionTimeoutMs: 6_000,
        instance,
        membershipIntervalMs: 200,
      });
    const first = await start('runtime-a');
    running.push(first);
    const second = await start('runtime-b');
    running.push(second);
    const view = async (p: ProdRuntime): Promise<ClusterView> =>
      JSON.parse((await adminCall(adminUrl(p), '/v1/cluster')).text) as ClusterView;
    const owned = (v: ClusterView, instance: string): number[] =>
      v.members.find((m) => m.instance === instance)?.partitions.map((p) => p.partition) ?? [];

    await waitUntil(
      async () => {
        const v = await view(second);
        return (
          v.members.length === 2 &&
          v.members.every((m) => m.ready) &&
          v.unowned.length === 0 &&
          v.contested.length === 0 &&
          owned(v, 'runtime-a').length > 0 &&
          owned(v, 'runtime-b').length > 0
        );
      },
      { timeoutMs: 60_000, what: 'both processes to own partitions in the cluster view', intervalMs: 100 },
    );
    const both = await view(first);
    expect(both.totalPartitions).toBe(PARTITIONS);
    expect(both.members.map((m) => m.instance)).toEqual(['runtime-a', 'runtime-b']);
    expect([...owned(both, 'runtime-a'), ...owned(both, 'runtime-b')].sort()).toEqual([0, 1, 2, 3]);
    // The dashboard reads the same view through the overview.
    const overview = JSON.parse((await adminCall(adminUrl(first), '/v1/overview')).text) as {
      cluster: ClusterView;
    };
    expect(overview.cluster.members.map((m) => m.instance)).toEqual(['runtime-a', 'runtime-b']);

    await second.stop();
    running.splice(running.indexOf(second), 1);
    await waitUntil(
      async () => {
        const v = await view(first);
        return (
          v.members.length === 1 && owned(v, 'runtime-a').length === PARTITIONS && v.unowned.length === 0
        );
      },
      {
        timeoutMs: 60_000,
        what: 'the remaining process to own every partition in the cluster view',
        intervalMs: 100,
      },
    );
  });
});
