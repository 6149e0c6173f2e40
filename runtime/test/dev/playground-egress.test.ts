// The playground egress pops payloads in order, and `?wait=` long-polls for one: the request
// answers as soon as a payload is readable, 404 when the time is up, and at once on shutdown.
import { afterEach, describe, expect, it } from 'vitest';
import { playgroundTopic } from '../../src/core/module-routers.js';
import { EmbeddedLog } from '../../src/log/embedded-log.js';
import type { Log } from '../../src/log/log.js';
import { parseWait, startPlaygroundEgress } from '../../src/playground/playground-egress.js';
import type { ListeningServer } from '../../src/playground/playground-ingress.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

/** An embedded log whose readers count their reads, so a test can see a waiting request poll. */
async function countingLog(): Promise<{ log: Log; embedded: EmbeddedLog; reads: () => number }> {
  const embedded = await EmbeddedLog.open({ partitions: 2 });
  await embedded.createTopic(playgroundTopic('greetings'), 2);
  let reads = 0;
  const log = Object.create(embedded) as Log;
  log.reader = (topic) => {
    const reader = embedded.reader(topic);
    return {
      partitions: () => reader.partitions(),
      read: (p, offset, max) => {
        reads++;
        return reader.read(p, offset, max);
      },
    };
  };
  return { log, embedded, reads: () => reads };
}

const servers: ListeningServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function egress(log: Log, maxWaiters?: number): Promise<string> {
  const server = await startPlaygroundEgress({ port: 0, topics: ['greetings'], log, maxWaiters });
  servers.push(server);
  return `http://127.0.0.1:${server.port}`;
}

async function publish(log: EmbeddedLog, text: string): Promise<void> {
  await log.append([{ topic: playgroundTopic('greetings'), key: null, value: Buffer.from(text) }]);
}

describe('playground egress', () => {
  it('answers 404 at once without wait, and 200 with the oldest payload once there is one', async () => {
    const { log, embedded } = await countingLog();
    const base = await egress(log);
    expect((await fetch(`${base}/greetings`)).status).toBe(404);
    await publish(embedded, 'first');
    await publish(embedded, 'second');
    expect(await (await fetch(`${base}/greetings`)).text()).toBe('first');
    expect(await (await fetch(`${base}/greetings`)).text()).toBe('second');
    expect((await fetch(`${base}/undeclared`)).status).toBe(404);
  });

  it('with ?wait= answers with a payload that arrives while the request waits', async () => {
    const { log, embedded, reads } = await countingLog();
    const base = await egress(log);
    const answer = fetch(`${base}/greetings?wait=30s`);
    // The request has looked more than once (two partitions per look): it is waiting.
    await waitUntil(() => reads() >= 6, { timeoutMs: 10_000, what: 'the waiting request to poll the topic' });
    await publish(embedded, 'Hello Alice! Welcome.');
    const res = await answer;
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('Hello Alice! Welcome.');
  });

  it('with ?wait= answers 404 when the time is up and nothing arrived', async () => {
    const { log } = await countingLog();
    const base = await egress(log);
    const started = Date.now();
    const res = await fetch(`${base}/greetings?wait=300ms`);
    expect(res.status).toBe(404);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('rejects a malformed or too long wait with 400 naming the value', async () => {
    const { log } = await countingLog();
    const base = await egress(log);
    const bad = await fetch(`${base}/greetings?wait=soon`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toContain('"soon"');
    const long = await fetch(`${base}/greetings?wait=5m`);
    expect(long.status).toBe(400);
    expect(((await long.json()) as { error: string }).error).toContain('at most 60s');
  });

  it('limits the waiting requests (503 beyond) and answers the waiting ones when it closes', async () => {
    const { log, reads } = await countingLog();
    const server = await startPlaygroundEgress({ port: 0, topics: ['greetings'], log, maxWaiters: 1 });
    const base = `http://127.0.0.1:${server.port}`;
    const started = Date.now();
    const waiting = fetch(`${base}/greetings?wait=60s`);
    await waitUntil(() => reads() >= 6, { timeoutMs: 10_000, what: 'the first request to wait' });
    const refused = await fetch(`${base}/greetings?wait=60s`);
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: string }).error).toContain('1 requests are already waiting');
    await server.close();
    expect((await waiting).status).toBe(404);
    // Well before the minute the request asked for.
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});

describe('parseWait', () => {
  it('reads ms, s, m and bare seconds', () => {
    expect([parseWait('250ms'), parseWait('5s'), parseWait('1m'), parseWait('2'), parseWait('1.5s')]).toEqual(
      [250, 5000, 60_000, 2000, 1500],
    );
  });
});
