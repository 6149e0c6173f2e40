// The admin HTTP server of a runtime process, off the data path: health and readiness probes,
// Prometheus `/metrics`, the dashboard, and the admin API (partitions, state and delayed messages
// of an address, sending messages, dead letters and their replay). When a token is configured,
// everything but the probes and the dashboard's static files needs `Authorization: Bearer <token>`.
import type { PendingRequest } from '../request-reply/request-server.js';
import type { RequestsSummary } from '../request-reply/request-metrics.js';
import { timingSafeEqual } from 'node:crypto';
import { hostname } from 'node:os';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { z } from 'zod';
import type { Address, TypedValue } from '@continuum/sdk/protocol';
import { addressKey, parseAddressKey, partitionOf } from '../core/address.js';
import { deadLetterCodes, isDeadLetterCode } from '../core/dead-letter-codes.js';
import { defaultTaskConfig } from '../core/partition-task.js';
import { ContinuumError } from '../errors.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { RuntimeMetrics } from '../metrics/runtime-metrics.js';
import type { PartitionTask } from '../core/partition-task.js';
import type { Log } from '../log/log.js';
import type { IngressMessage } from '../observers.js';
import type { StoredTimer, StoredValue } from '../state/state-store.js';
import { dashboardAssets } from './dashboard-assets.js';
import { DeadLetterError, DeadLetters } from './dead-letters.js';
import {
  clusterView,
  LocalMembership,
  memberReport,
  type ClusterView,
  type Membership,
} from '../cluster/membership.js';
import { describeRecordValue, describeValue } from './describe-value.js';
import type { DevTopicView, ProduceRecord, TopicPage } from '../ingress/dev-kafka.js';
import { buildOverview } from './overview.js';
import type { ClientLoad } from './overview.js';

/** What the admin server needs of the runtime of its process (the `Runtime` provides it). */
export interface AdminRuntime {
  /** True once every assigned partition has recovered and runs. */
  readonly ready: boolean;
  /** The log the runtime runs on: its partition count, internal topic and the dead-letter reader. */
  readonly messageLog: Log;
  /** Owned partitions whose task has recovered and runs. */
  readonly ownedPartitions: number[];
  /** The tasks of the partitions this process owns. */
  runningTasks(): readonly PartitionTask[];
  /** The task of a partition owned here. */
  task(partition: number): PartitionTask | undefined;
  /** True when an endpoint of the module serves `functionType`. */
  serves(functionType: string): boolean;
  /** Appends messages from outside (`source` names the sender in metrics and traces). */
  send(messages: readonly IngressMessage[], source?: string): Promise<void>;
  /** The state of an address; undefined when its partition is not owned here. */
  state(address: Address): Promise<Map<string, StoredValue> | undefined>;
}

export interface AdminServerOptions {
  runtime: AdminRuntime;
  /** Unused by {@link buildAdminServer}; {@link startAdminServer} listens on it. */
  port?: number | undefined;
  host?: string | undefined;
  /** When set, every route but the probes and the dashboard's static files needs this bearer token. */
  token?: string | undefined;
  /** Ready when this returns true (e.g. all assigned partitions recovered). */
  ready?: (() => boolean) | undefined;
  /** The process's metrics (`/metrics`, the dashboard); a bare set reading the tasks when absent. */
  metrics?: RuntimeMetrics | undefined;
  /** Topic the partition tasks write dead letters to. @defaultValue continuum-dead-letters */
  deadLetterTopic?: string | undefined;
  /** Name of this process as the owner of its partitions. @defaultValue `<hostname>/<pid>` */
  instance?: string | undefined;
  /** Shown on the dashboard. @defaultValue 'dev' */
  mode?: 'dev' | 'production' | undefined;
  /** In-flight and queued calls of the function client, in total and per endpoint with calls. */
  clientLoad?: (() => ClientLoad) | undefined;
  /** Requests of the request-response ingress waiting in this process (at most `max`). */
  pendingRequests?: ((max: number) => readonly PendingRequest[]) | undefined;
  /** Request-response figures for `/v1/overview`; absent when the module declares no such ingress. */
  requests?: (() => RequestsSummary) | undefined;
  /** The processes of the deployment (`/v1/cluster`); this process alone when absent. */
  membership?: Membership | undefined;
  /** Dev mode: the module's Kafka topics (`/v1/topics`); absent in production. */
  topics?: TopicsAccess | undefined;
  logger?: Logger | undefined;
}

