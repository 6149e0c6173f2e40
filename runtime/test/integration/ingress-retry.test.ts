// A Kafka ingress partition whose start fails (Kafka briefly unavailable, e.g. no group
// coordinator right after a broker restart) is started again, not left assigned and paused: on
// the real broker, with the committed-offset read failing the first times.
import type { Admin } from 'kafkajs';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createKafkaClient, createTopic, readTopic, uniqueName } from '@continuum/test-infra';
import { KafkaIngress } from '../../src/ingress/kafka-ingress.js';
import { createKafka } from '../../src/log/kafka/client.js';
import { KafkaIngressSource } from '../../src/log/kafka/kafka-ingress-source.js';
import { ProcessTransactions } from '../../src/log/kafka/process-transactions.js';
import { silentLogger } from '../../src/logger.js';
import { parseModule } from '../../src/module/index.js';

const EVENTS = 20;

describe('a Kafka ingress partition that fails to start', () => {
  const brokers = inject('kafkaBrokers').split(',');
  const kafka = createKafka({ brokers }, silentLogger);
  const admin = kafka.admin();
  const transactions = new ProcessTransactions({ kafka, logger: silentLogger, idPrefix: 'retry-txn' });
  let ingress: KafkaIngress | undefined;
  afterAll(async () => {
    await ingress?.stop();
    await transactions.close();
    await admin.disconnect();
  });

  it('is started again and moves every record', async () => {
    const input = uniqueName('retry-in');
    const internal = uniqueName('retry-internal');
    await createTopic(brokers, input, 2);
    await createTopic(brokers, internal, 2);
    await admin.connect();
    // The committed-offset read fails for the first three partition starts.
    let failures = 0;
    const flaky: Admin = Object.create(admin) as Admin;
    flaky.fetchOffsets = (...args: Parameters<Admin['fetchOffsets']>) => {
      if (failures < 3) {
        failures++;
        return Promise.reject(new Error('Failed to find group coordinator'));
      }
      return admin.fetchOffsets(...args);
    };
    const module = parseModule(
      [
        'kind: io.statefun.endpoints.v2/http',
        'spec: {functions: retry/*, urlPathTemplate: "http://127.0.0.1:9/{function.name}"}',
        '---',
        'kind: io.statefun.kafka.v1/ingress',
        'spec:',
        '  id: retry/in',
        `  address: ${brokers.join(',')}`,
        '  startupPosition: {type: earliest}',
        '  topics:',
        `    - topic: ${input}`,
        '      valueType: retry/Text',
        '      targets: [retry/fn]',
      ].join('\n'),
      'ingress-retry.yaml',
    );
    ingress = new KafkaIngress({
      ingress: module.kafkaIngresses[0]!,
      source: new KafkaIngressSource(kafka, flaky, transactions),
      internalTopic: internal,
      partitions: 2,
      partitioning: 'address',
      deadLetterTopic: uniqueName('retry-dead'),
      runtimeGroupId: uniqueName('retry-group'),
      logger: silentLogger,
      sessionTimeoutMs: 6000,
    });
    await ingress.start();
    const producer = createKafkaClient(brokers).producer();
    await producer.connect();
    await producer.send({
      topic: input,
      messages: Array.from({ length: EVENTS }, (_, i) => ({
        key: `k${i}`,
        value: `"e${i}"`,
        partition: i % 2,
      })),
    });
    await producer.disconnect();
    const moved = await readTopic(brokers, internal, { expected: EVENTS, timeoutMs: 60_000 });
    expect(failures).toBe(3);
    expect(moved.filter((r) => r.key !== null)).toHaveLength(EVENTS);
    expect(ingress.stats.moved).toBe(EVENTS);
  }, 120_000);
});
