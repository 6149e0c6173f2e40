// Requests built to hurt the server: huge ids and type names are cut in replies and logs, too
// many invocations are refused with the limit, and a huge batch does not keep the server from
// answering a small request meanwhile.
import { afterEach, describe, expect, it } from 'vitest';
import { serve, statefulFunction, types, valueSpec, type ServerHandle } from '@continuum/sdk';
import {
  decodeToFunction,
  encodeString,
  encodeToFunction,
  type ToFunctionInvocation,
} from '@continuum/sdk/protocol';
import { countInvocations, decodeToFunctionInSteps } from '../src/protocol/codec.js';

const OCTET = { 'content-type': 'application/octet-stream' };

const argument = (text: string): ToFunctionInvocation => ({
  argument: { typename: 'io.statefun.types/string', hasValue: true, value: encodeString(text) },
});

function request(opts: {
  namespace?: string;
  type?: string;
  id?: string;
  invocations: number;
  text?: string;
}): Buffer {
  const one = argument(opts.text ?? 'hi');
  return Buffer.from(
    encodeToFunction({
      invocation: {
        target: { namespace: opts.namespace ?? 'example', type: opts.type ?? 'echo', id: opts.id ?? 'a' },
        state: [{ stateName: 'n' }],
        invocations: Array.from({ length: opts.invocations }, () => one),
      },
    }),
  );
}

let hugeStarted: () => void = () => undefined;

const echo = statefulFunction({
  typename: 'example/echo',
  specs: { n: valueSpec(types.int) },
  handler(ctx, message) {
    ctx.storage.n = (ctx.storage.n ?? 0) + 1;
    if (message.asString() === 'throw') throw new Error('the function blew up');
  },
});

const bulk = statefulFunction({
  typename: 'example/bulk',
  specs: { n: valueSpec(types.int) },
  handler(ctx) {
    if (ctx.storage.n === undefined) hugeStarted();
    ctx.storage.n = (ctx.storage.n ?? 0) + 1;
  },
});

