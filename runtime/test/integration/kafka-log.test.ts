// The Kafka log adapter against the real broker, with the embedded state store: end-to-end
// message flow, transactional egress, and recovery of a crashed owner.
import '../../src/log/kafka/kafkajs-patch.js';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { KafkaLog } from '../../src/log/kafka/kafka-log.js';
import { EmbeddedStateStore } from '../../src/state/embedded-state-store.js';
import { createLogger, silentLogger } from '../../src/logger.js';
const testLogger = process.env.TEST_LOG === '1' ? createLogger({ level: 'debug' }) : silentLogger;
import { addr, counter, intValue, runtimeOn, type Handler } from '../core/harness.js';
import type { Runtime } from '../../src/runtime.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

const brokers = inject('kafkaBrokers').split(',');
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function names() {
  const id = randomUUID().slice(0, 8);
  return { groupId: `g-${id}`, internalTopic: `internal-${id}`, out: `out-${id}`, dlq: `dlq-${id}` };
}

async function readCommitted(
  topic: string,
  expected: number,
  timeoutMs = 30_000,
): Promise<{ key: string | null; value: string }[]> {
  const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `reader-${randomUUID()}`, readUncommitted: false });
  const out: { key: string | null; value: string }[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: ({ message }) => {
      out.push({ key: message.key?.toString() ?? null, value: message.value?.toString() ?? '' });
      return Promise.resolve();
    },
  });
  try {
    await waitUntil(() => out.length >= expected, {
      timeoutMs: timeoutMs,
      what: `${expected} records on ${topic}`,
    });
    return out;
  } finally {
    await consumer.disconnect();
  }
}

async function start(
  n: ReturnType<typeof names>,
  handlers: Record<string, Handler>,
  store = new EmbeddedStateStore(),
): Promise<{ runtime: Runtime; log: KafkaLog }> {
  const log = new KafkaLog({
    connection: { brokers },
    logger: testLogger,
    groupId: n.groupId,
    internalTopic: n.internalTopic,
    partitions: 4,
    ensureTopics: [
      { topic: n.out, partitions: 2 },
      { topic: n.dlq, partitions: 1 },
    ],
    sessionTimeoutMs: 6000,
    heartbeatIntervalMs: 500,
  });
  const { runtime } = await runtimeOn({
    log,
    store,
    handlers,
    task: { deadLetterTopic: n.dlq },
    logger: testLogger,
  });
  cleanups.push(() => runtime.stop());
  return { runtime, log };
}

describe('Kafka log', () => {
  it('carries messages through functions to a transactional egress read with read_committed', async () => {
    const n = names();
    const ping: Handler = (req) => ({
      invocationResult: {
        stateMutations: [],
        outgoingMessages: req.invocation!.invocations.map(() => ({
          target: addr('test/counter', req.invocation!.target.id),
          argument: intValue(1),
        })),
        delayedInvocations: [],
        outgoingEgresses: [],
      },
    });
    const { runtime } = await start(n, {
      'test/ping': ping,
      'test/counter': counter({ egressTopic: n.out }),
    });
    await waitUntil(() => runtime.ownedPartitions.length === 4, {
      timeoutMs: 30_000,
      what: 'all partitions assigned',
    });
    for (let i = 0; i < 20; i++)
      await runtime.send([{ target: addr('test/ping', `k${i % 5}`), argument: intValue(1) }]);
    const out = await readCommitted(n.out, 20);
    expect(out).toHaveLength(20);
    for (let k = 0; k < 5; k++) {
      expect(out.filter((o) => o.key === `k${k}`).map((o) => o.value)).toEqual([
        `k${k}:1`,
        `k${k}:2`,
        `k${k}:3`,
        `k${k}:4`,
      ]);
    }
  });
});
