// Request-response on the real Kafka broker and Redis with two `statefun run` processes: a request
// taken by the process that does not own its target's partition gets its reply; an official
// StateFun SDK function answers through `context.caller`; with idempotency keys, retries across a
// SIGKILL of the process holding the requests and of the partition owner take effect once and all
// get the same reply; a timeout answers 202 and the reply is fetched from the results endpoint.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { jsonType, serve, statefulFunction, valueSpec, types, type ServerHandle } from '@continuum/sdk';
import { RuntimeFleet } from '@continuum/test-infra';
import { partitionForKey } from '../../src/core/address.js';
import { serveOfficial, sf, type LoopbackServer } from '../dev/support.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

const Add = jsonType('example/Add', z.object({ add: z.number().int() }));
const Total = jsonType('example/Total', z.object({ total: z.number().int() }));
const PARTITIONS = 4;

describe('request-response with two runtime processes (Kafka + Redis)', () => {
  const run = Date.now().toString(36);
  const dir = mkdtempSync(join(tmpdir(), 'continuum-rr-'));
  let fleet: RuntimeFleet;
  let service: ServerHandle;
  let official: LoopbackServer;
  const gates = new Map<string, () => void>();
  /** Request ids each counter address was invoked for (a retry must not bring a new one). */
  const requestIds = new Map<string, Set<string>>();

  beforeAll(async () => {
    const counter = statefulFunction({
      typename: 'example/counter',
      specs: { total: valueSpec(types.int) },
      handler(ctx, message) {
        const seen = requestIds.get(ctx.self.id) ?? new Set<string>();
        if (ctx.caller !== undefined) seen.add(ctx.caller.id);
        requestIds.set(ctx.self.id, seen);
        const total = (ctx.storage.total ?? 0) + message.as(Add).add;
        ctx.storage.total = total;
        ctx.reply({ total }, Total);
      },
    });
    const slow = statefulFunction({
      typename: 'example/slow',
      specs: {},
      async handler(ctx) {
        await new Promise<void>((resolve) => gates.set(ctx.self.id, resolve));
        ctx.reply('finally');
      },
    });
    service = await serve({ functions: [counter, slow], port: 0, logger: false });
    const statefun = new sf.StateFun();
    statefun.bind({
      typename: 'official/greeter',
      specs: [],
      fn(context, message) {
        const name = message.asString();
        // The official SDK answers whoever called: here, the waiting HTTP request.
        context.send(
          sf.messageBuilder({
            typename: context.caller!.typename,
            id: context.caller!.id,
            value: `hello ${name}`,
          }),
        );
      },
    });
    official = await serveOfficial(statefun);
    const moduleFile = join(dir, 'module.yaml');
    writeFileSync(
      moduleFile,
      [
        'kind: io.statefun.endpoints.v2/http',
        'spec:',
        '  functions: example/*',
        `  urlPathTemplate: http://127.0.0.1:${service.port}/{function.name}`,
        '---',
        'kind: io.statefun.endpoints.v2/http',
        'spec:',
        '  functions: official/*',
        `  urlPathTemplate: http://127.0.0.1:${official.port}/statefun`,
        '---',
        'kind: io.continuum.http.v1/ingress',
        'spec:',
        '  id: example/requests',
        '  port: 0',
        '  defaultTimeout: 60s',
      ].join('\n'),
    );
    fleet = new RuntimeFleet({
      moduleFile,
      brokers: inject('kafkaBrokers').split(','),
      redisUrl: inject('redisUrl'),
      partitions: PARTITIONS,
      processes: 2,
      names: { internal: `rr-internal-${run}`, dlq: `rr-dlq-${run}`, prefix: `rr${run}`, group: `rr-${run}` },
      env: { CONTINUUM_REPLIES_TOPIC: `rr-replies-${run}` },
      logDir: dir,
    });
    await waitUntil(() => bothReady(), {
      timeoutMs: 120_000,
      what: 'both processes to be ready and to own partitions',
      intervalMs: 200,
    });
  }, 180_000);

  afterAll(async () => {
    fleet?.stop();
    await service?.close();
    await official?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The request-response ingress of a slot's current process, read from its log. */
  function ingressUrl(slot: number): string | undefined {
    const file = join(dir, `proc-${slot}.log`);
    if (!existsSync(file)) return undefined;
    const all = [
      ...readFileSync(file, 'utf8').matchAll(/http ingress example\/requests listening on [^:"]+:(\d+)/gu),
    ];
    const last = all[all.length - 1];
    return last === undefined ? undefined : `http://127.0.0.1:${last[1]}`;
  }

  async function owned(slot: number): Promise<number[]> {
    const port = fleet.adminPorts.get(slot);
    if (port === undefined) return [];
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v1/partitions`);
      const body = (await res.json()) as { partitions: { partition: number }[] };
      return body.partitions.map((p) => p.partition);
    } catch {
      return [];
    }
  }

  async function bothReady(): Promise<boolean> {
    const [a, b] = await Promise.all([owned(0), owned(1)]);
    if (a.length === 0 || b.length === 0 || a.length + b.length !== PARTITIONS) return false;
    for (const slot of [0, 1]) {
      const port = fleet.adminPorts.get(slot);
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (!ready || ingressUrl(slot) === undefined) return false;
    }
    return true;
  }

  const invoke = (slot: number, path: string, body: string | Buffer, headers: Record<string, string> = {}) =>
    fetch(`${ingressUrl(slot)}${path}`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/vnd.example/Add', ...headers },
      signal: AbortSignal.timeout(70_000),
    });

  it('a request to the process that does not own its target gets the reply; an official SDK function answers through context.caller', async () => {
    for (const slot of [0, 1]) {
      const other = await owned(1 - slot);
      let id = 0;
      while (!other.includes(partitionForKey(`example/counter/far-${slot}-${id}`, PARTITIONS))) id++;
      const res = await invoke(slot, `/v1/invoke/example/counter/far-${slot}-${id}`, '{"add":4}');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/vnd.example/Total');
      expect(await res.json()).toEqual({ total: 4 });
    }
    const greeted = await invoke(
      0,
      '/v1/invoke/official/greeter/g1',
      Buffer.from(types.string.serialize('Ada')),
      {
        'content-type': 'application/vnd.io.statefun.types/string',
      },
    );
    expect(greeted.status).toBe(200);
    expect(greeted.headers.get('content-type')).toBe('application/vnd.io.statefun.types/string');
    expect(types.string.deserialize(new Uint8Array(await greeted.arrayBuffer()))).toBe('hello Ada');
  }, 120_000);

  it('a timeout answers 202 with the results URL, which serves the reply once it is committed', async () => {
    const res = await invoke(
      1,
      '/v1/invoke/example/slow/s1?timeout=300ms',
      Buffer.from(types.string.serialize('x')),
      {
        'content-type': 'application/vnd.io.statefun.types/string',
      },
    );
    expect(res.status).toBe(202);
    const location = res.headers.get('location')!;
    // Any process serves the results: the reply lives in Redis.
    expect((await fetch(`${ingressUrl(0)}${location}`)).status).toBe(202);
    await waitUntil(() => gates.has('s1'), { timeoutMs: 30_000, what: 'the slow function to be invoked' });
    gates.get('s1')!();
    let done: Response | undefined;
    await waitUntil(
      async () => {
        done = await fetch(`${ingressUrl(0)}${location}`);
        return done.status === 200;
      },
      { timeoutMs: 30_000, what: 'the late reply at the results URL', intervalMs: 100 },
    );
    expect(types.string.deserialize(new Uint8Array(await done!.arrayBuffer()))).toBe('finally');
  }, 120_000);

  it('idempotency keys across SIGKILLs of the process holding the requests and of a partition owner: every key takes effect once and every retry gets the same reply', async () => {
    const keys = Array.from({ length: 24 }, (_, i) => i);
    const first = new Map<number, { body: unknown; requestId: string }>();
    const call = async (i: number, slots: number[], deadline: number): Promise<void> => {
      for (let attempt = 0; Date.now() < deadline; attempt++) {
        const slot = slots[attempt % slots.length]!;
        if (ingressUrl(slot) === undefined || !fleet.running(slot)) continue;
        try {
          const res = await invoke(slot, `/v1/invoke/example/counter/once-${i}`, '{"add":1}', {
            'idempotency-key': `key-${run}-${i}`,
          });
          if (res.status === 200) {
            const got = { body: await res.json(), requestId: res.headers.get('continuum-request-id')! };
            if (!first.has(i)) first.set(i, got);
            else expect(got).toEqual(first.get(i));
            return;
          }
          await res.arrayBuffer();
        } catch {
          // The process died under the request: retry, as a client would.
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error(`key ${i} got no reply before the deadline`);
    };
    const deadline = Date.now() + 150_000;
    // Everything goes to process 0 first, which is killed while the requests are in flight.
    const phaseA = keys.map((i) => call(i, [0, 1], deadline));
    await waitUntil(() => first.size >= 2, { timeoutMs: 60_000, what: 'the first replies', intervalMs: 20 });
    fleet.kill(0);
    await Promise.all(phaseA);
    // Retries of every key while the owner of partition 0's... any owner: process 1 dies too.
    const phaseB = keys.map((i) => call(i, [1, 0], deadline));
    fleet.kill(1);
    await Promise.all(phaseB);
    await waitUntil(() => bothReady(), {
      timeoutMs: 120_000,
      what: 'both processes to be back',
      intervalMs: 200,
    });
    // Once more, at both processes: the same reply and request id every time.
    for (const i of keys) {
      await call(i, [0], deadline);
      await call(i, [1], deadline);
    }
    for (const i of keys) expect(first.get(i)!.body).toEqual({ total: 1 });
    // The state took each key's message once: adding 0 reads the total.
    for (const i of keys) {
      const res = await invoke(i % 2, `/v1/invoke/example/counter/once-${i}`, '{"add":0}');
      expect(await res.json()).toEqual({ total: 1 });
    }
    // Every retry reused its key's request: the first request id plus the one without a key.
    for (const i of keys) expect(requestIds.get(`once-${i}`)?.size).toBe(2);
    expect(fleet.problems).toEqual([]);
  }, 300_000);
});
