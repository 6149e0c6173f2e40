// Assembles a production runtime process: the Kafka log (internal topic, transactional
// checkpoints), Redis state, the HTTP function client, Kafka ingresses, optional playground
// servers, the admin server (metrics, dashboard, admin API) and optional tracing. Many such
// processes share the partitions through the group.
import { hostname } from 'node:os';
import type { TracerProvider } from '@opentelemetry/api';
import { Redis } from 'ioredis';
import { assembleRuntime, startServers } from './assembly.js';
import { memberReport, RedisMembership } from './cluster/membership.js';
import { defaultTaskConfig, type TaskConfig, type TaskHooks } from './core/partition-task.js';
import { KafkaIngress } from './ingress/kafka-ingress.js';
import { createKafka, type KafkaConnection } from './log/kafka/client.js';
import { KafkaLog } from './log/kafka/kafka-log.js';
import type { Logger } from './logger.js';
import type { RuntimeMetrics } from './metrics/runtime-metrics.js';
import type { ModuleConfig } from './module/types.js';
import type { ListeningServer } from './playground/playground-ingress.js';
import type { Runtime } from './runtime.js';
import { RedisStateStore } from './state/redis-state-store.js';

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

export async function startProdRuntime(opts: ProdRuntimeOptions): Promise<ProdRuntime> {
  const { module, logger } = opts;
  const groupId = opts.groupId ?? 'continuum-runtime';
  const deadLetterTopic = opts.task?.deadLetterTopic ?? defaultTaskConfig.deadLetterTopic;
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
  const log = new KafkaLog({
    connection,
    logger,
    groupId,
    identity: instance,
    internalTopic: opts.internalTopic,
    partitions: opts.partitions,
    ensureTopics: [{ topic: deadLetterTopic, partitions: 1 }],
    sessionTimeoutMs: opts.sessionTimeoutMs,
    commitLingerMs: opts.commitLingerMs,
    transactionTimeoutMs: opts.transactionTimeoutMs,
    fetchMinBytes: opts.fetchMinBytes,
    fetchMaxWaitMs: opts.fetchMaxWaitMs,
  });
  // Auto-pipelining: the partitions of one process transaction stage (and promote) in the same
  // turn of the event loop, so their scripts reach Redis in one write and share its fsync.
  const redis = new Redis(opts.redisUrl, {
    password: opts.redisPassword,
    lazyConnect: false,
    enableAutoPipelining: true,
  });
  const store = new RedisStateStore({ redis, keyPrefix: opts.keyPrefix });
  const assemblyOptions = { ...opts, mode: 'production' as const, log, store };
  const assembly = assembleRuntime(assemblyOptions);
  const { runtime, metrics, tracing, client } = assembly;
  const kafka = createKafka(connection, logger);
  const admin = kafka.admin();
  const ingresses: KafkaIngress[] = [];
  const started: KafkaIngress[] = [];
  const ingressIds = new Map<KafkaIngress, string>();
  metrics.attach({
    tasks: () => runtime.runningTasks(),
    recovering: () => runtime.restarting,
    ready: () => runtime.ready,
    clientLoad: () => client.load,
    endOffsets: async () => {
      // High watermarks: records written to the internal topic, committed or still in a transaction.
      const offsets = await admin.fetchTopicOffsets(log.internalTopic);
      return new Map(offsets.map((o) => [o.partition, Number(o.high)]));
    },
    ingresses: () => ingresses.map((i) => ({ id: ingressIds.get(i) ?? '?', stats: i.stats })),
  });
  const membership = new RedisMembership({
    redis,
    keyPrefix: opts.keyPrefix ?? 'continuum',
    instance,
    report: async () => memberReport(instance, metrics.startedAt, runtime.ready, await metrics.partitions()),
    intervalMs: opts.membershipIntervalMs,
    logger,
  });
  const listening: { name: string; server: ListeningServer }[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(listening.splice(0).map(({ server }) => server.close()));
    for (const i of ingresses.splice(0)) await i.stop();
    logger.info('stopping: the Kafka ingresses have stopped');
    await membership.close();
    await runtime.stop();
    logger.info('stopping: the partitions are released');
    await admin.disconnect().catch(() => undefined);
    redis.disconnect();
    metrics.close();
    tracing?.close();
  };
  try {
    await log.connect();
    await admin.connect();
    await runtime.start();
    for (const ingress of module.kafkaIngresses) {
      const i = new KafkaIngress({
        ingress,
        kafka,
        admin,
        transactions: log.transactions,
        internalTopic: log.internalTopic,
        partitions: log.partitions,
        deadLetterTopic,
        runtimeGroupId: groupId,
        logger: logger.child({ ingress: ingress.id }),
        sessionTimeoutMs: opts.sessionTimeoutMs,
        fetchMinBytes: opts.fetchMinBytes,
        fetchMaxWaitMs: opts.fetchMaxWaitMs,
        // Its records' counts come from its stats; only tracing watches the moves.
        observer: tracing?.observer,
      });
      started.push(i);
      await i.start();
      ingressIds.set(i, ingress.id);
      ingresses.push(i);
    }
    listening.push(
      ...(await startServers(assembly, {
        ...assemblyOptions,
        host: opts.host ?? '127.0.0.1',
        instance,
        membership,
      })),
    );
    membership.start();
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
