import { describe, expect, it } from 'vitest';
import { SdkError, serveFromEnv, statefulFunction, types, valueSpec } from '@continuum/sdk';
import { decodeFromFunction, encodeString, encodeToFunction } from '@continuum/sdk/protocol';

const counter = statefulFunction({
  typename: 'example/counter',
  specs: { n: valueSpec(types.int) },
  handler(ctx) {
    ctx.storage.n = (ctx.storage.n ?? 0) + 1;
  },
});

const request = Buffer.from(
  encodeToFunction({
    invocation: {
      target: { namespace: 'example', type: 'counter', id: 'a' },
      state: [{ stateName: 'n' }],
      invocations: [
        { argument: { typename: 'io.statefun.types/string', hasValue: true, value: encodeString('x') } },
      ],
    },
  }),
);

const quiet = { HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'silent' };

describe('serveFromEnv', () => {
  it('serves on the port, host and path from the environment', async () => {
    const server = await serveFromEnv([counter], {
      env: { ...quiet, FUNCTIONS_PATH: '/statefun' },
      closeOnSignals: false,
    });
    try {
      expect(server.host).toBe('127.0.0.1');
      expect(server.port).toBeGreaterThan(0);
      expect(server.url).toBe(`http://127.0.0.1:${server.port}/statefun/`);
      const res = await fetch(`${server.url}counter`, { method: 'POST', body: request });
      expect(res.status).toBe(200);
      const result = decodeFromFunction(new Uint8Array(await res.arrayBuffer())).invocationResult!;
      expect(result.stateMutations.map((m) => m.stateName)).toEqual(['n']);
      expect(
        (await fetch(`http://127.0.0.1:${server.port}/counter`, { method: 'POST', body: request })).status,
      ).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('applies BODY_LIMIT_BYTES', async () => {
    const server = await serveFromEnv([counter], {
      env: { ...quiet, BODY_LIMIT_BYTES: '16' },
      closeOnSignals: false,
    });
    try {
      expect((await fetch(server.url, { method: 'POST', body: request })).status).toBe(413);
    } finally {
      await server.close();
    }
  });

  it('applies MAX_INVOCATIONS_PER_REQUEST', async () => {
    const server = await serveFromEnv([counter], {
      env: { ...quiet, MAX_INVOCATIONS_PER_REQUEST: '1' },
      closeOnSignals: false,
    });
    const two = Buffer.from(
      encodeToFunction({
        invocation: {
          target: { namespace: 'example', type: 'counter', id: 'a' },
          state: [{ stateName: 'n' }],
          invocations: [1, 2].map(() => ({
            argument: { typename: 'io.statefun.types/string', hasValue: true, value: encodeString('x') },
          })),
        },
      }),
    );
    try {
      expect((await fetch(server.url, { method: 'POST', body: request })).status).toBe(200);
      const over = await fetch(server.url, { method: 'POST', body: two });
      expect(over.status).toBe(413);
      expect(await over.text()).toContain('the limit of 1 per request');
    } finally {
      await server.close();
    }
  });

  it.each([
    [{ MAX_INVOCATIONS_PER_REQUEST: '0' }, /MAX_INVOCATIONS_PER_REQUEST/],
    [{ PORT: 'eighty' }, /PORT/],
    [{ PORT: '70000' }, /PORT/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    [{ FUNCTIONS_PATH: 'statefun' }, /FUNCTIONS_PATH: must start with "\/"/],
    [{ BODY_LIMIT_BYTES: '-1' }, /BODY_LIMIT_BYTES/],
  ])('rejects %o with an error naming the variable', async (env, message) => {
    const attempt = serveFromEnv([counter], { env: { ...quiet, ...env }, closeOnSignals: false });
    await expect(attempt).rejects.toBeInstanceOf(SdkError);
    await expect(attempt).rejects.toThrow(message);
  });

  it('closes on SIGINT/SIGTERM by default and stops listening for them once closed', async () => {
    const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
    const server = await serveFromEnv([counter], { env: quiet });
    expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]).toEqual([
      before[0]! + 1,
      before[1]! + 1,
    ]);
    const onTerm = process.listeners('SIGTERM').at(-1) as () => void;
    onTerm();
    await expect.poll(() => server.app.server.listening).toBe(false);
    expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]).toEqual(before);
  });
});
