// The README's dev-mode walk-through, run for real: module.playground.yaml on the dev runtime (on
// free ports), the counters served over HTTP, events sent to the playground ingress with their event
// time, results and late events read from the playground egress.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseModule, silentLogger, startDevRuntime, type DevRuntime } from '@continuum/runtime';
import { serveFromEnv, type ServerHandle } from '@continuum/sdk';
import { functions } from '../src/index.js';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen({ port: 0, host: '127.0.0.1' }, () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

async function poll<T>(read: () => Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the README walk-through in dev mode', () => {
  let service: ServerHandle;
  let dev: DevRuntime;
  let ingressPort: number;
  let egressPort: number;

  beforeAll(async () => {
    service = await serveFromEnv(functions, {
      env: { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' },
      closeOnSignals: false,
    });
    const fnPort = new URL(service.url).port;
    [ingressPort, egressPort] = [await freePort(), await freePort()];
    const text = readFileSync(new URL('../module.playground.yaml', import.meta.url), 'utf8')
      .replace('localhost:8003', `127.0.0.1:${fnPort}`)
      .replace('port: 8090', `port: ${ingressPort}`)
      .replace('port: 8091', `port: ${egressPort}`);
    dev = await startDevRuntime({
      module: parseModule(text, 'module.playground.yaml'),
      logger: silentLogger,
    });
  });

  afterAll(async () => {
    await dev?.stop();
    await service?.close();
  });

  const ingest = async (key: string, ts: number): Promise<void> => {
    const res = await fetch(`http://127.0.0.1:${ingressPort}/example/playground-windowed-counts/${key}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.example/Click' },
      body: JSON.stringify({ ts }),
    });
    expect(res.status).toBe(200);
  };
  const next = (topic: string) =>
    poll(async () => {
      const res = await fetch(`http://127.0.0.1:${egressPort}/${topic}`);
      return res.status === 200 ? (JSON.parse(await res.text()) as unknown) : undefined;
    }, `a record on ${topic}`);

  it('counts a window with an out-of-order event once the watermark passes it, and reports a late event', async () => {
    await ingest('page-a', 1_700_000_005_000);
    await ingest('page-a', 1_700_000_030_000);
    await ingest('page-a', 1_700_000_027_000);
    await ingest('page-b', 1_700_000_070_000);
    expect(await next('window-counts')).toEqual({
      key: 'page-a',
      start: 1_699_999_980_000,
      end: 1_700_000_040_000,
      count: 3,
    });
    await ingest('page-a', 1_700_000_002_000);
    expect(await next('late-events')).toEqual({
      key: 'page-a',
      eventTime: 1_700_000_002_000,
      watermark: 1_700_000_065_000,
    });
    // page-b's window is still open: nothing else came out.
    const res = await fetch(`http://127.0.0.1:${egressPort}/window-counts`);
    expect(res.status).toBe(404);
  });
});
