// The playground HTTP egress (`io.statefun.playground.v1/egress`): `GET /<topic>` pops the
// oldest unread payload of a declared topic (200), or answers 404 when there is none. Read
// positions are kept in a small file so a restart does not hand out a payload twice.
import { existsSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import Fastify, { type FastifyInstance } from 'fastify';
import { playgroundTopic } from '../core/module-routers.js';
import type { Log } from '../log/log.js';
import type { ListeningServer } from './playground-ingress.js';
import { requireBearerToken } from './bearer-guard.js';
import { closeWithin } from './bounded-close.js';

export interface PlaygroundEgressOptions {
  port: number;
  host?: string | undefined;
  topics: readonly string[];
  log: Log;
  /** Where read positions survive restarts; in memory when absent. */
  cursorFile?: string | undefined;
  /** When set, every request needs `Authorization: Bearer <token>` (401 otherwise). */
  token?: string | undefined;
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
  app.get('/:topic', (req, reply) => {
    const { topic } = req.params as { topic: string };
    if (!topics.has(topic)) {
      return reply.code(404).send({ error: `topic ${topic} is not declared by the playground egress` });
    }
    const pop = popping.then(async () => {
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
    popping = pop.catch(() => undefined);
    return pop.then((payload) =>
      payload === undefined
        ? reply.code(404).send()
        : reply.code(200).header('content-type', 'application/octet-stream').send(Buffer.from(payload)),
    );
  });
  return app;
}

export async function startPlaygroundEgress(opts: PlaygroundEgressOptions): Promise<ListeningServer> {
  const app = buildPlaygroundEgress(opts);
  await app.listen({ port: opts.port, host: opts.host ?? '127.0.0.1' });
  const addr = app.server.address();
  return {
    port: typeof addr === 'object' && addr !== null ? addr.port : opts.port,
    close: () => closeWithin(app),
  };
}
