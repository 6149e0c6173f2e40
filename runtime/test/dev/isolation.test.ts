// Bad neighbours on the dev runtime, through the real HTTP client and our SDK served over HTTP:
// a hanging endpoint fills only its own bulkhead (other functions go on at once); messages that can
// never succeed (the function's TerminalError, a function type the service does not serve) are
// dead-lettered at once without holding up the messages behind them; failing and stalled endpoints
// turn health to degraded within seconds and log one WARN line, not one per retry.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve, statefulFunction, TerminalError, types, valueSpec, type ServerHandle } from '@continuum/sdk';
import { encodeString, PrimitiveTypeName, type Address } from '@continuum/sdk/protocol';
import type { Overview } from '../../src/admin/overview.js';
import { Header } from '../../src/core/envelope.js';
import { startDevRuntime, type DevRuntime } from '../../src/dev-runtime.js';
import { createLogger } from '../../src/logger.js';
import { parseModule } from '../../src/module/index.js';
import { freePorts, readTopic, serveOnLoopback, type LoopbackServer } from './support.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

const DEAD_LETTERS = 'continuum-dead-letters';
const HANGING = 1500;
const GREETINGS = 100;

interface LogLine {
  level: string;
  msg: string;
  [field: string]: unknown;
}

describe('a failing function never stalls the others', () => {
  const greeted: string[] = [];
  const reports: { id: string; count: number }[] = [];
  const lines: LogLine[] = [];
  let hang: LoopbackServer;
  let service: ServerHandle;
  let dev: DevRuntime;
  let adminPort: number;
  let downPort: number;
  let revived: Server | undefined;

  const greeter = statefulFunction({
    typename: 'example/greeter',
    handler(_ctx, message) {
      greeted.push(message.asString());
    },
  });
  const orders = statefulFunction({
    typename: 'example/orders',
    specs: { count: valueSpec(types.int) },
    handler(ctx, message) {
      const item = message.asString();
      if (item === 'report') {
        reports.push({ id: ctx.self.id, count: ctx.storage.count ?? 0 });
        return;
      }
      if (item.startsWith('poison')) throw new TerminalError(`no such product: ${item}`);
      ctx.storage.count = (ctx.storage.count ?? 0) + 1;
    },
  });

  beforeAll(async () => {
    // Accepts requests and never answers them.
    hang = await serveOnLoopback(() => undefined);
    service = await serve({ functions: [greeter, orders], port: 0, host: '127.0.0.1', logger: false });
    [adminPort, downPort] = (await freePorts(2)) as [number, number];
    const text = [
      'kind: io.statefun.endpoints.v2/http',
      'spec:',
      '  functions: bad/*',
      `  urlPathTemplate: http://127.0.0.1:${hang.port}/{function.name}`,
      '  transport:',
      '    call: 2min',
      '---',
      'kind: io.statefun.endpoints.v2/http',
      'spec:',
      '  functions: example/*',
      `  urlPathTemplate: http://127.0.0.1:${service.port}/{function.name}`,
      '---',
      'kind: io.statefun.endpoints.v2/http',
      'spec:',
      '  functions: down/*',
      `  urlPathTemplate: http://127.0.0.1:${downPort}/{function.name}`,
    ].join('\n');
    dev = await startDevRuntime({
      module: parseModule(text, 'isolation-module.yaml'),
      partitions: 2,
      adminPort,
      host: '127.0.0.1',
      logger: createLogger({
        level: 'info',
        format: 'json',
        write: (l) => lines.push(JSON.parse(l) as LogLine),
      }),
      task: { checkpointIntervalMs: 20 },
    });
  });

  afterAll(async () => {
    await dev?.stop();
    await hang?.close();
    await service?.close();
    await new Promise<void>((resolve) =>
      revived === undefined ? resolve() : revived.close(() => resolve()),
    );
  });

  const send = (target: Address, text: string) => ({
    target,
    argument: { typename: PrimitiveTypeName.string, hasValue: true, value: encodeString(text) },
  });

  const overview = async (): Promise<Overview> => {
    const res = await fetch(`http://127.0.0.1:${adminPort}/v1/overview`, {
      signal: AbortSignal.timeout(10_000),
    });
    return (await res.json()) as Overview;
  };

  const deadLetters = async (): Promise<{ code: string; reason: string; target: string }[]> =>
    (await readTopic(dev.log, DEAD_LETTERS)).map((r) => ({
      code: r.headers[Header.code] ?? '',
      reason: r.headers[Header.reason] ?? '',
      target: r.headers[Header.target] ?? '',
    }));

  it('greetings finish in seconds while 1,500 calls hang on another endpoint', async () => {
    const bad = Array.from({ length: HANGING }, (_, i) =>
      send({ namespace: 'bad', type: 'hang', id: `h${i}` }, 'x'),
    );
    for (let i = 0; i < bad.length; i += 500) await dev.runtime.send(bad.slice(i, i + 500));
    // Every hanging call is running or waiting before the greetings arrive.
    await waitUntil(
      async () => {
        const o = await overview();
        return o.client.inFlight + o.client.queued >= HANGING;
      },
      { timeoutMs: 30_000, what: 'the hanging calls to be in flight or queued', intervalMs: 50 },
    );
    const sentAt = Date.now();
    await dev.runtime.send(
      Array.from({ length: GREETINGS }, (_, i) =>
        send({ namespace: 'example', type: 'greeter', id: `g${i % 10}` }, `hello ${i}`),
      ),
    );
    // Before per-endpoint bulkheads this took the hanging calls' two-minute budget.
    await waitUntil(() => greeted.length >= GREETINGS, {
      timeoutMs: 20_000,
      what: 'every greeting to be processed',
    });
    expect(Date.now() - sentAt).toBeLessThan(20_000);
    expect(new Set(greeted).size).toBe(GREETINGS);

    const o = await overview();
    const bulkhead = o.client.endpoints.find((e) => e.url.includes(`:${hang.port}/hang`));
    expect(bulkhead).toMatchObject({ inFlight: 256, queued: HANGING - 256, maxInFlight: 256 });
    // The stall becomes a health problem within seconds, naming the endpoint: first its calls get
    // no answer, then they also wait behind its bulkhead.
    const bulkheadProblem = (problems: string[]): string | undefined =>
      problems.find((p) => p.includes(`:${hang.port}/hang`) && p.includes('wait behind its bulkhead'));
    await waitUntil(async () => bulkheadProblem((await overview()).health.problems) !== undefined, {
      timeoutMs: 15_000,
      what: 'the hanging endpoint to show as a health problem',
      intervalMs: 250,
    });
    const health = (await overview()).health;
    expect(health.status).not.toBe('ok');
    expect(bulkheadProblem(health.problems)).toMatch(
      /wait behind its bulkhead: 1244 queued, 256\/256 in flight/,
    );
  }, 90_000);

  it('dead-letters a message the function rejects at once; the messages around it are applied', async () => {
    const o1: Address = { namespace: 'example', type: 'orders', id: 'o1' };
    const started = Date.now();
    // One delivery: the three go to the function as one batch, which the poison fails.
    await dev.runtime.send([
      send(o1, 'apple'),
      send(o1, 'poison-pill'),
      send(o1, 'pear'),
      send(o1, 'report'),
    ]);
    await waitUntil(() => reports.some((r) => r.id === 'o1'), {
      timeoutMs: 15_000,
      what: 'the report of o1',
    });
    expect(reports.find((r) => r.id === 'o1')).toEqual({ id: 'o1', count: 2 });
    await waitUntil(async () => (await deadLetters()).some((d) => d.target === 'example/orders/o1'), {
      timeoutMs: 10_000,
      what: 'the dead letter of the poison message',
    });
    expect(Date.now() - started).toBeLessThan(15_000);
    const letters = (await deadLetters()).filter((d) => d.target === 'example/orders/o1');
    expect(letters).toHaveLength(1);
    expect(letters[0]!.code).toBe('FUNCTION_MESSAGE_REJECTED');
    expect(letters[0]!.reason).toContain('no such product: poison-pill');
    expect(letters[0]!.reason).not.toContain('raise transport.call');
  }, 30_000);

  it('dead-letters a message to a function type the service does not serve after one attempt', async () => {
    const ghost: Address = { namespace: 'example', type: 'ghost', id: 'g1' };
    await dev.runtime.send([send(ghost, 'boo'), send(ghost, 'boo again')]);
    await waitUntil(
      async () => (await deadLetters()).filter((d) => d.target === 'example/ghost/g1').length === 2,
      { timeoutMs: 10_000, what: 'both dead letters of the unserved function type' },
    );
    const letters = (await deadLetters()).filter((d) => d.target === 'example/ghost/g1');
    expect(letters.map((d) => d.code)).toEqual(['FUNCTION_NOT_FOUND', 'FUNCTION_NOT_FOUND']);
    expect(letters[0]!.reason).toMatch(/after 1 attempt: HTTP 404/);
    expect(letters[0]!.reason).toContain('does not serve function type example/ghost');
  }, 30_000);

  it('shows an endpoint that refuses connections as degraded within seconds, with one WARN line, until it answers', async () => {
    const before = lines.length;
    await dev.runtime.send([send({ namespace: 'down', type: 'svc', id: 'd1' }, 'anyone there?')]);
    const url = `http://127.0.0.1:${downPort}/svc`;
    await waitUntil(
      async () => (await overview()).health.problems.some((p) => p.startsWith(`calls to ${url} fail`)),
      { timeoutMs: 10_000, what: 'the refused endpoint to show as a health problem', intervalMs: 100 },
    );
    // Retries go on (2 ms doubling) for a second; one WARN line covers them.
    await new Promise((r) => setTimeout(r, 1000));
    const warned = lines.slice(before).filter((l) => l.level === 'warn' && l.endpoint === url);
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ msg: 'calls to a function endpoint fail', function: 'down/svc' });
    expect(String(warned[0]!.error)).toMatch(/ECONNREFUSED/);
    expect(warned.some((l) => 'stack' in l)).toBe(false);
    const problem = (await overview()).health.problems.find((p) => p.startsWith(`calls to ${url} fail`));
    expect(problem).toMatch(/failed attempts? since .*ECONNREFUSED/);

    // The service comes up: the next retry succeeds and the problem goes away.
    revived = createServer((req, res) => {
      req.resume();
      req.once('end', () => res.writeHead(200, { 'content-type': 'application/octet-stream' }).end());
    });
    await new Promise<void>((resolve) => revived!.listen(downPort, '127.0.0.1', resolve));
    await waitUntil(
      async () => !(await overview()).health.problems.some((p) => p.startsWith(`calls to ${url}`)),
      { timeoutMs: 20_000, what: 'the endpoint to be healthy again', intervalMs: 200 },
    );
    expect(
      lines.some((l) => l.level === 'info' && l.msg === 'calls to a function endpoint succeed again'),
    ).toBe(true);
  }, 60_000);
});
