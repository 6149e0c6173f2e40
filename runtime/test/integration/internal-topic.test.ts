// The internal topic keeps messages between functions by the time they were appended, not by
// their event time: an event from long ago (a backfill) must not fall to the broker's time-based
// retention before a partition task reads it. Real broker.
import '../../src/log/kafka/kafkajs-patch.js';
import { ConfigResourceTypes } from 'kafkajs';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createKafkaClient, readTopic, uniqueName } from '@continuum/test-infra';
import { fromInternalRecord, toInternalRecord } from '../../src/core/envelope.js';
import { KafkaLog } from '../../src/log/kafka/kafka-log.js';
import { silentLogger } from '../../src/logger.js';
import { intValue } from '../core/harness.js';

describe('the internal topic', () => {
  const brokers = inject('kafkaBrokers').split(',');
  const admin = createKafkaClient(brokers).admin();
  let log: KafkaLog | undefined;
  afterAll(async () => {
    await log?.close();
    await admin.disconnect();
  });

  it('is created with append-time timestamps, and a message with an old event time gets the time it was appended', async () => {
    const internalTopic = uniqueName('internal-ts');
    log = new KafkaLog({
      connection: { brokers },
      logger: silentLogger,
      groupId: uniqueName('internal-ts-group'),
      internalTopic,
      partitions: 2,
    });
    await log.connect();
    await admin.connect();
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        { type: ConfigResourceTypes.TOPIC, name: internalTopic, configNames: ['message.timestamp.type'] },
      ],
    });
    expect(described.resources[0]!.configEntries[0]).toMatchObject({
      configName: 'message.timestamp.type',
      configValue: 'LogAppendTime',
    });

    const eventTime = Date.parse('2020-01-01T00:00:00Z');
    const record = toInternalRecord(
      internalTopic,
      2,
      {
        target: { namespace: 'ts', type: 'fn', id: 'a' },
        argument: intValue(1),
        eventTime,
      },
      'address',
    );
    expect(record.timestamp).toBeUndefined();
    const before = Date.now();
    await log.append([record]);
    const [read] = await readTopic(brokers, internalTopic, { expected: 1 });
    expect(Number(read!.timestamp)).toBeGreaterThanOrEqual(before - 1000);
    const decoded = fromInternalRecord({
      topic: read!.topic,
      partition: read!.partition,
      offset: Number(read!.offset),
      key: read!.key?.toString('utf8') ?? null,
      value: read!.value,
      headers: {},
      timestamp: Number(read!.timestamp),
    });
    expect(decoded.eventTime).toBe(eventTime);
  });
});
