// Assembles a production runtime process: the Kafka log (internal topic, transactional
// checkpoints), Redis state, the HTTP function client, Kafka ingresses, optional playground
// servers, the admin server (metrics, dashboard, admin API) and optional tracing. Many such
// processes share the partitions through the group.
import { hostname } from 'node:os';
import type { TracerProvider } from '@opentelemetry/api';
import { Redis } from 'ioredis';
import { assembleRuntime, attachMetrics, startServers } from './assembly.js';
import { memberReport, RedisMembership } from './cluster/membership.js';
import { defaultTaskConfig, type TaskConfig, type TaskHooks } from './core/partition-task.js';
import { ProcessBudget } from './core/process-budget.js';
import { KafkaIngress } from './ingress/kafka-ingress.js';
import { createKafka, type KafkaConnection } from './log/kafka/client.js';
import { KafkaLog } from './log/kafka/kafka-log.js';
import type { Logger } from './logger.js';
import type { RuntimeMetrics } from './metrics/runtime-metrics.js';
import type { ModuleConfig } from './module/types.js';
import type { ListeningServer } from './playground/playground-ingress.js';
import type { Runtime } from './runtime.js';
import { RedisReplyStore } from './request-reply/redis-reply-store.js';
import { KafkaReplyFeed } from './request-reply/reply-feed.js';
import { RedisStateStore } from './state/redis-state-store.js';
import { resolvePartitioning, type PartitioningChoice } from './state/partitioning.js';
import type { Partitioning } from './log/partitioner.js';
import type { RequestSigner } from './transport/request-signer.js';
import { DEFAULTS } from './defaults.js';

export interface ProdRuntimeOptions {
  module: ModuleConfig;
  kafka: KafkaConnection;
  redisUrl: string;
  redisPassword?: string | undefined;
  /** Partitions of the internal topic (fixed for the life of a deployment). */
  partitions?: number | undefined;
  /** Consumer group shared by all runtime processes of one application. */
  groupId?: string | undefined;
  internalTopic?: string | undefined;
  keyPrefix?: string | undefined;
  adminPort?: number | undefined;
  adminToken?: string | undefined;
  /** Bearer token the playground ingress and egress require; open when undefined. */
  playgroundToken?: string | undefined;
  /** Signs every request to function endpoints; unsigned when absent. */
  requestSigner?: RequestSigner | undefined;
  /** Interface the servers bind to; 0.0.0.0 in a pod, loopback by default. */
  host?: string | undefined;
  /** Kafka consumer-group session timeout. @defaultValue 6000 */
  sessionTimeoutMs?: number | undefined;
  /** Process transactions start at least this far apart. @defaultValue 20 */
  commitLingerMs?: number | undefined;
  /** The broker aborts an open transaction of a crashed process after this long. @defaultValue 10000 */
  transactionTimeoutMs?: number | undefined;
  /** Kafka fetches wait for this many bytes or `fetchMaxWaitMs`. @defaultValue 1 and 500 */
  fetchMinBytes?: number | undefined;
  fetchMaxWaitMs?: number | undefined;
  /**
   * A Kafka ingress hands records whose partition this process owns to its task instead of
   * appending them to the internal topic. @defaultValue true
   */
  ingressHandOff?: boolean | undefined;
  /**
   * Handed-over ingress records not yet durable, all Kafka ingresses of the process together.
   * @defaultValue 5000
   */
  maxHandedOverRecords?: number | undefined;
  /**
   * Ingress records read and not yet moved, all Kafka ingresses of the process together.
   * @defaultValue 10000
   */
  ingressMaxQueuedRecords?: number | undefined;
  /** Most bytes one fetch of a Kafka ingress brings. @defaultValue 1048576 */
  ingressFetchMaxBytes?: number | undefined;
  /**
   * How addresses pick their partition. Undefined: the deployment's recorded one, or
   * `DEFAULTS.run.partitioning` for a new deployment; a different recorded one refuses the start.
   */
  partitioning?: Partitioning | undefined;
  logger: Logger;
  task?: Partial<TaskConfig> | undefined;
  hooks?: TaskHooks | undefined;
  /** Traces messages through this provider's tracer; no tracing when absent. */
  tracerProvider?: TracerProvider | undefined;
  /** How often the dashboard history takes a sample. @defaultValue 2000 */
  metricsSampleIntervalMs?: number | undefined;
  /**
   * This process as the owner of its partitions, and the name of its Kafka transactional ids:
   * keep it across restarts of the same process (a pod name) and unique among live processes.
   * @defaultValue `<hostname>/<pid>` (in Kubernetes the pod name and a pid that a container
   * restart keeps)
   */
  instance?: string | undefined;
  /** How often this process reports itself to the cluster view (`/v1/cluster`). @defaultValue 5000 */
  membershipIntervalMs?: number | undefined;
}

