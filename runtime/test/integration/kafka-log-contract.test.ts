// The Log contract run against the Kafka log on the real broker: fresh topics and group per test.
import '../../src/log/kafka/kafkajs-patch.js';
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { KafkaLog } from '../../src/log/kafka/kafka-log.js';
import { createLogger, silentLogger } from '../../src/logger.js';
import { CONTRACT_OUT_PARTITIONS, CONTRACT_PARTITIONS, describeLogContract } from '../log/log-contract.js';

const brokers = inject('kafkaBrokers').split(',');
const logger = process.env.TEST_LOG === '1' ? createLogger({ level: 'debug' }) : silentLogger;

describeLogContract(
  'the Kafka log',
  async () => {
    const id = randomUUID().slice(0, 8);
    const outTopic = `contract-out-${id}`;
    const open = async (): Promise<KafkaLog> => {
      const log = new KafkaLog({
        connection: { brokers },
        logger,
        groupId: `contract-${id}`,
        identity: `contract-${id}`,
        internalTopic: `contract-internal-${id}`,
        partitions: CONTRACT_PARTITIONS,
        ensureTopics: [{ topic: outTopic, partitions: CONTRACT_OUT_PARTITIONS }],
        sessionTimeoutMs: 6000,
        heartbeatIntervalMs: 500,
      });
      await log.connect();
      return log;
    };
    return { log: await open(), outTopic, reopen: open };
  },
  { durable: true, visibleWithinMs: 60_000 },
);
