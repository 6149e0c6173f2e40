// What dev and production runtimes have in common once their log and state store are chosen:
// routers, metrics, optional tracing, the HTTP function client, the Runtime itself, and the
// playground and admin servers the module and options ask for.
import type { TracerProvider } from '@opentelemetry/api';
import { startAdminServer, type TopicsAccess } from './admin/admin-server.js';
import type { Membership } from './cluster/membership.js';
import { watermarkRecords } from './core/envelope.js';
import { moduleEgressRouter, moduleFunctionRouter } from './core/module-routers.js';
import { defaultTaskConfig, type TaskConfig, type TaskHooks } from './core/partition-task.js';
import type { FunctionRouter } from './core/routing.js';
import { watermarkGroupsOf } from './ingress/event-time.js';
import type { Log } from './log/log.js';
import type { Logger } from './logger.js';
import { combineObservers } from './metrics/combine-observers.js';
import { RuntimeMetrics, type MetricsSources } from './metrics/runtime-metrics.js';
import type { ModuleConfig } from './module/types.js';
import { startPlaygroundEgress } from './playground/playground-egress.js';
import { startPlaygroundIngress, type ListeningServer } from './playground/playground-ingress.js';
import { inProcessReplyObserver, ReplyFeed } from './request-reply/reply-feed.js';
import { MemoryReplyStore, type ReplyStore } from './request-reply/reply-store.js';
import { RequestMetrics } from './request-reply/request-metrics.js';
import { PendingRequests, startRequestServer } from './request-reply/request-server.js';
import { Runtime } from './runtime.js';
import type { StateStore } from './state/state-store.js';
import { Tracing } from './tracing/tracing.js';
import { HttpFunctionClient } from './transport/http-function-client.js';
import type { RequestSigner } from './transport/request-signer.js';

export type RuntimeMode = 'dev' | 'production';

export interface AssemblyOptions {
  mode: RuntimeMode;
  module: ModuleConfig;
  log: Log;
  store: StateStore;
  logger: Logger;
  task?: Partial<TaskConfig> | undefined;
  hooks?: TaskHooks | undefined;
  tracerProvider?: TracerProvider | undefined;
  metricsSampleIntervalMs?: number | undefined;
  /** How long consumer-lag end offsets are cached (an in-process log needs none). */
  lagCacheMs?: number | undefined;
  /** Signs every request to function endpoints; unsigned when absent. */
  requestSigner?: RequestSigner | undefined;
  /** Where request-response keeps requests and replies; in this process's memory when undefined. */
  replyStore?: ReplyStore | undefined;
}

export interface Assembly {
  runtime: Runtime;
  metrics: RuntimeMetrics;
  tracing: Tracing | undefined;
  client: HttpFunctionClient;
  functions: FunctionRouter;
  deadLetterTopic: string;
  /** Request-response: the store, the feed that fills it, the waiting requests and their metrics. */
  replies: { store: ReplyStore; feed: ReplyFeed; pending: PendingRequests; metrics: RequestMetrics };
}

export function assembleRuntime(opts: AssemblyOptions): Assembly {
  const { module, log, logger } = opts;
  const functions = moduleFunctionRouter(module);
  const deadLetterTopic = opts.task?.deadLetterTopic ?? defaultTaskConfig.deadLetterTopic;
  const metrics = new RuntimeMetrics({
    internalTopic: log.internalTopic,
    deadLetterTopic,
    sampleIntervalMs: opts.metricsSampleIntervalMs,
    ...(opts.lagCacheMs === undefined ? {} : { lagCacheMs: opts.lagCacheMs }),
    logger,
  });
  const tracing =
    opts.tracerProvider === undefined
      ? undefined
      : new Tracing({
          tracerProvider: opts.tracerProvider,
          internalTopic: log.internalTopic,
          deadLetterTopic,
        });
  const client = new HttpFunctionClient({
    ...metrics.clientCallbacks(),
    ...(opts.requestSigner === undefined ? {} : { signer: opts.requestSigner }),
  });
  const replyStore = opts.replyStore ?? new MemoryReplyStore();
  const pending = new PendingRequests(replyStore);
  const requestMetrics = new RequestMetrics(metrics.registry, () => pending.size);
  const replyFeed = new ReplyFeed({
    store: replyStore,
    deadLetterTopic,
    append: (records) => log.append(records),
    logger,
    onResult: (reply, result) => {
      requestMetrics.replyStored(result);
      // A caller waiting in this process hears at once, not after the announcement's round trip.
      if (result === 'stored') pending.deliver(reply);
    },
  });
  const repliesTopic = opts.task?.repliesTopic ?? defaultTaskConfig.repliesTopic;
  const runtime = new Runtime({
    log,
    store: opts.store,
    client,
    functions,
    egress: moduleEgressRouter(module),
    task: opts.task,
    hooks: opts.hooks,
    logger,
    observer: combineObservers(
      metrics.observer,
      tracing?.observer,
      // Committed checkpoints hand their replies to the store directly (production: the replies
      // topic's reader is the safety net for a crash in between).
      inProcessReplyObserver(replyFeed, repliesTopic, logger),
    ),
    watermarkGroups: watermarkGroupsOf(module),
  });
  return {
    runtime,
    metrics,
    tracing,
    client,
    functions,
    deadLetterTopic,
    replies: { store: replyStore, feed: replyFeed, pending, metrics: requestMetrics },
  };
}