export interface ProdRuntime {
  runtime: Runtime;
  log: KafkaLog;
  /** The process's metrics (what `/metrics` and the dashboard show). */
  metrics: RuntimeMetrics;
  ingresses: KafkaIngress[];
  servers: { name: string; port: number }[];
  stop(): Promise<void>;
  /**
   * Leaves the consumer groups (internal log and Kafka ingresses) at once, for a stop that did
   * not finish in time: the partitions move now instead of after the session timeout.
   */
  abandon(): Promise<void>;
}

/**
 * The Kafka cluster of a module: the runtime's own brokers when given, else the first address a
 * Kafka ingress or egress names. Transactions span one cluster, so everything uses it.
 */
export function moduleBrokers(module: ModuleConfig, given: string[]): string[] {
  if (given.length > 0) return given;
  for (const c of [...module.kafkaIngresses, ...module.kafkaEgresses])
    if (c.brokers.length > 0) return [...c.brokers];
  return [];
}

/**
 * A Redis client error listener: a warn line at the first error, then at most one every 10 s
 * with the count since the last line (a reconnect loop emits one error per attempt).
 */
/**
 * The Redis client of the state store. Auto-pipelining: the partitions of one process transaction
 * stage (and promote) in the same turn of the event loop, so their scripts reach Redis in one write
 * and share its fsync. A command unanswered for `DEFAULTS.run.redisCommandTimeoutMs` fails, so
 * its partition task fails and recovers instead of waiting for good: after a Redis restart in the
 * fault test a partition once stalled without any error, its addresses never loaded (a command in
 * flight across the restart that never settled is the explanation we found).
 */
export function stateRedis(
  url: string,
  password: string | undefined,
  commandTimeoutMs: number = DEFAULTS.run.redisCommandTimeoutMs,
): Redis {
  return new Redis(url, {
    password,
    lazyConnect: false,
    enableAutoPipelining: true,
    commandTimeout: commandTimeoutMs,
  });
}

export function redisErrorLogger(logger: Logger, intervalMs = 10_000): (err: Error) => void {
  let lastLogged = -Infinity;
  let suppressed = 0;
  return (err) => {
    const now = performance.now();
    if (now - lastLogged < intervalMs) {
      suppressed++;
      return;
    }
    logger.warn('Redis connection error; the client reconnects', {
      error: err.message,
      ...(suppressed > 0 ? { suppressedSinceLast: suppressed } : {}),
    });
    lastLogged = now;
    suppressed = 0;
  };
}

