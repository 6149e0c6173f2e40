import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  serve,
  statefulFunction,
  statefulFunctionsPlugin,
  types,
  valueSpec,
  type ServerHandle,
} from '@continuum/sdk';
import { decodeFromFunction, encodeString, encodeToFunction } from '@continuum/sdk/protocol';
import { fromHex } from './helpers.js';

const echo = statefulFunction({
  typename: 'example/echo',
  specs: { n: valueSpec(types.int) },
  handler(ctx, message) {
    ctx.storage.n = (ctx.storage.n ?? 0) + 1;
    if (message.asString() === 'throw') throw new Error('the function blew up');
  },
});

function body(text: string, target = 'echo'): Buffer {
  const bytes = encodeToFunction({
    invocation: {
      target: { namespace: 'example', type: target, id: 'a' },
      state: [{ stateName: 'n' }],
      invocations: [
        { argument: { typename: 'io.statefun.types/string', hasValue: true, value: encodeString(text) } },
      ],
    },
  });
  return Buffer.from(bytes);
}

const OCTET = { 'content-type': 'application/octet-stream' };

describe('serve(): a standalone server on a real socket', () => {
  let server: ServerHandle;
  const logLines: string[] = [];

  beforeAll(async () => {
    server = await serve({
      functions: [echo],
      port: 0,
      logger: { level: 'warn', stream: { write: (line: string) => void logLines.push(line) } },
    });
  });
  afterAll(async () => {
    await server.close();
  });

  it('listens on 127.0.0.1 by default and reports the bound port', () => {
    expect(server.host).toBe('127.0.0.1');
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/`);
  });

  it('answers a POST with 200, Content-Type exactly application/octet-stream, and a FromFunction', async () => {
    const res = await fetch(`${server.url}echo`, { method: 'POST', headers: OCTET, body: body('hi') });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    const out = decodeFromFunction(new Uint8Array(await res.arrayBuffer()));
    expect(out.invocationResult?.stateMutations.map((m) => m.stateName)).toEqual(['n']);
    expect(Number(res.headers.get('content-length'))).toBeGreaterThan(0);
  });

  it('accepts a request without a content type, as some runtimes send', async () => {
    const res = await fetch(server.url, { method: 'POST', body: body('hi') });
    expect(res.status).toBe(200);
  });

  it('malformed protobuf gets 400 with a message, and the server keeps serving', async () => {
    for (const bad of [fromHex('ff ff ff'), fromHex('a2 06 7f 0a'), fromHex('0a')]) {
      const res = await fetch(server.url, { method: 'POST', headers: OCTET, body: Buffer.from(bad) });
      expect(res.status).toBe(400);
      expect(await res.text()).toMatch(/ToFunction/);
    }
    const empty = await fetch(server.url, { method: 'POST', headers: OCTET, body: new Uint8Array(0) });
    expect(empty.status).toBe(400);
    expect(await empty.text()).toMatch(/body is empty/);
    const ok = await fetch(server.url, { method: 'POST', headers: OCTET, body: body('still alive') });
    expect(ok.status).toBe(200);
  });

  it('a throwing function gets 500, the error is logged, and the server keeps serving', async () => {
    const res = await fetch(server.url, { method: 'POST', headers: OCTET, body: body('throw') });
    expect(res.status).toBe(500);
    expect(await res.text()).toMatch(
      /example\/echo \(id a\) failed in invocation 1 of 1: the function blew up/,
    );
    const logged = logLines.map((l) => JSON.parse(l) as { level: number; err?: { message: string } });
    expect(logged.some((l) => l.level === 50 && l.err?.message.includes('the function blew up'))).toBe(true);
    expect((await fetch(server.url, { method: 'POST', headers: OCTET, body: body('ok') })).status).toBe(200);
  });

  it('a non-POST request gets 405 with Allow: POST', async () => {
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const res = await fetch(`${server.url}echo`, { method });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
    }
  });

  it('a request for a function type not served here gets 404 naming it', async () => {
    const res = await fetch(server.url, { method: 'POST', headers: OCTET, body: body('hi', 'nobody') });
    expect(res.status).toBe(404);
    expect(await res.text()).toMatch(/example\/nobody/);
  });
});

describe('serve() with a path prefix', () => {
  it('serves under the prefix only, and its url includes it', async () => {
    const server = await serve({ functions: [echo], port: 0, path: '/statefun/', logger: false });
    try {
      expect(server.url).toBe(`http://127.0.0.1:${server.port}/statefun/`);
      const ok = await fetch(`${server.url}echo`, { method: 'POST', headers: OCTET, body: body('x') });
      expect(ok.status).toBe(200);
      const outside = await fetch(`http://127.0.0.1:${server.port}/echo`, {
        method: 'POST',
        headers: OCTET,
        body: body('x'),
      });
      expect(outside.status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('rejects a path without a leading slash and an invalid port', async () => {
    await expect(serve({ functions: [echo], port: 0, path: 'statefun' })).rejects.toThrow(
      /path must start with/,
    );
    await expect(serve({ functions: [echo], port: 70000 })).rejects.toThrow(/port must be an integer/);
  });
});

describe('statefulFunctionsPlugin inside a fastify app (inject, no socket)', () => {
  const app = Fastify({ logger: false });
  app.get('/health', () => ({ ok: true }));
  app.post('/json', (req) => req.body);

  beforeAll(async () => {
    await app.register(statefulFunctionsPlugin, { prefix: '/statefun', functions: [echo], bodyLimit: 1024 });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
  });

  it('serves under its prefix, at any sub-path', async () => {
    for (const url of ['/statefun', '/statefun/', '/statefun/echo']) {
      const res = await app.inject({ method: 'POST', url, headers: OCTET, payload: body('x') });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('application/octet-stream');
    }
  });

  it('leaves the rest of the app alone: other routes and the JSON parser still work', async () => {
    expect((await app.inject({ method: 'GET', url: '/health' })).json()).toEqual({ ok: true });
    const res = await app.inject({ method: 'POST', url: '/json', payload: { a: 1 } });
    expect(res.json()).toEqual({ a: 1 });
  });

  it('rejects bodies over the limit with 413', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/statefun',
      headers: OCTET,
      payload: Buffer.alloc(2048, 1),
    });
    expect(res.statusCode).toBe(413);
  });

  it('400s malformed bodies of any content type', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/statefun/echo',
      headers: { 'content-type': 'application/json' },
      payload: '{"not":"protobuf"}',
    });
    expect(res.statusCode).toBe(400);
    const garbage = await app.inject({
      method: 'POST',
      url: '/statefun',
      headers: OCTET,
      payload: Buffer.from(fromHex('a2 06 ff')),
    });
    expect(garbage.statusCode).toBe(400);
    expect(garbage.body).toMatch(/not a valid protobuf encoding/);
    expect(
      (await app.inject({ method: 'POST', url: '/statefun', headers: OCTET, payload: body('x') })).statusCode,
    ).toBe(200);
  });
});
