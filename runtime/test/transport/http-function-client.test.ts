import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { getEventListeners, setMaxListeners } from 'node:events';
import type { ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { decodeToFunction, encodeFromFunction, encodeToFunction } from '@continuum/sdk/protocol';
import type { FromFunction } from '@continuum/sdk/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { FunctionCallError } from '../../src/transport/function-client.js';
import { HttpFunctionClient } from '../../src/transport/http-function-client.js';
import type { HttpFunctionClientOptions } from '../../src/transport/http-function-client.js';
import type { AttemptEvent, CallEvent } from '../../src/observers.js';
import type { BulkheadLoad } from '../../src/transport/bulkheads.js';
import { call, ok, replyBytes, request, startServer } from './fixtures.js';
import type { Handler, ServerOptions, TestServer } from './fixtures.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(handler: Handler, options?: ServerOptions): Promise<TestServer> {
  const s = await startServer(handler, options);
  cleanups.push(() => s.close());
  return s;
}

function client(options: HttpFunctionClientOptions = {}): HttpFunctionClient {
  const c = new HttpFunctionClient(options);
  cleanups.push(() => c.close());
  return c;
}

/** Compares by wire bytes: decoded byte fields may be Buffers or plain Uint8Arrays. */
function expectReply(result: FromFunction): void {
  expect(Buffer.from(encodeFromFunction(result)).toString('hex')).toBe(replyBytes.toString('hex'));
  expect(result.invocationResult?.outgoingMessages[0]?.target.type).toBe('printer');
}

/** Counts responses whose headers undici has received (its diagnostics channel), for this test. */
function headersSeen(): () => number {
  let n = 0;
  const onHeaders = (): void => void n++;
  subscribe('undici:request:headers', onHeaders);
  cleanups.push(() => void unsubscribe('undici:request:headers', onHeaders));
  return () => n;
}

/** Answers 200 with a Content-Length of 1,000 bytes, sends 10 and then nothing more. */
function stallBody(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 1000 });
  res.write(Buffer.alloc(10, 1));
}

async function failure(promise: Promise<unknown>): Promise<FunctionCallError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(FunctionCallError);
    return err as FunctionCallError;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