describe('the SDK server under hostile requests', () => {
  let server: ServerHandle | undefined;
  const logLines: string[] = [];

  const start = async (options: { maxInvocationsPerRequest?: number } = {}): Promise<ServerHandle> => {
    server = await serve({
      functions: [echo, bulk],
      port: 0,
      ...options,
      logger: { level: 'warn', stream: { write: (line: string) => void logLines.push(line) } },
    });
    return server;
  };
  afterEach(async () => {
    await server?.close();
    server = undefined;
    logLines.length = 0;
  });

  it('cuts a huge id in the 500 reply and the log line to 200 characters and its size', async () => {
    const { url } = await start();
    const id = 'i'.repeat(3_000_000);
    const res = await fetch(url, {
      method: 'POST',
      headers: OCTET,
      body: request({ id, invocations: 1, text: 'throw' }),
    });
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text.length).toBeLessThan(1_000);
    expect(text).toContain(`(id ${'i'.repeat(200)}… (3000000 bytes))`);
    expect(text).toContain('the function blew up');
    const logged = logLines.join('');
    expect(logged.length).toBeLessThan(20_000);
    expect(logged).toContain('… (3000000 bytes)');
  });

  it('cuts a huge function type in the 404 reply and the log line', async () => {
    const { url } = await start();
    const res = await fetch(url, {
      method: 'POST',
      headers: OCTET,
      body: request({ namespace: 'n'.repeat(2_000_000), invocations: 1 }),
    });
    expect(res.status).toBe(404);
    const text = await res.text();
    expect(text.length).toBeLessThan(1_000);
    expect(text).toContain('… (2000005 bytes)');
    expect(logLines.join('').length).toBeLessThan(20_000);
  });

  it('cuts a huge message type name in a type-mismatch failure', async () => {
    const picky = statefulFunction({
      typename: 'example/picky',
      handler(_ctx, message) {
        message.as(types.int);
      },
    });
    server = await serve({ functions: [picky], port: 0, logger: false });
    const bytes = encodeToFunction({
      invocation: {
        target: { namespace: 'example', type: 'picky', id: 'a' },
        state: [],
        invocations: [
          { argument: { typename: `t/${'x'.repeat(1_000_000)}`, hasValue: true, value: new Uint8Array(1) } },
        ],
      },
    });
    const res = await fetch(server.url, { method: 'POST', headers: OCTET, body: Buffer.from(bytes) });
    expect(res.status).toBe(422);
    const text = await res.text();
    expect(text.length).toBeLessThan(1_000);
    expect(text).toContain('… (1000002 bytes)');
  });

  it('answers 413 naming the limit for more invocations than maxInvocationsPerRequest', async () => {
    const { url } = await start({ maxInvocationsPerRequest: 100 });
    const atLimit = await fetch(url, { method: 'POST', headers: OCTET, body: request({ invocations: 100 }) });
    expect(atLimit.status).toBe(200);
    const over = await fetch(url, { method: 'POST', headers: OCTET, body: request({ invocations: 101 }) });
    expect(over.status).toBe(413);
    const text = await over.text();
    expect(text).toContain('101 invocations, more than the limit of 100');
    expect(text).toContain('maxInvocationsPerRequest');
  });

  it('has a default limit of 10000 invocations per request', async () => {
    const { url } = await start();
    const over = await fetch(url, { method: 'POST', headers: OCTET, body: request({ invocations: 10_001 }) });
    expect(over.status).toBe(413);
    expect(await over.text()).toContain('the limit of 10000');
  });

  it('rejects a limit that is not a whole number of at least 1', async () => {
    await expect(
      serve({ functions: [echo], port: 0, maxInvocationsPerRequest: 0, logger: false }),
    ).rejects.toThrow(/maxInvocationsPerRequest must be a whole number of at least 1, got 0/);
  });

  it('answers a small request while a huge batch is being handled', async () => {
    const { url } = await start({ maxInvocationsPerRequest: 1_000_000 });
    const started = new Promise<void>((resolve) => {
      hugeStarted = resolve;
    });
    const finished: string[] = [];
    const huge = fetch(url, {
      method: 'POST',
      headers: OCTET,
      body: request({ type: 'bulk', invocations: 100_000 }),
      signal: AbortSignal.timeout(120_000),
    }).then(async (res) => {
      finished.push('huge');
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    });
    await started;
    const small = await fetch(url, {
      method: 'POST',
      headers: OCTET,
      body: request({ invocations: 1 }),
      signal: AbortSignal.timeout(120_000),
    });
    finished.push('small');
    expect(small.status).toBe(200);
    await huge;
    expect(finished).toEqual(['small', 'huge']);
  }, 180_000);
});

describe('decoding a batch in steps', () => {
  it('gives what the one-shot decoder gives, pausing between steps', async () => {
    const bytes = encodeToFunction({
      invocation: {
        target: { namespace: 'example', type: 'echo', id: 'a' },
        state: [
          {
            stateName: 'n',
            stateValue: {
              typename: 'io.statefun.types/int',
              hasValue: true,
              value: new Uint8Array([0x0d, 1, 0, 0, 0]),
            },
          },
          { stateName: 'm' },
        ],
        invocations: Array.from({ length: 25 }, (_, i) => ({
          ...argument(`m${i}`),
          caller: { namespace: 'c', type: 't', id: String(i) },
          eventTime: 1_000 + i,
        })),
      },
    });
    let pauses = 0;
    const stepwise = await decodeToFunctionInSteps(bytes, {
      step: 10,
      pause: () => {
        pauses++;
        return Promise.resolve();
      },
    });
    expect(stepwise).toEqual(decodeToFunction(bytes));
    expect(pauses).toBe(2);
    expect(countInvocations(bytes)).toBe(25);
  });

  it('fails on malformed bytes as the one-shot decoder does', async () => {
    const bad = new Uint8Array([0xa2, 0x06, 0x7f, 0x0a]);
    const pause = (): Promise<void> => Promise.resolve();
    expect(countInvocations(bad)).toBeUndefined();
    await expect(decodeToFunctionInSteps(bad, { step: 10, pause })).rejects.toThrow(/ToFunction/);
  });
});