/** The module's Kafka ingress and egress topics as dev mode keeps them. */
export interface TopicsAccess {
  readonly mode: 'embedded' | 'kafka';
  readonly brokers: string[];
  topics(): Promise<DevTopicView[]>;
  produce(topic: string, records: readonly ProduceRecord[]): Promise<void>;
  read(topic: string, cursor: string | undefined, limit: number): Promise<TopicPage>;
  /** How an ingress topic's values decode (its ingress's value type). */
  valueTypeOf(topic: string): string | undefined;
}

const produceBody = z
  .object({
    records: z
      .array(
        z
          .object({
            key: z.string().nullable(),
            /** UTF-8 text written as the value bytes. */
            value: z.string().optional(),
            /** Base64 value bytes (binary payloads). */
            valueBase64: z.string().optional(),
            headers: z.record(z.string(), z.string()).optional(),
          })
          .strict(),
      )
      .min(1)
      .max(1000),
  })
  .strict();

const topicRecordsQuery = z.object({
  from: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

const sendBody = z.object({
  target: z.string().min(1),
  typename: z.string().min(1),
  /** UTF-8 text sent as the raw value bytes. */
  value: z.string().optional(),
  /** Base64 value bytes (binary payloads). */
  valueBase64: z.string().optional(),
  /**
   * Refuse (404) a target whose function type no endpoint serves, as the playground ingress does;
   * without it such a message is accepted and dead-lettered with FUNCTION_UNKNOWN.
   */
  requireEndpoint: z.boolean().optional(),
});

const deadLetterQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  code: z
    .string()
    .refine(isDeadLetterCode, {
      error: (issue) =>
        `${JSON.stringify(String(issue.input).slice(0, 64))} is not a dead-letter code; the codes are ${Object.keys(deadLetterCodes).join(', ')}`,
    })
    .optional(),
});

const replayQuery = z
  .object({
    /** Replay even when the letter was replayed before. */
    force: z.enum(['true', 'false'], { error: 'force must be true or false' }).optional(),
  })
  .strict();

/** Standard base64 with padding, as Buffer.toString('base64') writes it. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/u;

const replayBody = z
  .object({
    /** Send to this address instead of the letter's target. */
    target: z.string().min(1).optional(),
    /** Type name of the value, for letters that carry none (raw ingress records). */
    typename: z.string().min(1).optional(),
  })
  .strict()
  .default({});

/** Paths served without the token: probes, and the dashboard's static files (they hold no data). */
function isPublic(path: string): boolean {
  return (
    path === '/healthz' ||
    path === '/readyz' ||
    path === '/' ||
    path === '/dashboard' ||
    Object.hasOwn(dashboardAssets, path)
  );
}

const errorStatus: Record<string, number> = {
  DEAD_LETTER_NOT_FOUND: 404,
  DEAD_LETTER_ID_INVALID: 400,
  DEAD_LETTER_NOT_REPLAYABLE: 409,
  DEAD_LETTER_ALREADY_REPLAYED: 409,
  DEAD_LETTER_REPLAY_IN_PROGRESS: 409,
  DEAD_LETTER_REPLAYS_BUSY: 503,
  DEAD_LETTER_TOPIC_BEHIND: 503,
  TOPIC_UNKNOWN: 404,
  CURSOR_INVALID: 400,
};

