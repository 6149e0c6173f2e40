// A reply to a request past its retention (dev mode, a retention of 2 s): the caller got 202, the
// results URL answers 404 once the retention is over, and the function's reply that comes after
// that is dead-lettered with REPLY_REQUEST_GONE and counted as `gone`, not stored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve, statefulFunction, types, type ServerHandle } from '@continuum/sdk';
import { startDevRuntime, type DevRuntime } from '../../src/dev-runtime.js';
import { Header } from '../../src/core/envelope.js';
import { silentLogger } from '../../src/logger.js';
import { parseModule } from '../../src/module/index.js';
import { endpointDoc, readTopic } from '../dev/support.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

describe('a reply to a request past its retention', () => {
  let service: ServerHandle;
  let dev: DevRuntime;
  let base: string;
  let admin: string;
  const gates = new Map<string, () => void>();

  beforeAll(async () => {
    const slow = statefulFunction({
      typename: 'example/slow',
      specs: {},
      async handler(ctx) {
        await new Promise<void>((resolve) => gates.set(ctx.self.id, resolve));
        ctx.reply('too late');
      },
    });
    service = await serve({ functions: [slow], port: 0, logger: false });
    const module = [
      endpointDoc('example/*', service.port),
      [
        'kind: io.continuum.http.v1/ingress',
        'spec:',
        '  id: example/requests',
        '  port: 0',
        '  defaultTimeout: 1s',
        '  maxTimeout: 1s',
        '  retention: 2s',
      ].join('\n'),
    ].join('\n---\n');
    dev = await startDevRuntime({
      module: parseModule(module, 'reply-gone.yaml'),
      logger: silentLogger,
      partitions: 2,
      adminPort: 0,
    });
    base = `http://127.0.0.1:${dev.servers.find((s) => s.name === 'http ingress example/requests')!.port}`;
    admin = `http://127.0.0.1:${dev.servers.find((s) => s.name === 'admin')!.port}`;
  });

  afterAll(async () => {
    for (const open of gates.values()) open();
    await dev?.stop();
    await service?.close();
  });

  const goneCount = async (): Promise<number> => {
    const text = await (await fetch(`${admin}/metrics`)).text();
    const line = text
      .split('\n')
      .find((l) => l.startsWith('continuum_replies_total{') && l.includes('result="gone"'));
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
  };

  it('is dead-lettered with REPLY_REQUEST_GONE and the results URL stays 404', async () => {
    const res = await fetch(`${base}/v1/invoke/example/slow/s1?timeout=200ms`, {
      method: 'POST',
      body: Buffer.from(types.string.serialize('x')),
      headers: { 'content-type': 'application/vnd.io.statefun.types/string', 'idempotency-key': 'gone-1' },
    });
    expect(res.status).toBe(202);
    const location = res.headers.get('location')!;
    const requestId = res.headers.get('continuum-request-id')!;
    expect(location).toBe(`/v1/invoke/results/${requestId}`);
    expect((await fetch(`${base}${location}`)).status).toBe(202);
    expect(await goneCount()).toBe(0);

    // The retention ends while the function still works on the message.
    await waitUntil(() => gates.has('s1'), { timeoutMs: 10_000, what: 'the function to be invoked' });
    await waitUntil(async () => (await fetch(`${base}${location}`)).status === 404, {
      timeoutMs: 15_000,
      what: 'the results URL to forget the request after its retention',
      intervalMs: 100,
    });
    gates.get('s1')!();

    let letters: Awaited<ReturnType<typeof readTopic>> = [];
    await waitUntil(
      async () => {
        letters = (await readTopic(dev.log, 'continuum-dead-letters')).filter(
          (r) => r.headers[Header.code] === 'REPLY_REQUEST_GONE',
        );
        return letters.length === 1;
      },
      { timeoutMs: 10_000, what: 'the late reply to be dead-lettered' },
    );
    expect(letters[0]!.headers[Header.caller]).toBe('example/slow/s1');
    expect(letters[0]!.headers[Header.reason]).toContain(requestId);
    expect(await goneCount()).toBe(1);
    // Not stored: the results URL still does not know the request.
    const after = await fetch(`${base}${location}`);
    expect(after.status).toBe(404);
    expect(await after.json()).toMatchObject({ code: 'REQUEST_UNKNOWN' });
  });
});
