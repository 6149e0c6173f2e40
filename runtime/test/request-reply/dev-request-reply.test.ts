// Request-response in dev mode: an HTTP request gets the reply its function sends to its caller
// (`ctx.reply`), a timeout answers 202 with the results URL (the late reply is stored there), an
// idempotency key invokes once, a second reply is dead-lettered, and bad requests say what is wrong.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createClient,
  InvokeError,
  ReplyTimeoutError,
  jsonType,
  serve,
  statefulFunction,
  valueSpec,
  types,
  type ServerHandle,
} from '@continuum/sdk';
import { startDevRuntime, type DevRuntime } from '../../src/dev-runtime.js';
import { Header } from '../../src/core/envelope.js';
import { silentLogger } from '../../src/logger.js';
import { parseModule } from '../../src/module/index.js';
import { replyAddress } from '../../src/request-reply/reply-address.js';
import { endpointDoc, readTopic, serveOfficial, sf, type LoopbackServer } from '../dev/support.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

const Add = jsonType('example/Add', z.object({ add: z.number().int() }));
const Total = jsonType('example/Total', z.object({ total: z.number().int() }));

describe('request-response in dev mode', () => {
  let service: ServerHandle;
  let official: LoopbackServer;
  let dev: DevRuntime;
  let base: string;
  const invocations = new Map<string, number>();
  const gates = new Map<string, () => void>();

  beforeAll(async () => {
    const counter = statefulFunction({
      typename: 'example/counter',
      specs: { total: valueSpec(types.int) },
      handler(ctx, message) {
        invocations.set(ctx.self.id, (invocations.get(ctx.self.id) ?? 0) + 1);
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
        ctx.reply('late');
      },
    });
    const twice = statefulFunction({
      typename: 'example/twice',
      specs: {},
      handler(ctx) {
        ctx.reply('first');
        ctx.reply('second');
      },
    });
    service = await serve({ functions: [counter, slow, twice], port: 0, logger: false });
    const statefun = new sf.StateFun();
    statefun.bind({
      typename: 'official/greeter',
      specs: [],
      fn(context, message) {
        // The official SDK answers whoever called: here, the waiting HTTP request.
        context.send(
          sf.messageBuilder({
            typename: context.caller!.typename,
            id: context.caller!.id,
            value: `hello ${message.asString()}`,
          }),
        );
      },
    });
    official = await serveOfficial(statefun);
    const module = [
      endpointDoc('example/*', service.port),
      endpointDoc('official/*', official.port),
      [
        'kind: io.continuum.http.v1/ingress',
        'spec:',
        '  id: example/requests',
        '  port: 0',
        '  auth: {token: s3cret}',
        '  maxBodyBytes: 1024',
        '  defaultTimeout: 20s',
      ].join('\n'),
    ].join('\n---\n');
    dev = await startDevRuntime({
      module: parseModule(module, 'request-reply.yaml'),
      logger: silentLogger,
      partitions: 2,
      adminPort: 0,
    });
    const server = dev.servers.find((s) => s.name === 'http ingress example/requests')!;
    base = `http://127.0.0.1:${server.port}`;
  });

  afterAll(async () => {
    await dev?.stop();
    await service?.close();
    await official?.close();
  });

  const post = (
    path: string,
    body: string | Buffer,
    headers: Record<string, string> = {},
  ): Promise<Response> =>
    fetch(`${base}${path}`, {
      method: 'POST',
      body,
      headers: { authorization: 'Bearer s3cret', 'content-type': 'application/vnd.example/Add', ...headers },
    });

  const stringType = { 'content-type': 'application/vnd.io.statefun.types/string' };
  const stringBody = (text: string): Buffer => Buffer.from(types.string.serialize(text));

  it('refuses a body no function could read, as the playground ingress does (415 for raw text)', async () => {
    const res = await post('/v1/invoke/example/slow/raw', 'just text', { 'content-type': 'text/plain' });
    expect(res.status).toBe(415);
    const body = (await res.json()) as { code: string; error: string };
    expect(body.code).toBe('CONTENT_TYPE_UNSUPPORTED');
    expect(body.error).toContain('application/vnd.');
    expect(gates.has('raw')).toBe(false);
  });

  it('answers with the reply the function sends to its caller, typed by its typename', async () => {
    const res = await post('/v1/invoke/example/counter/a', '{"add":2}');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/vnd.example/Total');
    expect(res.headers.get('continuum-request-id')).toMatch(/^[0-9a-f-]{36}$/u);
    expect(await res.json()).toEqual({ total: 2 });
    const again = await post('/v1/invoke/example/counter/a', '{"add":3}');
    expect(await again.json()).toEqual({ total: 5 });
  });

  it('an official StateFun SDK function answers through context.caller', async () => {
    const res = await post(
      '/v1/invoke/official/greeter/g?timeout=10s',
      Buffer.from(types.string.serialize('Ada')),
      {
        'content-type': 'application/vnd.io.statefun.types/string',
      },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/vnd.io.statefun.types/string');
    expect(types.string.deserialize(new Uint8Array(await res.arrayBuffer()))).toBe('hello Ada');
  });

  it('invokes once per idempotency key: a retry gets the same reply', async () => {
    const headers = { 'idempotency-key': 'order-1' };
    const first = await post('/v1/invoke/example/counter/k', '{"add":7}', headers);
    const second = await post('/v1/invoke/example/counter/k', '{"add":7}', headers);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(await second.json()).toEqual({ total: 7 });
    expect(second.headers.get('continuum-request-id')).toBe(first.headers.get('continuum-request-id'));
    expect(invocations.get('k')).toBe(1);
    const reused = await post('/v1/invoke/example/counter/k', '{"add":8}', headers);
    expect(reused.status).toBe(422);
    expect(await reused.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    expect(invocations.get('k')).toBe(1);
  });

  it('answers 202 with the results URL after the timeout; the late reply is stored there', async () => {
    const res = await post('/v1/invoke/example/slow/s?timeout=200ms', stringBody('x'), stringType);
    expect(res.status).toBe(202);
    const location = res.headers.get('location')!;
    expect(location).toMatch(/^\/v1\/invoke\/results\//u);
    const pending = await fetch(`${base}${location}`, { headers: { authorization: 'Bearer s3cret' } });
    expect(pending.status).toBe(202);
    await waitUntil(() => gates.has('s'), { timeoutMs: 10_000, what: 'the slow function to be invoked' });
    gates.get('s')!();
    let done: Response | undefined;
    await waitUntil(
      async () => {
        done = await fetch(`${base}${location}`, { headers: { authorization: 'Bearer s3cret' } });
        return done.status === 200;
      },
      { timeoutMs: 10_000, what: 'the late reply to be stored' },
    );
    expect(done!.headers.get('content-type')).toBe('application/vnd.io.statefun.types/string');
    expect(types.string.deserialize(new Uint8Array(await done!.arrayBuffer()))).toBe('late');
    const unknown = await fetch(`${base}/v1/invoke/results/no-such-request`, {
      headers: { authorization: 'Bearer s3cret' },
    });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: 'REQUEST_UNKNOWN' });
  });

  it('keeps the first of two replies and dead-letters the second with REPLY_DUPLICATE', async () => {
    const res = await post('/v1/invoke/example/twice/t', stringBody('x'), stringType);
    expect(res.status).toBe(200);
    expect(types.string.deserialize(new Uint8Array(await res.arrayBuffer()))).toBe('first');
    let letters: Awaited<ReturnType<typeof readTopic>> = [];
    await waitUntil(
      async () => {
        letters = (await readTopic(dev.log, 'continuum-dead-letters')).filter(
          (r) => r.headers[Header.code] === 'REPLY_DUPLICATE',
        );
        return letters.length === 1;
      },
      { timeoutMs: 10_000, what: 'the second reply to be dead-lettered' },
    );
    expect(letters[0]!.headers[Header.reason]).toContain('already has a reply');
    expect(letters[0]!.headers[Header.caller]).toBe('example/twice/t');
  });

  it('hands a request to its task at once: answered within the hand-over window, it never enters the log', async () => {
    const tasks = dev.runtime.runningTasks();
    const handed = (): number => tasks.reduce((n, t) => n + t.stats.requestsHandedOver, 0);
    const before = handed();
    const res = await post('/v1/invoke/example/counter/handed', JSON.stringify({ add: 5 }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ total: 5 });
    expect(handed()).toBe(before + 1);
    expect(invocations.get('handed')).toBe(1);
    // The checkpoint with the reply made the invocation durable; no record carries the request.
    const records = await readTopic(dev.log, 'continuum-internal');
    expect(records.filter((r) => r.key === 'example/counter/handed')).toEqual([]);
    const again = await post('/v1/invoke/example/counter/handed', JSON.stringify({ add: 1 }));
    expect(await again.json()).toEqual({ total: 6 });
  });

  it('appends a handed-over request whose reply does not come within the window; the record is then a repeat', async () => {
    const tasks = dev.runtime.runningTasks();
    const dropped = (): number => tasks.reduce((n, t) => n + t.stats.requestsDeduplicated, 0);
    const before = dropped();
    const answer = post('/v1/invoke/example/slow/windowed', stringBody('x'), stringType);
    // The function holds the request past the window (1 s): its message is appended meanwhile.
    await waitUntil(
      async () =>
        (await readTopic(dev.log, 'continuum-internal')).some((r) => r.key === 'example/slow/windowed'),
      { timeoutMs: 10_000, what: 'the request to be appended after the window' },
    );
    gates.get('windowed')!();
    const res = await answer;
    expect(res.status).toBe(200);
    expect(types.string.deserialize(new Uint8Array(await res.arrayBuffer()))).toBe('late');
    await waitUntil(() => dropped() === before + 1, {
      timeoutMs: 10_000,
      what: 'the appended record to be dropped as a repeat',
    });
  });

  it('invokes a request appended twice (a retry after a crash) once: the address remembers its id', async () => {
    const message = {
      target: { namespace: 'example', type: 'counter', id: 'dup' },
      caller: replyAddress('retried-request'),
      argument: { typename: 'example/Add', hasValue: true, value: new TextEncoder().encode('{"add":1}') },
    };
    // Requests taken over HTTP earlier may have been dropped as repeats too: count from here.
    const deduplicated = (): number =>
      dev.runtime.runningTasks().reduce((n, t) => n + t.stats.requestsDeduplicated, 0);
    const before = deduplicated();
    await dev.runtime.send([message, message]);
    await dev.runtime.send([message]);
    await waitUntil(() => deduplicated() - before === 2, {
      timeoutMs: 10_000,
      what: 'both repeats to be dropped',
    });
    expect(invocations.get('dup')).toBe(1);
    // A new request id to the same address is invoked as usual.
    await dev.runtime.send([{ ...message, caller: replyAddress('another-request') }]);
    await waitUntil(() => invocations.get('dup') === 2, {
      timeoutMs: 10_000,
      what: 'the new request to be invoked',
    });
  });

  it('the SDK client returns the typed reply, a timeout error with the results location, and 4xx reasons', async () => {
    const client = createClient({ url: base, token: 's3cret' });
    const total = await client.invoke(
      'example/counter',
      'client',
      { value: { add: 5 }, valueType: Add },
      { replyType: Total, idempotencyKey: 'client-1', timeoutMs: 10_000 },
    );
    expect(total).toEqual({ total: 5 });
    const again = await client.invoke(
      { typename: 'example/counter' },
      'client',
      { value: { add: 5 }, valueType: Add },
      { replyType: Total, idempotencyKey: 'client-1' },
    );
    expect(again).toEqual({ total: 5 });
    const wrongType = await client
      .invoke('example/counter', 'client', { value: { add: 0 }, valueType: Add }, { replyType: Add })
      .catch((err: unknown) => err);
    expect(wrongType).toMatchObject({ code: 'TYPE_MISMATCH' });
    const timedOut = await client
      .invoke('example/slow', 'c-slow', 'x', { timeoutMs: 100 })
      .catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(ReplyTimeoutError);
    const { requestId, location } = timedOut as ReplyTimeoutError;
    expect(location).toBe(`${base}/v1/invoke/results/${requestId}`);
    expect(await client.result(requestId)).toBeUndefined();
    await waitUntil(() => gates.has('c-slow'), {
      timeoutMs: 10_000,
      what: 'the slow function to be invoked',
    });
    gates.get('c-slow')!();
    let late: string | undefined;
    await waitUntil(async () => (late = await client.result(requestId)) !== undefined, {
      timeoutMs: 10_000,
      what: 'the late reply',
    });
    expect(late).toBe('late');
    const refused = await createClient({ url: base, token: 'wrong' })
      .invoke('example/counter', 'client', { value: { add: 1 }, valueType: Add })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(InvokeError);
    expect(refused).toMatchObject({ status: 401, reason: 'UNAUTHORIZED', retryable: false });
  });

  it('the admin API lists waiting requests, and /metrics counts requests by outcome', async () => {
    const admin = `http://127.0.0.1:${dev.servers.find((s) => s.name === 'admin')!.port}`;
    const waiting = post('/v1/invoke/example/slow/listed?timeout=30s', stringBody('x'), {
      ...stringType,
      'idempotency-key': 'listed-1',
    });
    await waitUntil(() => gates.has('listed'), {
      timeoutMs: 10_000,
      what: 'the slow function to be invoked',
    });
    const listed = (await (await fetch(`${admin}/v1/requests/pending`)).json()) as {
      requests: { target: string; ingress: string; idempotencyKey?: string }[];
    };
    expect(listed.requests).toEqual([
      expect.objectContaining({
        target: 'example/slow/listed',
        ingress: 'example/requests',
        idempotencyKey: 'listed-1',
      }),
    ]);
    const during = await (await fetch(`${admin}/metrics`)).text();
    expect(during).toMatch(/^continuum_http_requests_pending 1$/mu);
    gates.get('listed')!();
    expect((await waiting).status).toBe(200);
    const after = await (await fetch(`${admin}/metrics`)).text();
    expect(after).toMatch(/^continuum_http_requests_pending 0$/mu);
    expect(after).toMatch(
      /^continuum_http_requests_total\{ingress="example\/requests",outcome="reply"\} [1-9]/mu,
    );
    expect(after).toMatch(
      /^continuum_http_request_duration_seconds_count\{ingress="example\/requests",outcome="reply"\} [1-9]/mu,
    );
    expect(after).toMatch(/^continuum_replies_total\{result="stored"\} [1-9]/mu);
  });

  it('refuses bad requests with a code and a reason, invoking nothing', async () => {
    const noToken = await fetch(`${base}/v1/invoke/example/counter/x`, { method: 'POST', body: '{"add":1}' });
    expect(noToken.status).toBe(401);
    const unknown = await post('/v1/invoke/example-missing/nobody/x', '{"add":1}');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: 'FUNCTION_UNKNOWN' });
    const badTimeout = await post('/v1/invoke/example/counter/x?timeout=soon', '{"add":1}');
    expect(badTimeout.status).toBe(400);
    expect(await badTimeout.json()).toMatchObject({ code: 'TIMEOUT_INVALID' });
    const badKey = await post('/v1/invoke/example/counter/x', '{"add":1}', {
      'idempotency-key': 'has space',
    });
    expect(badKey.status).toBe(400);
    const tooLarge = await post(
      '/v1/invoke/example/counter/x',
      JSON.stringify({ add: 1, pad: 'x'.repeat(2000) }),
    );
    expect(tooLarge.status).toBe(413);
    expect(invocations.get('x')).toBeUndefined();
  });
});