export async function startProdRuntime(opts: ProdRuntimeOptions): Promise<ProdRuntime> {
  const { module, logger } = opts;
  const groupId = opts.groupId ?? DEFAULTS.groupId;
  const deadLetterTopic = opts.task?.deadLetterTopic ?? defaultTaskConfig.deadLetterTopic;
  const repliesTopic = opts.task?.repliesTopic ?? defaultTaskConfig.repliesTopic;
  const requestReply = (module.httpIngresses ?? []).length > 0;
  const brokers = moduleBrokers(module, opts.kafka.brokers);
  const connection: KafkaConnection = { ...opts.kafka, brokers };
  for (const c of [...module.kafkaIngresses, ...module.kafkaEgresses]) {
    if (c.brokers.length > 0 && c.brokers.join(',') !== brokers.join(',')) {
      logger.warn(
        'this component names other brokers; the runtime uses its own Kafka cluster for every topic',
        {
          component: c.id,
          address: c.brokers.join(','),
          brokers: brokers.join(','),
        },
      );
    }
  }
  const instance = opts.instance ?? `${hostname()}/${process.pid}`;
  const redis = stateRedis(opts.redisUrl, opts.redisPassword);
  // Without a listener ioredis prints "Unhandled error event" with a stack to stderr on every
  // failed reconnect, outside the JSON log; the store's own calls report their failures.
  redis.on('error', redisErrorLogger(logger));
  // The deployment's partitioning is kept in Redis with its state (an address's state lives in its
  // partition): adopted from there, or recorded now for a new deployment.
  let partitioning: PartitioningChoice;
  try {
    partitioning = await resolvePartitioning(
      redis,
      opts.keyPrefix ?? DEFAULTS.redisKeyPrefix,
      opts.partitioning,
      DEFAULTS.run.partitioning,
    );
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  logger.info('partitioning', { partitioning: partitioning.partitioning, origin: partitioning.origin });
  const log = new KafkaLog({
    connection,
    logger,
    groupId,
    identity: instance,
    internalTopic: opts.internalTopic,
    partitions: opts.partitions,
    partitioning: partitioning.partitioning,
    ensureTopics: [
      { topic: deadLetterTopic, partitions: 1 },
      ...(requestReply ? [{ topic: repliesTopic, partitions: opts.partitions ?? 8 }] : []),
    ],
    sessionTimeoutMs: opts.sessionTimeoutMs,
    commitLingerMs: opts.commitLingerMs,
    transactionTimeoutMs: opts.transactionTimeoutMs,
    fetchMinBytes: opts.fetchMinBytes,
    fetchMaxWaitMs: opts.fetchMaxWaitMs,
  });
  const store = new RedisStateStore({ redis, keyPrefix: opts.keyPrefix });
  const replyStore = new RedisReplyStore({ redis, keyPrefix: opts.keyPrefix, logger });
  const assemblyOptions = { ...opts, mode: 'production' as const, log, store, replyStore };
  const assembly = assembleRuntime(assemblyOptions);
  const { runtime, metrics, tracing } = assembly;
  const kafka = createKafka(connection, logger);
  const ingresses: KafkaIngress[] = [];
  const started: KafkaIngress[] = [];
  const ingressIds = new Map<KafkaIngress, string>();
  attachMetrics(assembly, log, () =>
    ingresses.map((i) => ({ id: ingressIds.get(i) ?? '?', stats: i.stats })),
  );
  const membership = new RedisMembership({
    redis,
    keyPrefix: opts.keyPrefix ?? DEFAULTS.redisKeyPrefix,
    instance,
    report: async () => memberReport(instance, metrics.startedAt, runtime.ready, await metrics.partitions()),
    intervalMs: opts.membershipIntervalMs,
    logger,
  });
  const listening: { name: string; server: ListeningServer }[] = [];
  let replyFeed: KafkaReplyFeed | undefined;
  const stop = async (): Promise<void> => {
    await Promise.all(listening.splice(0).map(({ server }) => server.close()));
    await replyFeed?.stop();
    await replyStore.close();
    for (const i of ingresses.splice(0)) await i.stop();
    logger.info('stopping: the Kafka ingresses have stopped');
    await membership.close();
    await runtime.stop();
    logger.info('stopping: the partitions are released');
    redis.disconnect();
    metrics.close();
    tracing?.close();
  };
  try {
    await log.connect();
    const source = log.ingressSource();
    await runtime.start();
    // What the Kafka ingresses hold in memory is bounded per process, whatever it owns.
    const queueBudget = new ProcessBudget(
      'CONTINUUM_INGRESS_MAX_QUEUED_RECORDS',
      opts.ingressMaxQueuedRecords ?? DEFAULTS.run.ingressMaxQueuedRecords,
    );
    const handOffBudget = new ProcessBudget(
      'CONTINUUM_MAX_HANDED_OVER_RECORDS',
      opts.maxHandedOverRecords ?? DEFAULTS.run.maxHandedOverRecords,
    );
    for (const ingress of module.kafkaIngresses) {
      const i = new KafkaIngress({
        queueBudget,
        handOffBudget,
        ingress,
        source,
        internalTopic: log.internalTopic,
        partitions: log.partitions,
        partitioning: log.partitioning,
        deadLetterTopic,
        runtimeGroupId: groupId,
        logger: logger.child({ ingress: ingress.id }),
        sessionTimeoutMs: opts.sessionTimeoutMs,
        fetchMinBytes: opts.fetchMinBytes,
        fetchMaxWaitMs: opts.fetchMaxWaitMs,
        fetchMaxBytes: opts.ingressFetchMaxBytes ?? DEFAULTS.run.ingressFetchMaxBytes,
        // Its records' counts come from its stats; only tracing watches the moves.
        observer: tracing?.observer,
        handOff:
          (opts.ingressHandOff ?? DEFAULTS.run.ingressHandOff) ? (p) => runtime.handOffTarget(p) : undefined,
      });
      started.push(i);
      await i.start();
      ingressIds.set(i, ingress.id);
      ingresses.push(i);
    }
    if (requestReply) {
      // Replies are stored (and announced) by whichever process reads their partition of the
      // replies topic; the announcement channel is subscribed before any request is taken.
      await replyStore.ready();
      replyFeed = new KafkaReplyFeed({
        kafka,
        groupId: `${groupId}-replies`,
        topic: repliesTopic,
        feed: assembly.replies.feed,
        logger: logger.child({ component: 'replies' }),
        sessionTimeoutMs: opts.sessionTimeoutMs,
      });
      await replyFeed.start();
    }
    listening.push(
      ...(await startServers(assembly, {
        ...assemblyOptions,
        host: opts.host ?? DEFAULTS.host,
        instance,
        membership,
      })),
    );
    membership.start();
    if (module.playgroundIngresses.length > 0 && opts.playgroundToken === undefined) {
      logger.warn(
        'the playground ingress accepts messages from anyone who reaches its port; set CONTINUUM_PLAYGROUND_TOKEN to require a bearer token',
        { ports: module.playgroundIngresses.map((i) => i.port).join(',') },
      );
    }
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
  return {
    runtime,
    log,
    metrics,
    ingresses,
    servers: listening.map((l) => ({ name: l.name, port: l.server.port })),
    stop,
    abandon: async () => {
      await Promise.allSettled([log.abandon(), ...started.map((i) => i.abandon())]);
    },
  };
}
