// Assembles a runtime on the embedded adapters for dev mode: the durable in-process log and
// file-backed state in a data directory, the HTTP function client, the playground ingress and
// egress servers and the admin server declared for it.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildAdminServer } from './admin/admin-server.js';
import { moduleEgressRouter, moduleFunctionRouter } from './core/module-routers.js';
import type { TaskConfig, TaskHooks } from './core/partition-task.js';
import { EmbeddedLog } from './log/embedded-log.js';
import type { Logger } from './logger.js';
import type { ModuleConfig } from './module/types.js';
import { startPlaygroundEgress } from './playground/playground-egress.js';
import { startPlaygroundIngress, type ListeningServer } from './playground/playground-ingress.js';
import { Runtime } from './runtime.js';
import { EmbeddedStateStore } from './state/embedded-state-store.js';
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
}

export interface DevRuntime {
  runtime: Runtime;
  log: EmbeddedLog;
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
  const runtime = new Runtime({
    log,
    store,
    client: new HttpFunctionClient(),
    functions,
    egress: moduleEgressRouter(module),
    task: opts.task,
    hooks: opts.hooks,
    logger,
  });
  const listening: { name: string; server: ListeningServer }[] = [];
  const stop = async (): Promise<void> => {
    for (const { server } of listening.splice(0)) await server.close();
    await runtime.stop();
  };
  try {
    await runtime.start();
    const host = opts.host ?? '127.0.0.1';
    for (const ingress of module.playgroundIngresses) {
      const server = await startPlaygroundIngress({
        port: ingress.port,
        host,
        functions,
        send: (m) => runtime.send(m),
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
      const app = buildAdminServer({
        runtime,
        port: opts.adminPort,
        token: opts.adminToken,
        ready: () => runtime.ready,
      });
      await app.listen({ port: opts.adminPort, host });
      const a = app.server.address();
      listening.push({
        name: 'admin',
        server: {
          port: typeof a === 'object' && a !== null ? a.port : opts.adminPort,
          close: () => app.close(),
        },
      });
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
  return { runtime, log, servers: listening.map((l) => ({ name: l.name, port: l.server.port })), stop };
}
