// Ingress hand-off on the real broker and Redis: a Kafka ingress gives the records whose target
// partition its own process owns straight to the partition's task, so they never enter the
// internal topic, and every record still takes effect exactly once, across a restart that replays
// the ingress from its committed offset (which stays behind records not yet checkpointed).
import '../../src/log/kafka/kafkajs-patch.js';
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { AssignerProtocol, Kafka, logLevel } from 'kafkajs';
import type { Partitioning } from '../../src/log/partitioner.js';
import { decodeToFunction, encodeFromFunction } from '@continuum/sdk/protocol';
import { waitUntil } from '@continuum/test-infra/wait-until';
import { appendEndMarkers, END_MARKER_HEADER } from '@continuum/test-infra';
import { parseModule } from '../../src/module/index.js';
import { startProdRuntime, type ProdRuntime } from '../../src/prod-runtime.js';
import { silentLogger } from '../../src/logger.js';
import { fromInternalRecord, Header } from '../../src/core/envelope.js';
import { counter } from '../core/harness.js';

const brokers = inject('kafkaBrokers').split(',');
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const KEYS = 20;

async function setup(id: string, shape: { input: number; internal: number } = { input: 2, internal: 4 }) {
  const topics = {
    input: `ho-in-${id}`,
    out: `ho-out-${id}`,
    dlq: `ho-dlq-${id}`,
    internal: `ho-internal-${id}`,
  };
  const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic: topics.input, numPartitions: shape.input },
      { topic: topics.out, numPartitions: 1 },
    ],
  });
  await admin.disconnect();
  const handler = counter({ egressTopic: topics.out });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void Promise.resolve(handler(decodeToFunction(Buffer.concat(chunks)), undefined as never)).then(
        (out) => {
          for (const e of out.invocationResult?.outgoingEgresses ?? [])
            Object.assign(e, { egressNamespace: 'ho', egressType: 'out' });
          res
            .writeHead(200, { 'content-type': 'application/octet-stream' })
            .end(Buffer.from(encodeFromFunction(out)));
        },
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as { port: number }).port;
  const module = parseModule(
    [
      'kind: io.statefun.endpoints.v2/http',
      `spec: {functions: ho/*, urlPathTemplate: "http://127.0.0.1:${port}/{function.name}"}`,
      '---',
      'kind: io.statefun.kafka.v1/ingress',
      `spec: {id: ho/in, address: "${brokers.join(',')}", startupPosition: {type: earliest},`,
      `       topics: [{topic: ${topics.input}, valueType: io.statefun.types/int, targets: [ho/counter]}]}`,
      '---',
      'kind: io.statefun.kafka.v1/egress',
      `spec: {id: ho/out, address: "${brokers.join(',')}"}`,
    ].join('\n'),
    'ingress-handoff.yaml',
  );
  const start = (
    ingressHandOff: boolean,
    partitioning?: Partitioning,
    instance?: string,
    limits: Pick<
      Parameters<typeof startProdRuntime>[0],
      'maxHandedOverRecords' | 'ingressMaxQueuedRecords' | 'ingressFetchMaxBytes'
    > = {},
  ): Promise<ProdRuntime> =>
    startProdRuntime({
      module,
      kafka: { brokers },
      redisUrl: inject('redisUrl'),
      keyPrefix: `ho-${id}`,
      groupId: `ho-${id}`,
      internalTopic: topics.internal,
      partitions: shape.internal,
      sessionTimeoutMs: 6000,
      logger: silentLogger,
      ingressHandOff,
      partitioning,
      instance,
      task: { deadLetterTopic: topics.dlq },
      ...limits,
    });

  const producer = kafka.producer();
  await producer.connect();
  cleanups.push(() => producer.disconnect());
  let sent = 0;
  const produce = async (n: number): Promise<void> => {
    const one = Buffer.from([0x0d, 1, 0, 0, 0]); // IntWrapper(1)
    const messages = Array.from({ length: n }, (_, i) => ({ key: `k${(sent + i) % KEYS}`, value: one }));
    sent += n;
    await producer.send({ topic: topics.input, messages });
  };

  // Egress, read committed: per key the counts it reached, in order.
  const counts = new Map<string, number[]>();
  const consumer = kafka.consumer({ groupId: `ho-reader-${id}`, readUncommitted: false });
  await consumer.connect();
  cleanups.push(() => consumer.disconnect());
  await consumer.subscribe({ topics: [topics.out], fromBeginning: true });
  let egress = 0;
  await consumer.run({
    eachMessage: ({ message }) => {
      const [key, n] = (message.value?.toString() ?? '').split(':');
      const list = counts.get(key!) ?? [];
      list.push(Number(n));
      counts.set(key!, list);
      egress++;
      return Promise.resolve();
    },
  });

  /** Ingress records that went through the internal topic (read committed, to its end). */
  const inLog = async (): Promise<number> => {
    const markers = await appendEndMarkers(kafka, [topics.internal]);
    let ends = 0;
    const sources = new Set<string>();
    const reader = kafka.consumer({ groupId: `ho-internal-${randomUUID()}`, readUncommitted: false });
    await reader.connect();
    await reader.subscribe({ topics: [topics.internal], fromBeginning: true });
    await reader.run({
      eachMessage: ({ partition, message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
        if (headers[END_MARKER_HEADER] !== undefined) ends++;
        else if (message.key !== null && message.value !== null && headers[Header.barrier] === undefined) {
          const env = fromInternalRecord({
            topic: topics.internal,
            partition,
            offset: Number(message.offset),
            key: message.key.toString(),
            value: message.value,
            headers,
            timestamp: Number(message.timestamp),
          });
          if (env.source !== undefined) sources.add(`${env.source.name}@${env.source.offset}`);
        }
        return Promise.resolve();
      },
    });
    await waitUntil(() => ends >= markers, { timeoutMs: 30_000, what: 'the end of the internal topic' });
    await reader.disconnect();
    return sources.size;
  };

  /** Every key counted 1..n exactly once, n summing to everything sent. */
  const exact = (): void => {
    let total = 0;
    for (const [key, list] of counts) {
      expect(list, key).toEqual(Array.from({ length: list.length }, (_, i) => i + 1));
      total += list.length;
    }
    expect(total).toBe(sent);
  };

  /** Per group: which process identity holds which partitions (decoded from the broker's view). */
  const assignments = async (groupIds: string[]): Promise<Map<string, Map<string, number[]>>> => {
    const a = kafka.admin();
    await a.connect();
    try {
      const { groups } = await a.describeGroups(groupIds);
      const out = new Map<string, Map<string, number[]>>();
      for (const g of groups) {
        const byIdentity = new Map<string, number[]>();
        for (const m of g.members) {
          const identity =
            AssignerProtocol.MemberMetadata.decode(m.memberMetadata)?.userData.toString() ?? '';
          const assigned = AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment ?? {};
          byIdentity.set(identity, Object.values(assigned).flat());
        }
        out.set(g.groupId, byIdentity);
      }
      return out;
    } finally {
      await a.disconnect();
    }
  };

  return { start, produce, inLog, exact, assignments, egress: () => egress, sent: () => sent };
}

