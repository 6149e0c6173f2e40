// Assembles a runtime on the embedded adapters for dev mode: the durable in-process log and
// file-backed state in a data directory, the HTTP function client, the playground ingress and
// egress servers, the admin server (metrics, dashboard, admin API) and optional tracing.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TracerProvider } from '@opentelemetry/api';
import { assembleRuntime, attachMetrics, startServers } from './assembly.js';
import type { TaskConfig, TaskHooks } from './core/partition-task.js';
import { DevKafka } from './ingress/dev-kafka.js';
import { EmbeddedLog } from './log/embedded-log.js';
import type { KafkaConnection } from './log/kafka/client.js';
import type { Logger } from './logger.js';
import type { RuntimeMetrics } from './metrics/runtime-metrics.js';
import type { ModuleConfig } from './module/types.js';
import type { ListeningServer } from './playground/playground-ingress.js';
import type { Runtime } from './runtime.js';
import { EmbeddedStateStore } from './state/embedded-state-store.js';
import type { RequestSigner } from './transport/request-signer.js';
import { DEFAULTS } from './defaults.js';

export interface DevRuntimeOptions {
  module: ModuleConfig;
  /** Where the log and state live; in memory when undefined. */
  dataDir?: string | undefined;
  partitions?: number | undefined;
  adminPort?: number | undefined;
  adminToken?: string | undefined;
  /** Bearer token the playground ingress and egress require; open when undefined. */
  playgroundToken?: string | undefined;
  /** Signs every request to function endpoints; unsigned when absent. */
  requestSigner?: RequestSigner | undefined;
  host?: string | undefined;
  logger: Logger;
  task?: Partial<TaskConfig> | undefined;
  hooks?: TaskHooks | undefined;
  /** Traces messages through this provider's tracer; no tracing when absent. */
  tracerProvider?: TracerProvider | undefined;
  /** How often the dashboard history takes a sample. @defaultValue 2000 */
  metricsSampleIntervalMs?: number | undefined;
  /**
   * Read the Kafka ingress topics from this broker and forward Kafka egress records to it; without
   * it they are topics of the embedded log (`statefun produce` / `statefun consume`).
   */
  kafka?: KafkaConnection | undefined;
}

export interface DevRuntime {
  runtime: Runtime;
  log: EmbeddedLog;
  /** The module's Kafka ingress and egress topics in dev mode. */
  topics: DevKafka;
  /** The process's metrics (what `/metrics` and the dashboard show). */
  metrics: RuntimeMetrics;
  servers: { name: string; port: number }[];
  stop(): Promise<void>;
}

export async function startDevRuntime(opts: DevRuntimeOptions): Promise<DevRuntime> {
  const { module, dataDir, logger } = opts;
  if (dataDir !== undefined) mkdirSync(dataDir, { recursive: true });
  const log = await EmbeddedLog.open({
    dir: dataDir === undefined ? undefined : join(dataDir, 'log'),
    partitions: opts.partitions ?? 4,
  });
  const store = new EmbeddedStateStore({ dir: dataDir === undefined ? undefined : join(dataDir, 'state') });
  // End offsets of the embedded log are an in-process read: no reason to cache them.
  const assemblyOptions = { ...opts, mode: 'dev' as const, log, store, lagCacheMs: 0 };
  const assembly = assembleRuntime(assemblyOptions);
  const { runtime, metrics, tracing } = assembly;
  const topics = new DevKafka({
    module,
    log,
    deadLetterTopic: assembly.deadLetterTopic,
    logger: logger.child({ component: 'dev-kafka' }),
    observer: tracing?.observer,
    kafka: opts.kafka,
  });
  attachMetrics(assembly, log, () => topics.ingressStats());
  const listening: { name: string; server: ListeningServer }[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(listening.splice(0).map(({ server }) => server.close()));
    await topics.stop();
    await runtime.stop();
    metrics.close();
    tracing?.close();
  };
  try {
    await runtime.start();
    await topics.start();
    listening.push(
      ...(await startServers(assembly, {
        ...assemblyOptions,
        host: opts.host ?? DEFAULTS.host,
        cursorFile:
          dataDir === undefined ? undefined : (port) => join(dataDir, `playground-egress-${port}.json`),
        topics,
      })),
    );
    for (const k of module.kafkaIngresses) {
      logger.info(
        opts.kafka === undefined
          ? 'Kafka ingress reads embedded topics; write to them with `statefun produce <topic> --key K --json ...`'
          : 'Kafka ingress reads its topics from the broker given with --kafka',
        { ingress: k.id, topics: k.topics.map((t) => t.topic).join(',') },
      );
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    runtime,
    log,
    topics,
    metrics,
    servers: listening.map((l) => ({ name: l.name, port: l.server.port })),
    stop,
  };
}
