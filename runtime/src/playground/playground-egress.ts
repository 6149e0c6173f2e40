// The playground HTTP egress (`io.statefun.playground.v1/egress`): `GET /<topic>` pops the
// oldest unread payload of a declared topic (200), or answers 404 when there is none. With
// `?wait=5s` it waits up to that long for a payload first (a reply becomes readable only when
// its checkpoint commits). Read positions are kept in a small file so a restart does not hand out
// a payload twice.
import { existsSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import Fastify, { type FastifyInstance } from 'fastify';
import { playgroundTopic } from '../core/module-routers.js';
import type { Log } from '../log/log.js';
import type { ListeningServer } from './playground-ingress.js';
import { requireBearerToken } from './bearer-guard.js';
import { closeWithin } from './bounded-close.js';
import { DEFAULTS } from '../defaults.js';

export interface PlaygroundEgressOptions {
  port: number;
  host?: string | undefined;
  topics: readonly string[];
  log: Log;
  /** Where read positions survive restarts; in memory when absent. */
  cursorFile?: string | undefined;
  /** When set, every request needs `Authorization: Bearer <token>` (401 otherwise). */
  token?: string | undefined;
  /** Requests waiting with `?wait=` at once; more are answered 503. @defaultValue 64 */
  maxWaiters?: number | undefined;
  /** How often a waiting request looks for a new payload. @defaultValue 50 */
  pollIntervalMs?: number | undefined;
}

/** The longest `?wait=` accepted. */
export const MAX_EGRESS_WAIT_MS = 60_000;

/**
 * A `wait` query value in milliseconds: `250ms`, `5s`, `1m`, or a bare number of seconds.
 * Throws a message naming the value when it is not one of these or exceeds a minute.
 */
export function parseWait(raw: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(raw.trim());
  if (m === null)
    throw new Error(
      `wait must be a duration such as 500ms, 5s or 1m (a bare number is seconds), not "${raw}"`,
    );
  const n = Number(m[1]);
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
  if (ms > MAX_EGRESS_WAIT_MS) throw new Error(`wait must be at most 60s, not "${raw}"`);
  return Math.round(ms);
}

export function buildPlaygroundEgress(opts: PlaygroundEgressOptions): FastifyInstance {
  const app = Fastify();
  requireBearerToken(app, opts.token, 'playground');
  const topics = new Set(opts.topics);
  const cursors: Record<string, number[]> =
    opts.cursorFile !== undefined && existsSync(opts.cursorFile)
      ? (JSON.parse(readFileSync(opts.cursorFile, 'utf8')) as Record<string, number[]>)
      : {};
  let saving = Promise.resolve();
  const save = (): Promise<void> => {
    const file = opts.cursorFile;
    if (file === undefined) return Promise.resolve();
    const text = JSON.stringify(cursors);
    saving = saving.then(async () => {
      await writeFile(`${file}.tmp`, text);
      await rename(`${file}.tmp`, file);
    });
    return saving;
  };
  // One pop at a time, so two concurrent GETs never return the same payload.
  let popping: Promise<unknown> = Promise.resolve();
  const pop = (topic: string): Promise<Uint8Array | undefined> => {
    const next = popping.then(async () => {
      const reader = opts.log.reader(playgroundTopic(topic));
      const parts = await reader.partitions();
      const positions = (cursors[topic] ??= []);
      for (let p = 0; p < parts; p++) {
        const [record] = await reader.read(p, positions[p] ?? 0, 1);
        if (record === undefined) continue;
        positions[p] = record.offset + 1;
        await save();
        return record.value ?? new Uint8Array();
      }
      return undefined;
    });
    popping = next.catch(() => undefined);
    return next;
  };

  // Waiting requests poll the log; closing the server wakes them so they answer at once.
  const maxWaiters = opts.maxWaiters ?? 64;
  const pollMs = opts.pollIntervalMs ?? 50;
  const wakers = new Set<() => void>();
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    for (const wake of wakers) wake();
    done();
  });
  const pause = (ms: number): Promise<void> =>
    new Promise((res) => {
      const wake = (): void => {
        clearTimeout(timer);
        wakers.delete(wake);
        res();
      };
      const timer = setTimeout(wake, ms);
      wakers.add(wake);
    });
  let waiting = 0;

  app.get('/:topic', async (req, reply) => {
    const { topic } = req.params as { topic: string };
    if (!topics.has(topic)) {
      return reply.code(404).send({ error: `topic ${topic} is not declared by the playground egress` });
    }
    const { wait } = req.query as { wait?: string | string[] };
    let waitMs = 0;
    if (wait !== undefined) {
      try {
        waitMs = parseWait(Array.isArray(wait) ? String(wait[0]) : wait);
      } catch (e) {
        return reply.code(400).send({ error: (e as Error).message });
      }
    }
    let payload = await pop(topic);
    if (payload === undefined && waitMs > 0 && !closing) {
      if (waiting >= maxWaiters) {
        return reply
          .code(503)
          .send({ error: `${maxWaiters} requests are already waiting on this egress; retry later` });
      }
      waiting++;
      try {
        const deadline = Date.now() + waitMs;
        while (payload === undefined && !closing && Date.now() < deadline) {
          await pause(Math.min(pollMs, deadline - Date.now()));
          payload = await pop(topic);
        }
      } finally {
        waiting--;
      }
    }
    return payload === undefined
      ? reply.code(404).send()
      : reply.code(200).header('content-type', 'application/octet-stream').send(Buffer.from(payload));
  });
  return app;
}

export async function startPlaygroundEgress(opts: PlaygroundEgressOptions): Promise<ListeningServer> {
  const app = buildPlaygroundEgress(opts);
  await app.listen({ port: opts.port, host: opts.host ?? DEFAULTS.host });
  const addr = app.server.address();
  return {
    port: typeof addr === 'object' && addr !== null ? addr.port : opts.port,
    close: () => closeWithin(app),
  };
}
