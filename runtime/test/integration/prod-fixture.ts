// A production runtime (real Kafka + Redis) on the operability fixture's functions, with unique
// topic, group and key names per test and an optional Kafka ingress into ops/counter.
import { inject } from 'vitest';
import { uniqueName, waitUntil } from '@continuum/test-infra';
import { createLogger, silentLogger } from '../../src/logger.js';
import { parseModule } from '../../src/module/index.js';
import { startProdRuntime, type ProdRuntime, type ProdRuntimeOptions } from '../../src/prod-runtime.js';
import type { OpsFunctions } from '../metrics/ops-fixture.js';

export const testLogger = process.env.TEST_LOG === '1' ? createLogger({ level: 'debug' }) : silentLogger;

export interface ProdNames {
  input: string;
  internal: string;
  group: string;
  deadLetters: string;
  prefix: string;
}

/** Unique names for one test's runtime: its input topic, internal topic, group, dead letters, Redis prefix. */
export function prodNames(stem: string): ProdNames {
  return {
    input: uniqueName(`${stem}-in`),
    internal: uniqueName(`${stem}-internal`),
    group: uniqueName(`${stem}-group`),
    deadLetters: uniqueName(`${stem}-dead-letters`),
    prefix: uniqueName(stem),
  };
}

/** A Kafka ingress document: `names.input` (values ops/Text) into ops/counter. */
export function counterIngressDoc(id: string, names: ProdNames): string {
  return [
    'kind: io.statefun.kafka.v1/ingress',
    'spec:',
    `  id: ${id}`,
    `  address: ${inject('kafkaBrokers')}`,
    '  startupPosition: {type: earliest}',
    '  topics:',
    `    - topic: ${names.input}`,
    '      valueType: ops/Text',
    '      targets: [ops/counter]',
  ].join('\n');
}

/**
 * Starts a production runtime on the fixture's functions (plus `extraDocs`) and waits until it owns
 * every partition when `waitForAll` (the default).
 */
export async function startOpsRuntime(
  fns: OpsFunctions,
  names: ProdNames,
  opts: Partial<ProdRuntimeOptions> & { partitions: number; extraDocs?: string[]; waitForAll?: boolean },
): Promise<ProdRuntime> {
  const { extraDocs = [], waitForAll = true, ...rest } = opts;
  const prod = await startProdRuntime({
    module: parseModule([...fns.moduleDocs, ...extraDocs].join('\n---\n'), `${names.prefix}-module.yaml`),
    kafka: { brokers: inject('kafkaBrokers').split(',') },
    redisUrl: inject('redisUrl'),
    groupId: names.group,
    internalTopic: names.internal,
    keyPrefix: names.prefix,
    sessionTimeoutMs: 10_000,
    logger: testLogger,
    task: { checkpointIntervalMs: 100, deadLetterTopic: names.deadLetters },
    ...rest,
  });
  if (waitForAll) {
    await waitUntil(() => prod.runtime.ready && prod.runtime.ownedPartitions.length === opts.partitions, {
      timeoutMs: 60_000,
      what: 'the runtime to own every partition',
      intervalMs: 100,
    });
  }
  return prod;
}

/** The base URL of a runtime's admin server. */
export function adminUrl(prod: ProdRuntime): string {
  return `http://127.0.0.1:${prod.servers.find((s) => s.name === 'admin')!.port}`;
}
