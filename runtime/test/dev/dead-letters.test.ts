// A function endpoint that keeps failing past its call budget, reached through the real HTTP
// client: the message goes to the dead-letter topic with the reason, and the pipeline goes on.
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Header } from '../../src/core/envelope.js';
import { startDevRuntime, type DevRuntime } from '../../src/dev-runtime.js';
import { silentLogger } from '../../src/logger.js';
import { parseModule } from '../../src/module/index.js';
import {
  endpointDoc,
  freePorts,
  ingressJson,
  readTopic,
  serveOfficial,
  serveOnLoopback,
  sf,
  utf8,
  type LoopbackServer,
} from './support.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

const Text = sf.StateFun.jsonType<string>('test/Text');
const DEAD_LETTERS = 'continuum-dead-letters';

interface Broken {
  type: string;
  /** How the endpoint fails every request. */
  respond: (res: ServerResponse) => void;
  /** Fragments the dead letter's reason must contain. */
  reason: string[];
  /** Whether the transport must have retried within the budget (a hung attempt uses it all up). */
  retried: boolean;
}

const broken: Broken[] = [
  {
    type: 'fail/status',
    respond: (res) => res.writeHead(500, { 'content-type': 'text/plain' }).end('database is on fire'),
    reason: ['fail/status/', 'call budget 300 ms', 'HTTP 500', 'database is on fire'],
    retried: true,
  },
  {
    type: 'fail/hang',
    // Never answers: the attempt runs into the call budget.
    respond: () => undefined,
    reason: ['fail/hang/', 'no complete response before the call budget of 300 ms ran out'],
    retried: false,
  },
  {
    type: 'fail/garbage',
    respond: (res) =>
      res
        .writeHead(200, { 'content-type': 'application/octet-stream' })
        .end(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])),
    reason: ['fail/garbage/', 'call budget 300 ms', 'not a protobuf FromFunction'],
    retried: true,
  },
];

describe('dead letters through the HTTP function client', () => {
  const servers: LoopbackServer[] = [];
  const attempts = new Map<string, number>();
  const echoed: string[] = [];
  let dev: DevRuntime;
  let ingressPort: number;

  beforeAll(async () => {
    const docs: string[] = [];
    for (const b of broken) {
      const server = await serveOnLoopback((req, res) => {
        attempts.set(b.type, (attempts.get(b.type) ?? 0) + 1);
        req.resume();
        req.once('end', () => b.respond(res));
      });
      servers.push(server);
      docs.push(endpointDoc(b.type, server.port, 'transport: {call: 300ms}'));
    }
    const statefun = new sf.StateFun();
    statefun.bind({ typename: 'ok/echo', fn: (_ctx, message) => void echoed.push(message.as(Text)!) });
    const echo = await serveOfficial(statefun);
    servers.push(echo);
    docs.push(endpointDoc('ok/echo', echo.port, 'transport: {call: 300ms}'));
    [ingressPort] = (await freePorts(1)) as [number];
    docs.push(`kind: io.statefun.playground.v1/ingress\nspec: {port: ${ingressPort}}`);
    // One partition: the failing address and the healthy one share a partition task.
    dev = await startDevRuntime({
      module: parseModule(docs.join('\n---\n'), 'dead-letter-module.yaml'),
      partitions: 1,
      logger: silentLogger,
      task: { checkpointIntervalMs: 20 },
    });
  });

  afterAll(async () => {
    await dev?.stop();
    for (const s of servers) await s.close();
  });

  it.each(broken)(
    '$type: the message is dead-lettered with the reason and the next message is processed',
    async (b) => {
      const id = `m-${b.type.split('/')[1]!}`;
      const before = (await readTopic(dev.log, DEAD_LETTERS)).length;
      const sentAt = Date.now();
      await ingressJson(ingressPort, `${b.type}/${id}`, 'test/Text', `payload of ${id}`);
      await ingressJson(ingressPort, `ok/echo/after-${id}`, 'test/Text', `after ${id}`);
      await waitUntil(async () => (await readTopic(dev.log, DEAD_LETTERS)).length > before, {
        timeoutMs: 10_000,
        what: `a dead letter for ${b.type}`,
      });
      const letters = (await readTopic(dev.log, DEAD_LETTERS)).slice(before);
      expect(letters).toHaveLength(1);
      const [letter] = letters;
      expect(Date.now() - sentAt).toBeGreaterThanOrEqual(300);
      expect(letter!.headers[Header.code]).toBe('FUNCTION_CALL_FAILED');
      expect(letter!.headers[Header.target]).toBe(`${b.type}/${id}`);
      expect(letter!.headers[Header.typename]).toBe('test/Text');
      expect(letter!.headers[Header.source]).toMatch(/^continuum-internal\/0@\d+$/);
      expect(letter!.key).toBe(`${b.type}/${id}`);
      expect(utf8(letter!.value)).toContain(`payload of ${id}`);
      for (const fragment of b.reason) expect(letter!.headers[Header.reason]).toContain(fragment);
      if (b.retried) expect(attempts.get(b.type)).toBeGreaterThan(1);
      else expect(attempts.get(b.type)).toBe(1);
      await waitUntil(() => echoed.includes(`after ${id}`), {
        timeoutMs: 10_000,
        what: `the message after the ${b.type} failure`,
      });
    },
  );

  it('a failing address goes on taking messages and dead-letters each one in order', async () => {
    const before = (await readTopic(dev.log, DEAD_LETTERS)).length;
    for (const n of [1, 2]) await ingressJson(ingressPort, 'fail/status/again', 'test/Text', `again ${n}`);
    await ingressJson(ingressPort, 'ok/echo/last', 'test/Text', 'last');
    await waitUntil(async () => (await readTopic(dev.log, DEAD_LETTERS)).length === before + 2, {
      timeoutMs: 10_000,
      what: 'two more dead letters',
    });
    const letters = (await readTopic(dev.log, DEAD_LETTERS)).slice(before);
    expect(letters.map((l) => utf8(l.value))).toEqual([
      expect.stringContaining('again 1'),
      expect.stringContaining('again 2'),
    ]);
    await waitUntil(() => echoed.includes('last'), { timeoutMs: 10_000, what: 'the last healthy message' });
    expect(dev.runtime.task(0)!.stats.deadLetters).toBe(before + 2);
  });
});
