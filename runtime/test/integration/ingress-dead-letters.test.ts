// Bad Kafka ingress records (no key, no value) go to the dead-letter topic with their reason while
// the good records around them are processed: the pipeline never stops for bad input.
import '../../src/log/kafka/kafkajs-patch.js';
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { decodeToFunction, encodeFromFunction } from '@continuum/sdk/protocol';
import { parseModule } from '../../src/module/index.js';
import { startProdRuntime, type ProdRuntime } from '../../src/prod-runtime.js';
import { silentLogger } from '../../src/logger.js';
import { Header } from '../../src/core/envelope.js';
import { counter } from '../core/harness.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

const brokers = inject('kafkaBrokers').split(',');
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('Kafka ingress with bad records', () => {
  it('dead-letters records without key or value with the reason and processes the others', async () => {
    const id = randomUUID().slice(0, 8);
    const topics = {
      input: `dl-in-${id}`,
      out: `dl-out-${id}`,
      dlq: `dl-dlq-${id}`,
      internal: `dl-internal-${id}`,
    };
    const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: topics.input, numPartitions: 1 },
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
            const result = out.invocationResult;
            if (result !== undefined) {
              for (const e of result.outgoingEgresses)
                Object.assign(e, { egressNamespace: 'dl', egressType: 'out' });
            }
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
        `spec: {functions: dl/*, urlPathTemplate: "http://127.0.0.1:${port}/{function.name}"}`,
        '---',
        'kind: io.statefun.kafka.v1/ingress',
        `spec: {id: dl/in, address: "${brokers.join(',')}", startupPosition: {type: earliest},`,
        `       topics: [{topic: ${topics.input}, valueType: io.statefun.types/int, targets: [dl/counter]}]}`,
        '---',
        'kind: io.statefun.kafka.v1/egress',
        `spec: {id: dl/out, address: "${brokers.join(',')}"}`,
      ].join('\n'),
      'ingress-dead-letters.yaml',
    );
    const prod: ProdRuntime = await startProdRuntime({
      module,
      kafka: { brokers },
      redisUrl: inject('redisUrl'),
      keyPrefix: `dl-${id}`,
      groupId: `dl-${id}`,
      internalTopic: topics.internal,
      partitions: 2,
      sessionTimeoutMs: 6000,
      logger: silentLogger,
      task: { deadLetterTopic: topics.dlq, checkpointIntervalMs: 50 },
    });
    cleanups.push(() => prod.stop());

    const one = Buffer.from([0x0d, 1, 0, 0, 0]); // IntWrapper(1)
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: topics.input,
      messages: [
        { key: 'a', value: one },
        { key: null, value: one },
        { key: 'a', value: null },
        { key: 'a', value: one },
      ],
    });
    await producer.disconnect();

    const seen: { topic: string; key: string | null; value: string; headers: Record<string, string> }[] = [];
    const consumer = kafka.consumer({ groupId: `dl-reader-${id}`, readUncommitted: false });
    await consumer.connect();
    await consumer.subscribe({ topics: [topics.out, topics.dlq], fromBeginning: true });
    await consumer.run({
      eachMessage: ({ topic, message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
        seen.push({
          topic,
          key: message.key?.toString() ?? null,
          value: message.value?.toString() ?? '',
          headers,
        });
        return Promise.resolve();
      },
    });
    cleanups.push(() => consumer.disconnect());
    await waitUntil(
      () =>
        seen.filter((s) => s.topic === topics.out).length === 2 &&
        seen.filter((s) => s.topic === topics.dlq).length === 2,
      { timeoutMs: 60_000, what: 'two egress records and two dead letters' },
    );
    expect(seen.filter((s) => s.topic === topics.out).map((s) => s.value)).toEqual(['a:1', 'a:2']);
    const dead = seen.filter((s) => s.topic === topics.dlq);
    expect(dead.map((d) => d.headers[Header.code]).sort()).toEqual([
      'INGRESS_KEY_MISSING',
      'INGRESS_VALUE_MISSING',
    ]);
    for (const d of dead) {
      expect(d.headers[Header.reason]).toContain('ingress dl/in');
      expect(d.headers[Header.source]).toMatch(new RegExp(`^${topics.input}/0@[12]$`));
    }
  });
});