describe('HttpFunctionClient', () => {
  it('POSTs the encoded ToFunction with the StateFun headers and returns the decoded FromFunction', async () => {
    const s = await server((_req, res) => ok(res));
    const result = await client().invoke(call(`${s.base}/greeter?x=1`));

    expectReply(result);
    expect(s.received).toHaveLength(1);
    const got = s.received[0]!;
    expect(got.method).toBe('POST');
    expect(got.url).toBe('/greeter?x=1');
    expect(got.headers['content-type']).toBe('application/octet-stream');
    expect(got.headers.accept).toBe('application/octet-stream');
    expect(got.headers['user-agent']).toBe('statefun');
    expect(got.headers['accept-encoding']).toMatch(/gzip/);
    expect(Number(got.headers['content-length'])).toBe(got.body.byteLength);
    expect(got.body.byteLength).toBeGreaterThan(0);
    expect(got.body.toString('hex')).toBe(Buffer.from(encodeToFunction(request())).toString('hex'));
    const sent = decodeToFunction(got.body);
    expect(sent.invocation?.target).toEqual(request().invocation?.target);
    expect(Buffer.from(sent.invocation!.invocations[0]!.argument.value).toString()).toBe('hello');
  });

  it('retries a 500 twice and succeeds on the third attempt', async () => {
    const s = await server((_req, res, i) => {
      if (i < 2) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('boom');
      } else ok(res);
    });
    const attempts: AttemptEvent[] = [];
    const calls: CallEvent[] = [];
    const c = client({ onAttempt: (e) => attempts.push(e), onCall: (e) => calls.push(e) });

    const result = await c.invoke(call(`${s.base}/greeter`));

    expectReply(result);
    expect(s.received).toHaveLength(3);
    expect(attempts.map((a) => [a.attempt, a.status, a.willRetry])).toEqual([
      [1, 500, true],
      [2, 500, true],
      [3, 200, false],
    ]);
    expect(attempts[0]!.failure?.message).toContain('HTTP 500 "boom"');
    expect(attempts[0]!.backoffMs).toBe(2);
    expect(attempts[1]!.backoffMs).toBe(4);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.attempts).toBe(3);
    expect(calls[0]!.error).toBeUndefined();
  });

  it('gives up on an endpoint that always answers 500 once the call budget is spent', async () => {
    const s = await server((_req, res) => {
      res.writeHead(500);
      res.end('still broken');
    });
    const started = performance.now();
    const err = await failure(client().invoke(call(`${s.base}/greeter`, { callTimeoutMs: 300 })));
    const elapsed = performance.now() - started;

    expect(err.code).toBe('FUNCTION_CALL_FAILED');
    expect(err.retryable).toBe(false);
    expect(err.attempts).toBeGreaterThan(3);
    // The budget may cut the last attempt off before the server has read it.
    expect(s.received.length).toBeGreaterThanOrEqual(err.attempts - 1);
    expect(s.received.length).toBeLessThanOrEqual(err.attempts);
    expect(err.message).toContain('com.example/greeter/alice');
    expect(err.message).toContain(`${s.base}/greeter`);
    expect(err.message).toContain(`after ${err.attempts} attempts`);
    expect(err.message).toContain('HTTP 500 "still broken"');
    expect(elapsed).toBeGreaterThanOrEqual(295);
    expect(elapsed).toBeLessThan(800);
  });

  it('fails a call to a server that never answers close to the budget, not later', async () => {
    const s = await server(() => {
      // Never respond: the request hangs until the client gives up.
    });
    const started = performance.now();
    const err = await failure(client().invoke(call(`${s.base}/greeter`, { callTimeoutMs: 250 })));
    const elapsed = performance.now() - started;

    expect(err.code).toBe('FUNCTION_CALL_FAILED');
    expect(err.attempts).toBe(1);
    expect(err.lastFailure?.kind).toBe('timeout');
    expect(err.message).toContain('call budget of 250 ms');
    expect(elapsed).toBeGreaterThanOrEqual(245);
    expect(elapsed).toBeLessThan(450);
  });

  it('retries a 200 whose body is not a FromFunction and then fails saying so', async () => {
    const s = await server((_req, res) => ok(res, Buffer.from('<html>not a protobuf</html>')));
    const err = await failure(client().invoke(call(`${s.base}/greeter`, { callTimeoutMs: 200 })));

    expect(err.code).toBe('FUNCTION_CALL_FAILED');
    expect(err.attempts).toBeGreaterThan(1);
    expect(err.message).toMatch(/HTTP 200 with a 27-byte body that is not a protobuf FromFunction/);
    expect(err.message).toContain('3c 68 74 6d');
  });

  it('okhttp transport fails a 404 at once without retrying', async () => {
    const s = await server((_req, res) => {
      res.writeHead(404);
      res.end('no such function');
    });
    const err = await failure(
      client().invoke(call(`${s.base}/nope`, { type: 'okhttp', callTimeoutMs: 2_000 })),
    );

    expect(err.code).toBe('FUNCTION_NOT_FOUND');
    expect(err.retryable).toBe(false);
    expect(err.attempts).toBe(1);
    expect(s.received).toHaveLength(1);
    expect(err.message).toContain('HTTP 404 "no such function"');
    expect(err.elapsedMs).toBeLessThan(1_000);
  });

  it('okhttp transport retries 429 and 503; the async transport retries 408, 429 and 5xx but not a 404', async () => {
    const statuses = [429, 503];
    const s = await server((_req, res, i) => {
      const status = statuses[i];
      if (status !== undefined) {
        res.writeHead(status);
        res.end();
      } else ok(res);
    });
    const events: AttemptEvent[] = [];
    await client({ onAttempt: (e) => events.push(e) }).invoke(call(`${s.base}/x`, { type: 'okhttp' }));
    expect(events.map((e) => e.status)).toEqual([429, 503, 200]);
    expect(events.map((e) => e.backoffMs)).toEqual([10, 20, 0]);

    const asyncStatuses = [408, 429, 500, 503];
    const a = await server((_req, res, i) => {
      const status = asyncStatuses[i];
      if (status !== undefined) {
        res.writeHead(status);
        res.end();
      } else ok(res);
    });
    expectReply(await client().invoke(call(`${a.base}/x`, { type: 'async' })));
    expect(a.received).toHaveLength(5);

    const t = await server((_req, res, i) => {
      if (i === 0) {
        res.writeHead(404);
        res.end('unknown function type');
      } else ok(res);
    });
    const err = await failure(client().invoke(call(`${t.base}/x`, { type: 'async', callTimeoutMs: 5_000 })));
    expect(t.received).toHaveLength(1);
    expect(err.code).toBe('FUNCTION_NOT_FOUND');
    expect(err.retryable).toBe(false);
    expect(err.perMessage).toBe(false);
    expect(err.message).toContain('does not serve function type');
    expect(err.message).not.toContain('raise transport.call');
  });

  it('ends a 422 (a message the function rejects for good) at once, as a failure one message may cause', async () => {
    const s = await server((_req, res) => {
      res.writeHead(422, { 'content-type': 'text/plain' });
      res.end('function com.example/greeter rejected the message: no such product');
    });
    const err = await failure(client().invoke(call(`${s.base}/x`, { type: 'async', callTimeoutMs: 5_000 })));
    expect(s.received).toHaveLength(1);
    expect(err.code).toBe('FUNCTION_MESSAGE_REJECTED');
    expect(err.perMessage).toBe(true);
    expect(err.message).toContain('no such product');
    expect(err.message).not.toContain('raise transport.call');
  });

  it('gives every endpoint URL its own bulkhead: a hanging endpoint does not delay calls to another', async () => {
    const hang = await server(() => undefined);
    const fine = await server((_req, res) => ok(res));
    const queued: BulkheadLoad[] = [];
    const c = client({ maxInFlight: 4, maxQueued: 8, onQueued: (l) => queued.push(l) });
    const controller = new AbortController();
    // One signal for all twelve hanging calls: more listeners than Node's default warning limit.
    setMaxListeners(20, controller.signal);
    const hanging = Array.from({ length: 12 }, () =>
      c.invoke({ ...call(`${hang.base}/bad`, { callTimeoutMs: 60_000 }), signal: controller.signal }),
    );
    for (const p of hanging) p.catch(() => undefined);
    // The bulkhead of the hanging endpoint is full (4 running, 8 waiting) and refuses the next.
    const refused = await failure(c.invoke(call(`${hang.base}/bad`, { callTimeoutMs: 60_000 })));
    expect(refused.code).toBe('FUNCTION_CLIENT_OVERLOADED');
    expect(refused.retryable).toBe(true);
    expect(queued.length).toBeGreaterThan(0);
    expect(queued.at(-1)).toMatchObject({ url: `${hang.base}/bad`, inFlight: 4, maxInFlight: 4 });

    for (let i = 0; i < 10; i++) expectReply(await c.invoke(call(`${fine.base}/good`)));
    expect(c.endpointLoad()).toEqual([
      expect.objectContaining({ url: `${hang.base}/bad`, inFlight: 4, queued: 8, maxInFlight: 4 }),
    ]);
    expect(c.load).toEqual({ inFlight: 4, queued: 8 });
    controller.abort();
    await Promise.allSettled(hanging);
    expect(c.load).toEqual({ inFlight: 0, queued: 0 });
  });

  it("takes an endpoint's maxConcurrentCalls from module.yaml over the client default", async () => {
    const hang = await server(() => undefined);
    const c = client({ maxInFlight: 50, maxQueued: 0 });
    const controller = new AbortController();
    const base = call(`${hang.base}/bad`, { callTimeoutMs: 60_000 });
    const endpoint = { ...base.endpoint, maxConcurrentCalls: 2 };
    const running = [0, 1].map(() => c.invoke({ ...base, endpoint, signal: controller.signal }));
    for (const p of running) p.catch(() => undefined);
    const refused = await failure(c.invoke({ ...base, endpoint }));
    expect(refused.code).toBe('FUNCTION_CLIENT_OVERLOADED');
    controller.abort();
    await Promise.allSettled(running);
  });

  it('okhttp transport fails an undecodable 200 at once', async () => {
    const s = await server((_req, res) => ok(res, Buffer.from([0xff, 0xff, 0xff])));
    const err = await failure(client().invoke(call(`${s.base}/x`, { type: 'okhttp' })));
    expect(err.code).toBe('FUNCTION_RESPONSE_INVALID');
    expect(err.attempts).toBe(1);
  });

  it('okhttp read timeout abandons a silent attempt and retries within the call budget', async () => {
    const s = await server((_req, res, i) => {
      if (i > 0) ok(res);
      // The first request gets no answer at all.
    });
    const events: AttemptEvent[] = [];
    const result = await client({ onAttempt: (e) => events.push(e) }).invoke(
      call(`${s.base}/greeter`, { type: 'okhttp', readTimeoutMs: 100, callTimeoutMs: 2_000 }),
    );
    expectReply(result);
    expect(events.map((e) => e.failure?.kind)).toEqual(['timeout', undefined]);
    expect(events[0]!.failure?.message).toContain('read timeout of 100 ms');
    expect(events[0]!.durationMs).toBeLessThan(1_000);
  });

  it('accepts a 200 without Content-Type, as the Go SDK sends it', async () => {
    const s = await server((_req, res) => {
      res.statusCode = 200;
      res.end(replyBytes);
    });
    const result = await client().invoke(call(`${s.base}/greeter`, { type: 'okhttp' }));
    expectReply(result);
  });

  it('treats an empty 2xx body as an empty InvocationResponse', async () => {
    const s = await server((_req, res) => {
      res.writeHead(200, { 'content-length': 0 });
      res.end();
    });
    const result = await client().invoke(call(`${s.base}/greeter`));
    expect(result).toEqual({
      invocationResult: {
        stateMutations: [],
        outgoingMessages: [],
        delayedInvocations: [],
        outgoingEgresses: [],
      },
    });
  });

  it('decompresses gzip and deflate responses (zlib-wrapped and raw)', async () => {
    const bodies = [
      { encoding: 'gzip', body: gzipSync(replyBytes) },
      { encoding: 'deflate', body: deflateSync(replyBytes) },
      { encoding: 'deflate', body: deflateRawSync(replyBytes) },
    ];
    const s = await server((_req, res, i) => {
      const b = bodies[i]!;
      ok(res, b.body, { 'content-encoding': b.encoding });
    });
    const c = client();
    for (let i = 0; i < bodies.length; i++) {
      expectReply(await c.invoke(call(`${s.base}/greeter`)));
    }
    expect(s.received).toHaveLength(3);
  });

  it('rejects a response larger than payloadMaxBytes, raw or after decompression', async () => {
    const big = Buffer.alloc(4096, 1);
    const bomb = gzipSync(Buffer.alloc(1024 * 1024));
    expect(bomb.byteLength).toBeLessThan(2048);
    const s = await server((req, res) => {
      if (req.url === '/bomb') ok(res, bomb, { 'content-encoding': 'gzip' });
      else if (req.url === '/chunked') {
        // No Content-Length: the limit must hold while streaming.
        res.writeHead(200);
        res.write(big);
        res.end(big);
      } else ok(res, big);
    });
    const c = client();
    const limits = { type: 'okhttp', payloadMaxBytes: 2048 } as const;

    const declared = await failure(c.invoke(call(`${s.base}/big`, limits)));
    expect(declared.code).toBe('FUNCTION_RESPONSE_TOO_LARGE');
    expect(declared.message).toContain('payload_max_bytes (2048 bytes)');

    const streamed = await failure(c.invoke(call(`${s.base}/chunked`, limits)));
    expect(streamed.code).toBe('FUNCTION_RESPONSE_TOO_LARGE');

    const inflated = await failure(c.invoke(call(`${s.base}/bomb`, limits)));
    expect(inflated.code).toBe('FUNCTION_RESPONSE_TOO_LARGE');
    expect(inflated.message).toContain('gzip-decoded');

    // The async transport retries it like any other failure until the budget is spent.
    const retried = await failure(
      c.invoke(call(`${s.base}/big`, { payloadMaxBytes: 2048, callTimeoutMs: 150 })),
    );
    expect(retried.code).toBe('FUNCTION_CALL_FAILED');
    expect(retried.attempts).toBeGreaterThan(1);
    expect(retried.message).toContain('exceeds payload_max_bytes');
  });

  it('keeps the first 256 bytes of an error body; a short one is read to its end and its connection reused, a long one is dropped', async () => {
    const s = await server((_req, res, i) => {
      if (i === 0) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`${'x'.repeat(300)}TAIL`);
      } else if (i === 2) {
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end(Buffer.alloc(100 * 1024, 'y'));
      } else ok(res);
    });
    const events: AttemptEvent[] = [];
    const c = client({ onAttempt: (e) => events.push(e) });

    expectReply(await c.invoke(call(`${s.base}/greeter`)));
    expect(events.map((e) => e.status)).toEqual([500, 200]);
    expect(events[0]!.failure?.message).toBe(`HTTP 500 "${'x'.repeat(256)}"`);
    expect(s.connections()).toBe(1);

    expectReply(await c.invoke(call(`${s.base}/greeter`)));
    expect(events.map((e) => e.status)).toEqual([500, 200, 503, 200]);
    expect(events[2]!.failure?.message).toBe(`HTTP 503 "${'y'.repeat(256)}"`);
    // The long error body arrived on the kept-alive connection, which was then dropped.
    expect(s.received.map((r) => r.connection).slice(0, 3)).toEqual([0, 0, 0]);
    expect(s.received[3]!.connection).toBeGreaterThan(0);
  });

  it("the caller's abort ends a call whose response body is still arriving, and drops its connection", async () => {
    const s = await server((_req, res) => stallBody(res));
    const seen = headersSeen();
    const controller = new AbortController();
    const pending = failure(
      client().invoke(call(`${s.base}/greeter`, { callTimeoutMs: 60_000 }, { signal: controller.signal })),
    );
    await waitUntil(() => seen() === 1, { timeoutMs: 5_000, what: 'the response headers at the client' });
    const started = performance.now();
    controller.abort();
    const err = await pending;
    expect(err.code).toBe('FUNCTION_CALL_ABORTED');
    expect(err.attempts).toBe(1);
    expect(performance.now() - started).toBeLessThan(2_000);
    await waitUntil(() => s.concurrency().now === 0, {
      timeoutMs: 5_000,
      what: 'the server to see the connection close',
    });
  });

  it('the call budget ends an attempt whose response body stalls', async () => {
    const s = await server((_req, res) => stallBody(res));
    const started = performance.now();
    const err = await failure(client().invoke(call(`${s.base}/greeter`, { callTimeoutMs: 300 })));
    expect(err.code).toBe('FUNCTION_CALL_FAILED');
    expect(err.attempts).toBe(1);
    expect(err.lastFailure?.kind).toBe('timeout');
    expect(err.message).toContain('call budget of 300 ms');
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('okhttp read timeout also limits the wait between body chunks', async () => {
    const s = await server((_req, res, i) => (i === 0 ? stallBody(res) : ok(res)));
    const events: AttemptEvent[] = [];
    const result = await client({ onAttempt: (e) => events.push(e) }).invoke(
      call(`${s.base}/greeter`, { type: 'okhttp', readTimeoutMs: 150, callTimeoutMs: 10_000 }),
    );
    expectReply(result);
    expect(events.map((e) => e.failure?.kind)).toEqual(['timeout', undefined]);
    expect(events[0]!.failure?.message).toContain('read timeout of 150 ms (UND_ERR_BODY_TIMEOUT)');
  });

  it('gives a signal shared by many calls one listener, and its abort ends every call', async () => {
    const s = await server((req, res) => {
      if (req.url === '/hang') return;
      ok(res);
    });
    const c = client();
    const controller = new AbortController();
    for (let i = 0; i < 20; i++) {
      expectReply(await c.invoke({ ...call(`${s.base}/fine`), signal: controller.signal }));
    }
    // Within the test endpoint's pool of 8 connections, so that every call reaches the server.
    const hanging = Array.from({ length: 6 }, () =>
      failure(c.invoke({ ...call(`${s.base}/hang`, { callTimeoutMs: 60_000 }), signal: controller.signal })),
    );
    await waitUntil(() => s.received.length === 26, { timeoutMs: 5_000, what: 'the hanging requests' });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    controller.abort();
    const errors = await Promise.all(hanging);
    expect(errors.map((e) => e.code)).toEqual(Array.from({ length: 6 }, () => 'FUNCTION_CALL_ABORTED'));
    expect(c.load).toEqual({ inFlight: 0, queued: 0 });
  });

  it('reuses one keep-alive connection for sequential calls', async () => {
    const s = await server((_req, res) => ok(res));
    const c = client();
    for (let i = 0; i < 5; i++) await c.invoke(call(`${s.base}/greeter`));
    expect(s.received).toHaveLength(5);
    expect(s.connections()).toBe(1);
    expect(s.received.every((r) => r.headers.connection === 'keep-alive')).toBe(true);
  });

  it('opens a new connection per call when pool_ttl is 0', async () => {
    const s = await server((_req, res) => ok(res));
    const c = client();
    for (let i = 0; i < 3; i++) await c.invoke(call(`${s.base}/greeter`, { poolTtlMs: 0 }));
    expect(s.received.map((r) => r.headers.connection)).toEqual(['close', 'close', 'close']);
    expect(s.connections()).toBe(3);
  });

  it('calls a function listening on a unix socket via http+unix', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fn-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const socketPath = join(dir, 'functions.sock');
    const s = await server((_req, res) => ok(res), { socketPath });

    const result = await client().invoke(call(`http+unix://${socketPath}/statefun/greeter?v=2`));

    expectReply(result);
    expect(s.received[0]!.url).toBe('/statefun/greeter?v=2');
  });

  it('runs at most maxInFlight calls at once, queues up to maxQueued and refuses the rest', async () => {
    const held: (() => void)[] = [];
    const s = await server((_req, res) => held.push(() => ok(res)));
    const calls: CallEvent[] = [];
    const c = client({ maxInFlight: 2, maxQueued: 1, onCall: (e) => calls.push(e) });
    const url = `${s.base}/greeter`;

    const running = [c.invoke(call(url)), c.invoke(call(url)), c.invoke(call(url))];
    await waitUntil(() => s.received.length === 2, { timeoutMs: 2_000, what: 'two requests at the server' });
    expect(c.load).toEqual({ inFlight: 2, queued: 1 });

    const refused = await failure(c.invoke(call(url)));
    expect(refused.code).toBe('FUNCTION_CLIENT_OVERLOADED');
    expect(refused.retryable).toBe(true);
    expect(calls.map((e) => e.error?.code)).toEqual(['FUNCTION_CLIENT_OVERLOADED']);

    // The queued call must not reach the server while both slots are busy.
    expect(s.received).toHaveLength(2);
    held.splice(0).forEach((release) => release());
    await waitUntil(() => s.received.length === 3, { timeoutMs: 2_000, what: 'the queued request' });
    held.splice(0).forEach((release) => release());

    const results = await Promise.all(running);
    results.forEach(expectReply);
    expect(s.concurrency().max).toBe(2);
    expect(c.load).toEqual({ inFlight: 0, queued: 0 });
  });

  it('retries a refused connection until the budget and says what failed', async () => {
    const s = await server((_req, res) => ok(res));
    const url = `${s.base}/greeter`;
    await s.close();
    const err = await failure(client().invoke(call(url, { callTimeoutMs: 150 })));
    expect(err.code).toBe('FUNCTION_CALL_FAILED');
    expect(err.attempts).toBeGreaterThan(1);
    expect(err.message).toContain('ECONNREFUSED');
  });

  it('stops retrying when the caller aborts', async () => {
    const s = await server((_req, res) => {
      res.writeHead(503);
      res.end();
    });
    const controller = new AbortController();
    const pending = client().invoke(
      call(`${s.base}/greeter`, { callTimeoutMs: 10_000 }, { signal: controller.signal }),
    );
    await waitUntil(() => s.received.length >= 2, { timeoutMs: 2_000, what: 'a retry' });
    controller.abort();
    const err = await failure(pending);
    expect(err.code).toBe('FUNCTION_CALL_ABORTED');
    expect(err.elapsedMs).toBeLessThan(5_000);
  });

  it('close() gives up hanging calls after the grace period and refuses new ones', async () => {
    const s = await server(() => {
      // Never respond.
    });
    const c = new HttpFunctionClient({ closeGraceMs: 50 });
    const pending = failure(c.invoke(call(`${s.base}/greeter`, { callTimeoutMs: 10_000 })));
    await waitUntil(() => s.received.length === 1, { timeoutMs: 2_000, what: 'the request' });

    const started = performance.now();
    await c.close();
    expect(performance.now() - started).toBeLessThan(1_000);
    const err = await pending;
    expect(err.code).toBe('FUNCTION_CLIENT_CLOSED');
    expect(err.retryable).toBe(true);

    const late = await failure(c.invoke(call(`${s.base}/greeter`)));
    expect(late.code).toBe('FUNCTION_CLIENT_CLOSED');
  });

  it('rejects an unusable URL or an empty request without touching the network', async () => {
    const c = client();
    const scheme = await failure(c.invoke(call('ftp://127.0.0.1/greeter')));
    expect(scheme.code).toBe('FUNCTION_REQUEST_INVALID');
    expect(scheme.message).toContain('unsupported scheme "ftp:"');
    expect(scheme.message).toContain('module.yaml');

    const noSock = await failure(c.invoke(call('http+unix:///var/run/functions/greeter')));
    expect(noSock.message).toContain('".sock"');

    const empty = await failure(c.invoke(call('http://127.0.0.1:1/greeter', {}, { request: {} })));
    expect(empty.code).toBe('FUNCTION_REQUEST_INVALID');
    expect(empty.attempts).toBe(0);
  });
});
