// The admin HTTP server of a runtime process, off the data path: health and readiness probes,
// sending a message, and reading an address's state. Token-protected when a token is configured.
import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Address, TypedValue } from '@continuum/sdk/protocol';
import { parseAddressKey } from '../core/address.js';
import type { Runtime } from '../runtime.js';
import type { StoredValue } from '../state/state-store.js';
import { describeValue } from './describe-value.js';

export interface AdminServerOptions {
  runtime: Runtime;
  port: number;
  host?: string | undefined;
  /** When set, every route but the probes needs `Authorization: Bearer <token>`. */
  token?: string | undefined;
  /** Ready when this returns true (e.g. all assigned partitions recovered). */
  ready?: (() => boolean) | undefined;
}

const sendBody = z.object({
  target: z.string().min(1),
  typename: z.string().min(1),
  /** UTF-8 text sent as the raw value bytes. */
  value: z.string().optional(),
  /** Base64 value bytes (binary payloads). */
  valueBase64: z.string().optional(),
});

export function buildAdminServer(opts: AdminServerOptions): FastifyInstance {
  const app = Fastify();
  const token =
    opts.token === undefined || opts.token === '' ? undefined : Buffer.from(`Bearer ${opts.token}`);
  app.addHook('onRequest', async (req, reply) => {
    if (token === undefined || req.url === '/healthz' || req.url === '/readyz') return;
    const given = Buffer.from(req.headers.authorization ?? '');
    if (given.length !== token.length || !timingSafeEqual(given, token)) {
      await reply.code(401).send({ error: 'missing or wrong admin token (Authorization: Bearer <token>)' });
    }
  });
  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/readyz', (_req, reply) => {
    const ready = opts.ready?.() ?? true;
    return reply.code(ready ? 200 : 503).send({ ready, partitions: opts.runtime.ownedPartitions });
  });
  app.post('/v1/messages', async (req, reply) => {
    const parsed = sendBody.safeParse(req.body);
    if (!parsed.success)
      return reply
        .code(400)
        .send({ error: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') });
    let target: Address;
    try {
      target = parseAddressKey(parsed.data.target);
    } catch (err) {
      return reply.code(400).send({ error: (err as Error).message });
    }
    const value =
      parsed.data.valueBase64 !== undefined
        ? new Uint8Array(Buffer.from(parsed.data.valueBase64, 'base64'))
        : new TextEncoder().encode(parsed.data.value ?? '');
    const argument: TypedValue = { typename: parsed.data.typename, hasValue: true, value };
    await opts.runtime.send([{ target, argument }]);
    return { accepted: true };
  });
  app.get('/v1/state/*', async (req, reply) => {
    const key = (req.params as { '*': string })['*'];
    let address: Address;
    try {
      address = parseAddressKey(key);
    } catch (err) {
      return reply.code(400).send({ error: (err as Error).message });
    }
    const states = await opts.runtime.state(address);
    if (states === undefined)
      return reply.code(404).send({ error: `partition of ${key} is not owned by this process` });
    return { address: key, states: Object.fromEntries([...states].map(([name, v]) => [name, render(v)])) };
  });
  return app;
}

function render(v: StoredValue): Record<string, unknown> {
  return { typename: v.typename, ...describeValue(v.typename, v.value), expiresAt: v.expiresAt };
}
