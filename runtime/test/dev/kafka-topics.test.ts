// A module with a Kafka ingress and a Kafka egress in dev mode: `statefun produce` writes to the
// ingress topic, the ingress routes the record to the function as from Kafka, the function's
// egress records are printed by `statefun consume` (also with --follow), the dashboard overview
// lists the topics with counts, and a restart moves nothing twice.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAdminServer } from '../../src/admin/admin-server.js';
import { consume } from '../../src/cli/topics.js';
import { cli } from './cli-runner.js';
import { startDevRuntime, type DevRuntime } from '../../src/dev-runtime.js';
import { silentLogger } from '../../src/logger.js';
import { parseModule } from '../../src/module/index.js';
import { endpointDoc, serveOfficial, sf, type LoopbackServer } from './support.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

const Order = sf.StateFun.jsonType<{ item: string }>('shop/Order');

function moduleText(port: number): string {
  return `${endpointDoc('shop/*', port)}
---
kind: io.statefun.kafka.v1/ingress
spec:
  id: shop/orders-in
  address: kafka:9092
  consumerGroupId: shop
  startupPosition: {type: earliest}
  topics:
    - topic: orders
      valueType: shop/Order
      targets: [shop/counter]
---
kind: io.statefun.kafka.v1/egress
spec:
  id: shop/out
  address: kafka:9092
  deliverySemantic: {type: at-least-once}
`;
}

interface Overview {
  topics?: {
    mode: string;
    list: { topic: string; roles: string[]; records: number; moved: number; deadLetters: number }[];
  };
}