/**
 * Points the metrics at the runtime, its function client and its log: the same sources in dev and
 * production, so consumer lag is the log's end offsets minus the committed positions either way.
 */
export function attachMetrics(
  assembly: Assembly,
  log: Log,
  ingresses: NonNullable<MetricsSources['ingresses']>,
): void {
  const { runtime, client } = assembly;
  assembly.metrics.attach({
    tasks: () => runtime.runningTasks(),
    recovering: () => runtime.restarting,
    ready: () => runtime.ready,
    clientLoad: () => ({ ...client.load, endpoints: client.endpointLoad() }),
    endOffsets: (partitions) => log.endOffsets(partitions),
    ingresses,
  });
}

export interface ServerOptions {
  host: string;
  adminPort?: number | undefined;
  adminToken?: string | undefined;
  /** Bearer token the playground ingress and egress require; open when undefined. */
  playgroundToken?: string | undefined;
  /** Production: names this process in the admin overview. */
  instance?: string | undefined;
  /** Production: the processes of the deployment, for the admin API's cluster view. */
  membership?: Membership | undefined;
  /** Where a playground egress keeps its read positions (dev); in memory when undefined. */
  cursorFile?: ((port: number) => string) | undefined;
  /** Dev mode: the module's Kafka topics (admin API `/v1/topics`, the dashboard). */
  topics?: TopicsAccess | undefined;
}

/**
 * Starts the playground ingress/egress servers the module declares and the admin server. On
 * failure the servers already listening are closed again.
 */
export async function startServers(
  assembly: Assembly,
  opts: AssemblyOptions & ServerOptions,
): Promise<{ name: string; server: ListeningServer }[]> {
  const { runtime, functions, metrics, client, deadLetterTopic } = assembly;
  const { module, log, logger, host } = opts;
  const listening: { name: string; server: ListeningServer }[] = [];
  try {
    for (const ingress of module.playgroundIngresses) {
      const server = await startPlaygroundIngress({
        port: ingress.port,
        host,
        bodyLimit: ingress.bodyLimit,
        functions,
        send: (m) => runtime.send(m, 'playground'),
        eventTime: ingress.eventTime,
        appendMarks: (mark) =>
          log.append(watermarkRecords(log.internalTopic, log.partitions, mark, Date.now())),
        logger,
        token: opts.playgroundToken,
      });
      listening.push({ name: 'playground ingress', server });
    }
    for (const ingress of module.httpIngresses ?? []) {
      const server = await startRequestServer({
        config: ingress,
        host,
        functions,
        send: (m) => runtime.send(m, `http:${ingress.id}`),
        request: (m) => runtime.request(m, `http:${ingress.id}`),
        store: assembly.replies.store,
        pending: assembly.replies.pending,
        observer: assembly.replies.metrics,
        logger,
      });
      listening.push({ name: `http ingress ${ingress.id}`, server });
    }
    for (const egress of module.playgroundEgresses) {
      const server = await startPlaygroundEgress({
        port: egress.port,
        host,
        topics: egress.topics,
        log,
        cursorFile: opts.cursorFile?.(egress.port),
        token: opts.playgroundToken,
      });
      listening.push({ name: 'playground egress', server });
    }
    if (opts.adminPort !== undefined) {
      const server = await startAdminServer({
        runtime,
        port: opts.adminPort,
        host,
        token: opts.adminToken,
        ready: () => runtime.ready,
        metrics,
        deadLetterTopic,
        mode: opts.mode,
        ...(opts.instance === undefined ? {} : { instance: opts.instance }),
        membership: opts.membership,
        topics: opts.topics,
        clientLoad: () => ({ ...client.load, endpoints: client.endpointLoad() }),
        pendingRequests: (max) => assembly.replies.pending.list(max),
        requests:
          (module.httpIngresses ?? []).length === 0 ? undefined : () => assembly.replies.metrics.summary(),
        logger,
      });
      listening.push({ name: 'admin', server });
    }
  } catch (err) {
    for (const { server } of listening) await server.close().catch(() => undefined);
    throw err;
  }
  return listening;
}
