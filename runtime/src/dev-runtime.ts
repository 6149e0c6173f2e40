// Assembles a runtime on the embedded adapters for dev mode: the durable in-process log and
// file-backed state in a data directory, the HTTP function client, the playground ingress and
// egress servers, the admin server (metrics, dashboard, admin API) and optional tracing.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TracerProvider } from '@opentelemetry/api';
import { startAdminServer } from './admin/admin-server.js';
import { moduleEgressRouter, moduleFunctionRouter } from './core/module-routers.js';
import { defaultTaskConfig, type TaskConfig, type TaskHooks } from './core/partition-task.js';
import { watermarkRecords } from './core/envelope.js';
import { watermarkGroupsOf } from './ingress/event-time.js';
import { EmbeddedLog } from './log/embedded-log.js';
import type { Logger } from './logger.js';
import { combineObservers } from './metrics/combine-observers.js';
import { RuntimeMetrics } from './metrics/runtime-metrics.js';
import type { ModuleConfig } from './module/types.js';
import { startPlaygroundEgress } from './playground/playground-egress.js';
import { startPlaygroundIngress, type ListeningServer } from './playground/playground-ingress.js';
import { Runtime } from './runtime.js';
import { EmbeddedStateStore } from './state/embedded-state-store.js';
import { Tracing } from './tracing/tracing.js';
import { HttpFunctionClient } from './transport/http-function-client.js';

export interface DevRuntimeOptions {
  module: ModuleConfig;
  /** Where the log and state live; in memory when undefined. */
  dataDir?: string | undefined;
  partitions?: number | undefined;
  adminPort?: number | undefined;
  adminToken?: string | undefined;
  host?: string | undefined;
  logger: Logger;
  task?: Partial<TaskConfig> | undefined;
  hooks?: TaskHooks | undefined;
  /** Traces messages through this provider's tracer; no tracing when absent. */
  tracerProvider?: TracerProvider | undefined;
  /** How often the dashboard history takes a sample. @defaultValue 2000 */
  metricsSampleIntervalMs?: number | undefined;
}

export interface DevRuntime {
  runtime: Runtime;
  log: EmbeddedLog;
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
  const functions = moduleFunctionRouter(module);
  const deadLetterTopic = opts.task?.deadLetterTopic ?? defaultTaskConfig.deadLetterTopic;
  const metrics = new RuntimeMetrics({
    internalTopic: log.internalTopic,
    deadLetterTopic,
    sampleIntervalMs: opts.metricsSampleIntervalMs,
    // End offsets of the embedded log are an in-process read: no reason to cache them.
    lagCacheMs: 0,
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
  const client = new HttpFunctionClient(metrics.clientCallbacks());
  const runtime = new Runtime({
    log,
    store,
    client,
    functions,
    egress: moduleEgressRouter(module),
    task: opts.task,
    hooks: opts.hooks,
    logger,
    observer: combineObservers(metrics.observer, tracing?.observer),
    watermarkGroups: watermarkGroupsOf(module, 'dev'),
  });
  metrics.attach({
    tasks: () => runtime.runningTasks(),
    recovering: () => runtime.restarting,
    ready: () => runtime.ready,
    clientLoad: () => client.load,
    endOffsets: (partitions) =>
      Promise.resolve(new Map(partitions.map((p) => [p, log.endOffset(log.internalTopic, p)]))),
  });
  const listening: { name: string; server: ListeningServer }[] = [];
  const stop = async (): Promise<void> => {
    for (const { server } of listening.splice(0)) await server.close();
    await runtime.stop();
    metrics.close();
    tracing?.close();
  };
  try {
    await runtime.start();
    const host = opts.host ?? '127.0.0.1';
    for (const ingress of module.playgroundIngresses) {
      const server = await startPlaygroundIngress({
        port: ingress.port,
        host,
        functions,
        send: (m) => runtime.send(m, 'playground'),
        eventTime: ingress.eventTime,
        appendMarks: (mark) =>
          log.append(watermarkRecords(log.internalTopic, log.partitions, mark, Date.now())),
        logger,
      });
      listening.push({ name: 'playground ingress', server });
    }
    for (const egress of module.playgroundEgresses) {
      const server = await startPlaygroundEgress({
        port: egress.port,
        host,
        topics: egress.topics,
        log,
        cursorFile:
          dataDir === undefined ? undefined : join(dataDir, `playground-egress-${egress.port}.json`),
      });
      listening.push({ name: 'playground egress', server });
    }
    if (opts.adminPort !== undefined) {
      const admin = await startAdminServer({
        runtime,
        port: opts.adminPort,
        host,
        token: opts.adminToken,
        ready: () => runtime.ready,
        metrics,
        deadLetterTopic,
        mode: 'dev',
        clientLoad: () => client.load,
        logger,
      });
      listening.push({ name: 'admin', server: admin });
    }
    for (const k of module.kafkaIngresses) {
      logger.warn(
        'dev mode does not read Kafka ingress topics; use the playground ingress or `statefun send`',
        { ingress: k.id },
      );
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    runtime,
    log,
    metrics,
    servers: listening.map((l) => ({ name: l.name, port: l.server.port })),
    stop,
  };
}
