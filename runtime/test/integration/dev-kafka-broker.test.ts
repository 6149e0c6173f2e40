// `statefun dev --kafka BROKERS` against the real broker: the module's Kafka ingress reads its topic
// from the broker (records written by any Kafka producer, or by `statefun produce`), and the
// records functions send to the Kafka egress reach the broker's topic, where `statefun consume`
// reads them. The internal log and state stay embedded.
import '../../src/log/kafka/kafkajs-patch.js';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cli } from '../dev/cli-runner.js';
import { startDevRuntime, type DevRuntime } from '../../src/dev-runtime.js';
import { silentLogger } from '../../src/logger.js';
import { parseModule } from '../../src/module/index.js';
import { endpointDoc, serveOfficial, sf, type LoopbackServer } from '../dev/support.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

const brokers = inject('kafkaBrokers').split(',');
const Order = sf.StateFun.jsonType<{ item: string }>('shop/Order');

describe('statefun dev --kafka against a real broker', () => {
  const id = randomUUID().slice(0, 8);
  const topics = { input: `devk-orders-${id}`, out: `devk-counts-${id}` };
  const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });
  const dataDir = mkdtempSync(join(tmpdir(), 'continuum-dev-kafka-broker-'));
  const seen: { key: string; value: string }[] = [];
  let fns: LoopbackServer;
  let dev: DevRuntime;
  let admin = '';
  const consumer = kafka.consumer({ groupId: `devk-test-${id}` });

  beforeAll(async () => {
    const a = kafka.admin();
    await a.connect();
    // The egress topic exists as on a broker without auto-creation; the ingress topic does not:
    // dev mode creates it.
    await a.createTopics({ waitForLeaders: true, topics: [{ topic: topics.out, numPartitions: 1 }] });
    await a.disconnect();
    const statefun = new sf.StateFun();
    statefun.bind({
      typename: 'shop/counter',
      specs: [{ name: 'count', type: sf.StateFun.intType() }],
      fn(context, message) {
        const order = message.as(Order)!;
        const count = ((context.storage.count as number | null) ?? 0) + 1;
        context.storage.count = count;
        context.send(
          sf.kafkaEgressMessage({
            typename: 'shop/out',
            topic: topics.out,
            key: context.self.id,
            value: JSON.stringify({ count, item: order.item }),
          }),
        );
      },
    });
    fns = await serveOfficial(statefun);
    const module = `${endpointDoc('shop/*', fns.port)}
---
kind: io.statefun.kafka.v1/ingress
spec:
  id: shop/orders-in
  address: ${brokers[0]}
  startupPosition: {type: earliest}
  topics:
    - {topic: ${topics.input}, valueType: shop/Order, targets: [shop/counter]}
---
kind: io.statefun.kafka.v1/egress
spec: {id: shop/out, address: ${brokers[0]}, deliverySemantic: {type: at-least-once}}
`;
    dev = await startDevRuntime({
      module: parseModule(module, 'shop-module.yaml'),
      dataDir,
      adminPort: 0,
      logger: silentLogger,
      task: { checkpointIntervalMs: 20 },
      kafka: { brokers },
    });
    admin = `http://127.0.0.1:${dev.servers.find((s) => s.name === 'admin')!.port}`;
    await consumer.connect();
    await consumer.subscribe({ topic: topics.out, fromBeginning: true });
    await consumer.run({
      eachMessage: ({ message }) => {
        seen.push({ key: message.key?.toString() ?? '', value: message.value?.toString() ?? '' });
        return Promise.resolve();
      },
    });
  });

  afterAll(async () => {
    await consumer.disconnect().catch(() => undefined);
    await dev?.stop();
    await fns?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('records from a Kafka producer and from statefun produce reach the function; egress records reach the broker', async () => {
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: topics.input,
      messages: [{ key: 'alice', value: JSON.stringify({ item: 'book' }) }],
    });
    await producer.disconnect();
    const r = await cli(
      'produce',
      topics.input,
      '--key',
      'alice',
      '--json',
      '{"item":"lamp"}',
      '--admin',
      admin,
    );
    expect(r).toMatchObject({ code: 0, err: '' });

    await waitUntil(() => seen.length >= 2, {
      timeoutMs: 60_000,
      what: 'two egress records on the broker',
      intervalMs: 50,
    });
    expect(seen).toEqual([
      { key: 'alice', value: '{"count":1,"item":"book"}' },
      { key: 'alice', value: '{"count":2,"item":"lamp"}' },
    ]);
    // statefun consume reads the broker's topic.
    let printed = '';
    await waitUntil(
      async () => {
        printed = (await cli('consume', topics.out, '--admin', admin)).out;
        return printed.split('\n').filter((l) => l !== '').length === 2;
      },
      { timeoutMs: 60_000, what: 'statefun consume to print both records', intervalMs: 200 },
    );
    expect(printed).toContain('key="alice"  value={"count":2,"item":"lamp"}');

    const overview = (await (await fetch(`${admin}/v1/overview`)).json()) as {
      topics: { mode: string; brokers: string[]; list: { topic: string; records: number; moved: number }[] };
    };
    expect(overview.topics.mode).toBe('kafka');
    expect(overview.topics.brokers).toEqual(brokers);
    expect(overview.topics.list.find((t) => t.topic === topics.input)).toMatchObject({
      records: 2,
      moved: 2,
    });
    expect(overview.topics.list.find((t) => t.topic === topics.out)).toMatchObject({ records: 2 });
  });
});