/** Builds the admin server (not listening; `inject()` works for tests). */
export function buildAdminServer(opts: AdminServerOptions): FastifyInstance {
  const { runtime } = opts;
  const log = opts.logger ?? silentLogger;
  // Off the data path: closing cuts open connections (a dashboard left open in a browser keeps one)
  // instead of holding up the shutdown, whose last checkpoint comes after it.
  const app = Fastify({ bodyLimit: 4 * 1024 * 1024, forceCloseConnections: true });
  const token =
    opts.token === undefined || opts.token === '' ? undefined : Buffer.from(`Bearer ${opts.token}`);
  const instance = opts.instance ?? `${hostname()}/${process.pid}`;
  const ready = (): boolean => opts.ready?.() ?? runtime.ready;
  const deadLetterTopic = opts.deadLetterTopic ?? defaultTaskConfig.deadLetterTopic;
  const metrics =
    opts.metrics ??
    new RuntimeMetrics({
      internalTopic: runtime.messageLog.internalTopic,
      deadLetterTopic,
      processMetrics: false,
    });
  if (opts.metrics === undefined) {
    metrics.attach({ tasks: () => runtime.runningTasks(), ready });
    app.addHook('onClose', () => metrics.close());
  }
  const membership =
    opts.membership ??
    new LocalMembership(async () =>
      memberReport(instance, metrics.startedAt, ready(), await metrics.partitions()),
    );
  const cluster = async (): Promise<ClusterView> =>
    clusterView(runtime.messageLog.partitions, await membership.members());
  const deadLetters = new DeadLetters({
    log: runtime.messageLog,
    topic: deadLetterTopic,
    internalTopic: runtime.messageLog.internalTopic,
  });

  // An empty body with a JSON content type is an empty request, not an error (replay takes none).
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    try {
      done(null, JSON.parse(text) as unknown);
    } catch {
      done(Object.assign(new Error('the request body is not valid JSON'), { statusCode: 400 }), undefined);
    }
  });

  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    if (token === undefined || isPublic(path)) return;
    const given = Buffer.from(req.headers.authorization ?? '');
    if (given.length !== token.length || !timingSafeEqual(given, token)) {
      await reply.code(401).send({ error: 'missing or wrong admin token (Authorization: Bearer <token>)' });
    }
  });

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof ContinuumError) {
      const status = errorStatus[err.code] ?? 500;
      if (status === 500) log.error('admin request failed', { path: req.url, err });
      const previous = err instanceof DeadLetterError ? err.previous : undefined;
      return reply.code(status).send({
        error: err.message,
        code: err.code,
        ...(previous === undefined ? {} : { replayedAt: previous.at, replayedTo: previous.target }),
      });
    }
    const status = (err as { statusCode?: number }).statusCode ?? 500;
    if (status >= 500) log.error('admin request failed', { path: req.url, err });
    return reply.code(status).send({ error: (err as Error).message });
  });

  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/readyz', (_req, reply) => {
    const ok = ready();
    return reply.code(ok ? 200 : 503).send({ ready: ok, partitions: runtime.ownedPartitions });
  });

  app.get('/metrics', async (_req, reply) => {
    const text = await metrics.text();
    return reply.header('content-type', metrics.contentType).send(text);
  });

  app.get('/', (_req, reply) => reply.redirect('/dashboard/'));
  app.get('/dashboard', (_req, reply) => reply.redirect('/dashboard/'));
  for (const [path, asset] of Object.entries(dashboardAssets)) {
    app.get(path, (_req, reply) =>
      reply
        .header('content-type', asset.type)
        .header('cache-control', 'no-cache')
        .header('x-content-type-options', 'nosniff')
        .header(
          'content-security-policy',
          "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
        )
        .send(asset.body),
    );
  }

  app.get('/v1/overview', () =>
    buildOverview({
      instance,
      mode: opts.mode ?? 'dev',
      metrics,
      deadLetters,
      ready,
      clientLoad: opts.clientLoad,
      cluster,
      topics: opts.topics,
      requests: opts.requests,
    }),
  );

  const topicsAccess = (reply: FastifyReply): TopicsAccess | undefined => {
    if (opts.topics !== undefined) return opts.topics;
    void reply.code(404).send({
      error:
        'Kafka topics are served by `statefun dev` only; in production read and write them with Kafka tools',
    });
    return undefined;
  };

  app.get('/v1/topics', async (_req, reply) => {
    const topics = topicsAccess(reply);
    if (topics === undefined) return reply;
    return { mode: topics.mode, brokers: topics.brokers, topics: await topics.topics() };
  });

  app.post('/v1/topics/:topic/records', async (req, reply) => {
    const topics = topicsAccess(reply);
    if (topics === undefined) return reply;
    const parsed = produceBody.safeParse(req.body);
    if (!parsed.success) return badRequest(reply, parsed.error);
    const { topic } = req.params as { topic: string };
    const records = parsed.data.records.map((r) => ({
      key: r.key,
      value:
        r.valueBase64 !== undefined
          ? new Uint8Array(Buffer.from(r.valueBase64, 'base64'))
          : r.value === undefined
            ? null
            : new TextEncoder().encode(r.value),
      headers: r.headers,
    }));
    await topics.produce(topic, records);
    return { topic, written: records.length };
  });

  app.get('/v1/topics/:topic/records', async (req, reply) => {
    const topics = topicsAccess(reply);
    if (topics === undefined) return reply;
    const parsed = topicRecordsQuery.safeParse(req.query);
    if (!parsed.success) return badRequest(reply, parsed.error);
    const { topic } = req.params as { topic: string };
    const page = await topics.read(topic, parsed.data.from, parsed.data.limit);
    const valueType = topics.valueTypeOf(topic);
    return {
      topic,
      next: page.next,
      records: page.records.map((r) => ({
        partition: r.partition,
        offset: r.offset,
        timestamp: new Date(r.timestamp).toISOString(),
        key: r.key,
        headers: r.headers,
        ...(r.value === null ? { value: null } : describeRecordValue(valueType, r.value)),
      })),
    };
  });

  app.get('/v1/cluster', cluster);

  app.get<{ Querystring: { limit?: string } }>('/v1/requests/pending', (req, reply) => {
    const limit = req.query.limit === undefined ? 100 : Number(req.query.limit);
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 10_000) {
      return reply
        .code(400)
        .send({ error: `limit must be a whole number from 1 to 10000, got ${req.query.limit}` });
    }
    const pending = opts.pendingRequests?.(limit) ?? [];
    return {
      requests: pending.map((p) => ({
        ...p,
        since: new Date(p.since).toISOString(),
        timeoutAt: new Date(p.timeoutAt).toISOString(),
      })),
    };
  });

  app.get('/v1/partitions', async () => ({
    instance,
    totalPartitions: runtime.messageLog.partitions,
    partitions: (await metrics.partitions()).map((p) => ({ ...p, owner: instance })),
  }));

  app.post('/v1/messages', async (req, reply) => {
    const parsed = sendBody.safeParse(req.body);
    if (!parsed.success) return badRequest(reply, parsed.error);
    let target: Address;
    try {
      target = parseAddressKey(parsed.data.target);
    } catch (err) {
      return reply.code(400).send({ error: (err as Error).message });
    }
    const functionType = `${target.namespace}/${target.type}`;
    if (parsed.data.requireEndpoint === true && !runtime.serves(functionType))
      return reply
        .code(404)
        .send({ error: `no endpoint in module.yaml serves function type ${functionType}` });
    const { value: text, valueBase64 } = parsed.data;
    if (text !== undefined && valueBase64 !== undefined) {
      return reply.code(400).send({ error: 'give value (UTF-8 text) or valueBase64 (bytes), not both' });
    }
    if (valueBase64 !== undefined && !BASE64.test(valueBase64)) {
      return reply.code(400).send({
        error: `valueBase64 is not base64 (${describeBase64Problem(valueBase64)}); expected standard base64 with padding, e.g. "CAE=" for the bytes 08 01`,
      });
    }
    const value =
      valueBase64 !== undefined
        ? new Uint8Array(Buffer.from(valueBase64, 'base64'))
        : new TextEncoder().encode(text ?? '');
    const argument: TypedValue = { typename: parsed.data.typename, hasValue: true, value };
    await runtime.send([{ target, argument }], 'admin');
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
    const states = await runtime.state(address);
    if (states === undefined) {
      const partition = partitionOf(address, runtime.messageLog.partitions, runtime.messageLog.partitioning);
      return reply.code(404).send({
        error: `partition ${partition} of ${key} is not owned by this process (${instance}); ask the process that owns it (GET /v1/partitions on each)`,
      });
    }
    const canonical = addressKey(address);
    const now = Date.now();
    const partition = partitionOf(address, runtime.messageLog.partitions, runtime.messageLog.partitioning);
    // A delayed message lives in its sender's partition: an event-time one waits for that
    // partition's watermark, which need not be this address's.
    const delayed = runtime
      .runningTasks()
      .flatMap((task) =>
        task
          .delayedMessages(canonical, maxDelayedShown)
          .map((timer) => ({ timer, watermark: task.watermark })),
      )
      .sort((a, b) => timerOrder(a.timer) - timerOrder(b.timer) || a.timer.fireAt - b.timer.fireAt)
      .slice(0, maxDelayedShown)
      .map(({ timer, watermark }) => renderTimer(timer, canonical, now, watermark));
    return {
      address: key,
      partition,
      owner: instance,
      watermark: isoOrNull(runtime.task(partition)?.watermark),
      states: Object.fromEntries([...states].map(([name, v]) => [name, render(v)])),
      delayed,
    };
  });

  app.get('/v1/dead-letters', async (req, reply) => {
    const parsed = deadLetterQuery.safeParse(req.query);
    if (!parsed.success) return badRequest(reply, parsed.error);
    return deadLetters.list(parsed.data);
  });

  app.post('/v1/dead-letters/:id/replay', async (req, reply) => {
    const parsed = replayBody.safeParse(req.body ?? undefined);
    if (!parsed.success) return badRequest(reply, parsed.error);
    const query = replayQuery.safeParse(req.query);
    if (!query.success) return badRequest(reply, query.error);
    const { id } = req.params as { id: string };
    const force = query.data.force === 'true';
    const done = await deadLetters.replay(runtime, id, parsed.data, { force });
    log.info('dead letter replayed', {
      id,
      target: done.target,
      ...(done.previous === undefined ? {} : { forced: true, previouslyAt: done.previous.at }),
    });
    return { replayed: true, ...done };
  });

  return app;
}