describe('Kafka ingress hand-off', () => {
  it('hands records whose partition the process owns to its task: they skip the internal topic and count exactly once', async () => {
    const t = await setup(randomUUID().slice(0, 8));
    const prod = await t.start(true);
    cleanups.push(() => prod.stop());
    await t.produce(200);
    await waitUntil(() => t.egress() >= 200, { timeoutMs: 60_000, what: '200 egress records' });
    // The lanes switched to hand-over after their barriers: a second wave goes straight to the tasks.
    await t.produce(400);
    await waitUntil(() => t.egress() >= 600, { timeoutMs: 60_000, what: '600 egress records' });
    const stats = prod.ingresses[0]!.stats;
    expect(stats.barriers).toBeGreaterThan(0);
    expect(stats.handedOver).toBeGreaterThanOrEqual(400 - stats.handOverRefused);
    await prod.stop();
    // What was handed over never entered the log; the rest did, once each.
    expect(await t.inLog()).toBe(600 - stats.handedOver);
    t.exact();
  }, 120_000);

  it('with a process hand-over budget of 20 records the rest wait in the ingress, and every record still counts exactly once', async () => {
    const t = await setup(randomUUID().slice(0, 8));
    const prod = await t.start(true, undefined, undefined, {
      maxHandedOverRecords: 20,
      ingressMaxQueuedRecords: 50,
      ingressFetchMaxBytes: 1024,
    });
    cleanups.push(() => prod.stop());
    await t.produce(200);
    await waitUntil(() => t.egress() >= 200, { timeoutMs: 60_000, what: '200 egress records' });
    await t.produce(400);
    await waitUntil(() => t.egress() >= 600, { timeoutMs: 90_000, what: '600 egress records' });
    const stats = prod.ingresses[0]!.stats;
    // The budget was used up again and again; the records waited instead of going to the log.
    expect(stats.handOverBudgetWaits).toBeGreaterThan(0);
    expect(stats.handedOver).toBeGreaterThanOrEqual(400 - stats.handOverRefused);
    await prod.stop();
    expect(await t.inLog()).toBe(600 - stats.handedOver);
    t.exact();
  }, 150_000);

  it('two processes with the id partitioning own each ingress partition together with the internal partitions its records go to: every record is handed over', async () => {
    const id = randomUUID().slice(0, 8);
    const t = await setup(id, { input: 4, internal: 8 });
    const a = await t.start(true, 'id', `ho-${id}-a`);
    cleanups.push(() => a.stop());
    const b = await t.start(true, undefined, `ho-${id}-b`);
    cleanups.push(() => b.stop());
    expect(a.log.partitioning).toBe('id');
    // The second process adopted the partitioning the first recorded for the deployment.
    expect(b.log.partitioning).toBe('id');
    const internalGroup = `ho-${id}`;
    const ingressGroup = `ho-${id}.ingress.ho/in`;
    await waitUntil(
      async () => {
        const groups = await t.assignments([internalGroup, ingressGroup]);
        return groups.get(internalGroup)?.size === 2 && groups.get(ingressGroup)?.size === 2;
      },
      { timeoutMs: 60_000, what: 'both processes in both groups' },
    );
    const groups = await t.assignments([internalGroup, ingressGroup]);
    for (const [identity, ingressPartitions] of groups.get(ingressGroup)!) {
      const internal = groups.get(internalGroup)!.get(identity)!;
      expect(ingressPartitions.length).toBe(2);
      // Internal partition q holds the ids of ingress partition q mod 4.
      expect([...internal].sort((x, y) => x - y)).toEqual(
        [0, 1, 2, 3, 4, 5, 6, 7].filter((q) => ingressPartitions.includes(q % 4)),
      );
    }
    await waitUntil(() => a.runtime.runningTasks().length === 4 && b.runtime.runningTasks().length === 4, {
      timeoutMs: 60_000,
      what: 'four tasks on each process',
    });
    await t.produce(200);
    await waitUntil(() => t.egress() >= 200, { timeoutMs: 60_000, what: '200 egress records' });
    await t.produce(400);
    await waitUntil(() => t.egress() >= 600, { timeoutMs: 60_000, what: '600 egress records' });
    const stats = [a, b].map((p) => p.ingresses[0]!.stats);
    const handedOver = stats.reduce((n, s) => n + s.handedOver, 0);
    const refused = stats.reduce((n, s) => n + s.handOverRefused, 0);
    // The second wave crossed no process boundary: all of it went straight to the tasks.
    expect(handedOver).toBeGreaterThanOrEqual(400 - refused);
    await b.stop();
    await a.stop();
    expect(await t.inLog()).toBe(600 - handedOver);
    t.exact();
  }, 180_000);

  it('with hand-over off every record goes through the internal topic', async () => {
    const t = await setup(randomUUID().slice(0, 8));
    const prod = await t.start(false);
    cleanups.push(() => prod.stop());
    await t.produce(300);
    await waitUntil(() => t.egress() >= 300, { timeoutMs: 60_000, what: '300 egress records' });
    expect(prod.ingresses[0]!.stats.handedOver).toBe(0);
    await prod.stop();
    expect(await t.inLog()).toBe(300);
    t.exact();
  }, 120_000);

  it('a process that leaves without its last checkpoint: the next one replays the ingress past records already counted, exactly once', async () => {
    const t = await setup(randomUUID().slice(0, 8));
    const first = await t.start(true);
    await t.produce(200);
    await waitUntil(() => t.egress() >= 200, { timeoutMs: 60_000, what: '200 egress records' });
    await t.produce(600);
    await waitUntil(() => first.ingresses[0]!.stats.handedOver > 0 && t.egress() > 300, {
      timeoutMs: 60_000,
      what: 'records handed over and counted',
    });
    // Gone at once, as after a crash: what was not checkpointed is lost, the ingress offset
    // committed so far sits below it.
    await first.abandon();
    await first.stop().catch(() => undefined);
    const second = await t.start(true);
    cleanups.push(() => second.stop());
    await waitUntil(() => t.egress() >= 800, { timeoutMs: 90_000, what: '800 egress records' });
    await t.produce(100);
    await waitUntil(() => t.egress() >= 900, { timeoutMs: 60_000, what: '900 egress records' });
    await second.stop();
    await t.inLog();
    t.exact();
  }, 180_000);
});