describe('Kafka ingress and egress topics in statefun dev', () => {
  let fns: LoopbackServer;
  let dev: DevRuntime | undefined;
  let admin = '';
  const dataDir = mkdtempSync(join(tmpdir(), 'continuum-dev-kafka-'));
  const invocations: string[] = [];

  async function start(): Promise<void> {
    dev = await startDevRuntime({
      module: parseModule(moduleText(fns.port), 'shop-module.yaml'),
      dataDir,
      adminPort: 0,
      logger: silentLogger,
      task: { checkpointIntervalMs: 20 },
    });
    admin = `http://127.0.0.1:${dev.servers.find((s) => s.name === 'admin')!.port}`;
  }

  /** The lines `statefun consume` prints; none while the topic does not exist yet. */
  async function consumed(topic: string): Promise<string[]> {
    const r = await cli('consume', topic, '--admin', admin);
    if (r.code !== 0) {
      expect(r.err).toContain(`topic "${topic}" is neither`);
      return [];
    }
    return r.out.split('\n').filter((l) => l !== '');
  }

  beforeAll(async () => {
    const statefun = new sf.StateFun();
    statefun.bind({
      typename: 'shop/counter',
      specs: [{ name: 'count', type: sf.StateFun.intType() }],
      fn(context, message) {
        const order = message.as(Order)!;
        const count = ((context.storage.count as number | null) ?? 0) + 1;
        context.storage.count = count;
        invocations.push(`${context.self.id}:${order.item}`);
        context.send(
          sf.kafkaEgressMessage({
            typename: 'shop/out',
            topic: 'order-counts',
            key: context.self.id,
            value: JSON.stringify({ id: context.self.id, count, item: order.item }),
          }),
        );
      },
    });
    fns = await serveOfficial(statefun);
    await start();
  });

  afterAll(async () => {
    await dev?.stop();
    await fns?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('produce → the ingress routes to the function → consume prints the egress records', async () => {
    for (const [key, item] of [
      ['alice', 'book'],
      ['bob', 'pen'],
      ['alice', 'lamp'],
    ] as const) {
      const r = await cli(
        'produce',
        'orders',
        '--key',
        key,
        '--json',
        `{"item":"${item}"}`,
        '--admin',
        admin,
      );
      expect(r).toMatchObject({ code: 0, err: '' });
      expect(r.out).toContain(`to orders`);
    }
    await waitUntil(async () => (await consumed('order-counts')).length === 3, {
      timeoutMs: 20_000,
      what: 'three egress records',
    });
    // Records of different ids are in different internal partitions, so they commit in any order.
    const lines = await consumed('order-counts');
    expect(lines.map((l) => l.replace(/^0:\d+ {2}/, '')).sort()).toEqual([
      'key="alice"  value={"id":"alice","count":1,"item":"book"}',
      'key="alice"  value={"id":"alice","count":2,"item":"lamp"}',
      'key="bob"  value={"id":"bob","count":1,"item":"pen"}',
    ]);
    expect(lines.map((l) => l.slice(0, 4))).toEqual(['0:0 ', '0:1 ', '0:2 ']);
    // The ingress topic is readable too, values decoded, headers shown.
    const withHeader = await cli(
      'produce',
      'orders',
      '--key',
      'carol',
      '--string',
      '{"item":"cup"}',
      '--header',
      'origin=test',
      '--admin',
      admin,
    );
    expect(withHeader.code).toBe(0);
    expect((await consumed('orders')).at(-1)).toBe(
      '0:3  key="carol"  value={"item":"cup"}  headers={"origin":"test"}',
    );
    await waitUntil(() => invocations.includes('carol:cup'), {
      timeoutMs: 10_000,
      what: 'the fourth order to arrive',
    });
  });

  it('the overview lists the ingress and egress topics with their counts', async () => {
    await waitUntil(
      async () => {
        const o = (await (await fetch(`${admin}/v1/overview`)).json()) as Overview;
        return o.topics?.list.find((t) => t.topic === 'order-counts')?.records === 4;
      },
      { timeoutMs: 20_000, what: 'the egress topic to count 4 records' },
    );
    const o = (await (await fetch(`${admin}/v1/overview`)).json()) as Overview;
    expect(o.topics?.mode).toBe('embedded');
    expect(o.topics?.list).toEqual([
      { topic: 'order-counts', roles: ['egress'], partitions: 1, records: 4, moved: 0, deadLetters: 0 },
      { topic: 'orders', roles: ['shop/orders-in'], partitions: 1, records: 4, moved: 4, deadLetters: 0 },
    ]);
  });

  it('a record without a key is dead-lettered as the Kafka ingress does', async () => {
    const res = await fetch(`${admin}/v1/topics/orders/records`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ records: [{ key: null, value: '{"item":"ghost"}' }] }),
    });
    expect(res.status).toBe(200);
    await waitUntil(
      async () => {
        const body = (await (await fetch(`${admin}/v1/dead-letters`)).json()) as {
          byCode: Record<string, number>;
        };
        return body.byCode.INGRESS_KEY_MISSING === 1;
      },
      { timeoutMs: 10_000, what: 'the keyless record to be dead-lettered' },
    );
  });

  it('consume --follow prints records as they arrive until it is stopped', async () => {
    let out = '';
    const stop = new AbortController();
    const adminFetch = async (_v: unknown, path: string): Promise<unknown> =>
      (await fetch(new URL(path, admin))).json();
    const following = consume(['order-counts', '--follow'], (t) => void (out += t), adminFetch, stop.signal);
    try {
      await waitUntil(() => out.split('\n').length > 4, { timeoutMs: 10_000, what: 'the existing records' });
      expect(
        await cli('produce', 'orders', '--key', 'bob', '--json', '{"item":"ink"}', '--admin', admin),
      ).toMatchObject({
        code: 0,
      });
      await waitUntil(() => out.includes('value={"id":"bob","count":2,"item":"ink"}'), {
        timeoutMs: 20_000,
        what: 'the new record',
      });
    } finally {
      stop.abort();
    }
    expect(await following).toBe(0);
  });

  it('after a restart the ingress goes on where it was: nothing is moved twice', async () => {
    await dev!.stop();
    dev = undefined;
    const before = invocations.length;
    await start();
    expect(
      (await cli('produce', 'orders', '--key', 'alice', '--json', '{"item":"mug"}', '--admin', admin)).code,
    ).toBe(0);
    await waitUntil(async () => (await consumed('order-counts')).length === 6, {
      timeoutMs: 20_000,
      what: 'the sixth egress record',
    });
    expect((await consumed('order-counts')).at(-1)).toBe(
      '0:5  key="alice"  value={"id":"alice","count":3,"item":"mug"}',
    );
    expect(invocations.slice(before)).toEqual(['alice:mug']);
    // The ingress read on from its stored position: only the new record was moved (the partition
    // tasks would also drop a record moved twice, so the functions alone cannot show this).
    expect(dev!.topics.ingressStats()).toEqual([
      { id: 'shop/orders-in', stats: expect.objectContaining({ moved: 1, deadLetters: 0 }) as unknown },
    ]);
  });

  it('dev --help explains Kafka topics in dev mode and --kafka; produce and consume have their own help', async () => {
    const help = await cli('dev', '--help');
    expect(help.code).toBe(0);
    expect(help.out).toContain('--kafka BROKERS');
    expect(help.out).toContain('statefun produce <topic>');
    expect(help.out).toContain('statefun consume <topic> [--follow]');
    expect((await cli('produce', '--help')).out).toContain('--key KEY');
    expect((await cli('consume', '--help')).out).toContain('--follow');
    expect((await cli('--help')).out).toMatch(/produce +Write a record to a Kafka ingress topic/);
  });

  it('an admin server without dev topics (production) answers /v1/topics with 404 and what to use', async () => {
    const app = buildAdminServer({ runtime: dev!.runtime });
    try {
      const res = await app.inject({ method: 'GET', url: '/v1/topics' });
      expect(res.statusCode).toBe(404);
      expect(res.json<{ error: string }>().error).toContain('served by `statefun dev` only');
    } finally {
      await app.close();
    }
  });

  it('bad input: unknown topics, a missing key or value, a bad cursor or broker list say what is wrong', async () => {
    const unknown = await cli('produce', 'nope', '--key', 'a', '--string', 'x', '--admin', admin);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain(
      'topic "nope" is not read by any Kafka ingress of the module; ingress topics: orders',
    );
    const noKey = await cli('produce', 'orders', '--string', 'x', '--admin', admin);
    expect(noKey.code).toBe(2);
    expect(noKey.err).toContain('needs --key');
    const twoValues = await cli(
      'produce',
      'orders',
      '--key',
      'a',
      '--string',
      'x',
      '--json',
      '1',
      '--admin',
      admin,
    );
    expect(twoValues.code).toBe(2);
    expect(twoValues.err).toContain('not --string and --json');
    const badJson = await cli('produce', 'orders', '--key', 'a', '--json', '{', '--admin', admin);
    expect(badJson.code).toBe(2);
    const missing = await cli('consume', 'nowhere', '--admin', admin);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('known topics: order-counts, orders');
    const badCursor = await cli('consume', 'orders', '--from', 'x', '--admin', admin);
    expect(badCursor.code).toBe(1);
    expect(badCursor.err).toContain('not a list of partition:offset pairs');
    expect((await cli('dev', '--kafka', 'not a broker', '-m', 'x.yaml')).err).toContain(
      '--kafka needs comma-separated host:port',
    );
  });
});
