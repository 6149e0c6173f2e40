// The playground token: with one configured, the playground ingress and egress answer 401 to
// requests without `Authorization: Bearer <token>`, and serve those that carry it.
import { describe, expect, it } from 'vitest';
import type { FunctionRouter } from '../../src/core/routing.js';
import { EmbeddedLog } from '../../src/log/embedded-log.js';
import { buildPlaygroundEgress } from '../../src/playground/playground-egress.js';
import { buildPlaygroundIngress } from '../../src/playground/playground-ingress.js';
import type { IngressMessage } from '../../src/observers.js';

const TOKEN = 'playground-token-0123456789';
const functions: FunctionRouter = {
  resolve: () => ({ endpoint: undefined as never, url: 'http://x', maxBatch: 10 }),
};

describe('playground token', () => {
  it('the ingress refuses requests without the bearer token and accepts those with it', async () => {
    const sent: IngressMessage[] = [];
    const app = buildPlaygroundIngress({
      port: 8090,
      functions,
      token: TOKEN,
      send: (m) => {
        sent.push(...m);
        return Promise.resolve();
      },
    });
    const post = (headers: Record<string, string | undefined>) =>
      app.inject({
        method: 'POST',
        url: '/ex/greeter/alice',
        payload: 'hi',
        headers: { 'content-type': 'application/vnd.ex/Text', ...headers },
      });
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: TOKEN }]) {
      const res = await post(headers);
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({
        error: 'missing or wrong playground token (Authorization: Bearer <token>)',
      });
    }
    expect(sent).toHaveLength(0);
    expect((await post({ authorization: `Bearer ${TOKEN}` })).statusCode).toBe(200);
    expect(sent.map((m) => m.target.id)).toEqual(['alice']);
    await app.close();
  });

  it('the ingress stays open when no token is configured', async () => {
    const app = buildPlaygroundIngress({ port: 8090, functions, send: () => Promise.resolve() });
    const res = await app.inject({
      method: 'POST',
      url: '/ex/greeter/bob',
      payload: 'hi',
      headers: { 'content-type': 'application/vnd.ex/Text' },
    });
    expect(res.statusCode).toBe(200);
    await app.close();
  });

  it('the egress refuses reads without the bearer token', async () => {
    const log = await EmbeddedLog.open({ partitions: 1 });
    const app = buildPlaygroundEgress({ port: 8091, topics: ['greetings'], log, token: TOKEN });
    expect((await app.inject({ method: 'GET', url: '/greetings' })).statusCode).toBe(401);
    const authorised = await app.inject({
      method: 'GET',
      url: '/greetings',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(authorised.statusCode).toBe(404);
    await app.close();
  });
});