/** A listening admin server. */
export interface AdminServer {
  port: number;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** Builds the admin server and listens on `port` (0: a free one) at `host`. */
export async function startAdminServer(
  opts: AdminServerOptions & { port: number; host: string },
): Promise<AdminServer> {
  const app = buildAdminServer(opts);
  await app.listen({ port: opts.port, host: opts.host });
  const a = app.server.address();
  return {
    port: typeof a === 'object' && a !== null ? a.port : opts.port,
    app,
    close: () => app.close(),
  };
}

const maxDelayedShown = 100;

function badRequest(reply: FastifyReply, error: z.ZodError): FastifyReply {
  return reply
    .code(400)
    .send({ error: error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') });
}

function render(v: StoredValue): Record<string, unknown> {
  return {
    typename: v.typename,
    ...describeValue(v.typename, v.value),
    expiresAt: isoOrNull(v.expiresAt) ?? undefined,
    expiresAtMs: v.expiresAt,
  };
}

/** Processing-time delayed messages first (soonest first), then event-time timers by time. */
function timerOrder(t: StoredTimer): number {
  return t.kind === 'event-time' ? 1 : 0;
}

function isoOrNull(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}

/**
 * A pending delayed message. Processing-time ones fire on the clock (`fireAt`, `dueInMs`);
 * event-time timers fire when the watermark of the partition holding them reaches their
 * `eventTime`, so they have no due time on the clock (`dueInMs: null`) and show that watermark.
 */
function renderTimer(
  t: StoredTimer,
  key: string,
  now: number,
  watermark: number | undefined,
): Record<string, unknown> {
  const token = t.id.slice(t.id.indexOf('\u0000') + 1);
  const common = {
    direction: t.callerKey === key ? (t.targetKey === key ? 'self' : 'outgoing') : 'incoming',
    target: t.targetKey,
    caller: t.callerKey,
    cancellationToken: t.userToken ? token : undefined,
  };
  const value = { typename: t.typename, ...describeValue(t.typename, t.value) };
  if (t.kind === 'event-time') {
    return {
      kind: 'event-time',
      ...common,
      eventTime: new Date(t.fireAt).toISOString(),
      dueInMs: null,
      watermark: isoOrNull(watermark),
      ...value,
    };
  }
  return {
    kind: 'processing-time',
    ...common,
    fireAt: new Date(t.fireAt).toISOString(),
    fireAtMs: t.fireAt,
    dueInMs: Math.max(0, t.fireAt - now),
    ...value,
  };
}

function describeBase64Problem(text: string): string {
  const bad = /[^A-Za-z0-9+/=]/u.exec(text);
  if (bad !== null) return `character ${JSON.stringify(bad[0])} at position ${bad.index}`;
  return `${text.length} characters with this padding; base64 comes in groups of 4`;
}
