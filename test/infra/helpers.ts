// What integration tests need around the servers: quiet kafkajs clients, topics, unique names,
// condition polling with deadlines, reading a topic back, and readiness probes.
// kafkajs' read_committed filter leaks records of aborted transactions; the fix must be in place
// before kafkajs loads, and this module is where the harness loads it.
import '@continuum/runtime/kafkajs-patch';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import type { IHeaders, KafkaConfig } from 'kafkajs';
import { InfraError } from './errors.js';
import { waitUntil } from './wait-until.js';

/** Options of {@link createKafkaClient}. */
export interface KafkaClientOptions {
  clientId?: string;
  /** kafkajs log level; default NOTHING (ERROR when CONTINUUM_KAFKAJS_LOG=error). */
  logLevel?: logLevel;
  /** Overrides merged into the kafkajs config. */
  config?: Partial<KafkaConfig>;
}

function defaultLogLevel(): logLevel {
  switch (process.env.CONTINUUM_KAFKAJS_LOG) {
    case 'error':
      return logLevel.ERROR;
    case 'warn':
      return logLevel.WARN;
    case 'info':
      return logLevel.INFO;
    default:
      return logLevel.NOTHING;
  }
}

/** A kafkajs client with quiet logging and retries sized for a local broker. */
export function createKafkaClient(brokers: readonly string[], options: KafkaClientOptions = {}): Kafka {
  return new Kafka({
    clientId: options.clientId ?? 'continuum-test',
    brokers: [...brokers],
    logLevel: options.logLevel ?? defaultLogLevel(),
    connectionTimeout: 3000,
    requestTimeout: 30_000,
    retry: { initialRetryTime: 100, maxRetryTime: 2000, retries: 8 },
    ...options.config,
  });
}

/** Letters, digits, dots, dashes and underscores: valid as a Kafka topic, group or transactional id. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** Options of {@link createTopic}. */
export interface CreateTopicOptions {
  /** Topic-level configs, e.g. `{ 'cleanup.policy': 'compact' }`. */
  config?: Record<string, string>;
}

/** Creates `name` with `partitions` partitions (replication 1) and waits for its leaders; an existing topic is fine. */
export async function createTopic(
  brokers: readonly string[],
  name: string,
  partitions = 1,
  options: CreateTopicOptions = {},
): Promise<void> {
  const admin = createKafkaClient(brokers, { clientId: 'continuum-test-admin' }).admin();
  await admin.connect();
  try {
    const topics = [
      {
        topic: name,
        numPartitions: partitions,
        replicationFactor: 1,
        configEntries: Object.entries(options.config ?? {}).map(([n, value]) => ({ name: n, value })),
      },
    ];
    try {
      await admin.createTopics({ waitForLeaders: true, timeout: 30_000, topics });
    } catch (err) {
      // kafkajs' wait for leaders gives up on UNKNOWN_TOPIC_OR_PARTITION, which a busy broker
      // answers while the new topic's metadata is still propagating: wait for the leaders here.
      if ((err as { type?: unknown }).type !== 'UNKNOWN_TOPIC_OR_PARTITION') throw err;
      await waitUntil(
        async () => {
          const meta = await admin.fetchTopicMetadata({ topics: [name] });
          const parts = meta.topics[0]?.partitions ?? [];
          return parts.length === partitions && parts.every((p) => p.leader >= 0);
        },
        { timeoutMs: 30_000, what: `the leaders of topic ${name}`, intervalMs: 200 },
      );
    }
  } finally {
    await admin.disconnect();
  }
}

/** One record read back by {@link readTopic}. */
/** Header of the records appendEndMarkers writes; readers skip records that carry it. */
export const END_MARKER_HEADER = 'continuum.test.end-marker';

/**
 * Appends one end-marker record to every partition of `topics` (a plain produce) and returns how
 * many it wrote. Once the writers of those topics have stopped (no transaction of theirs open), a
 * read_committed reader that has seen every marker has seen every record that can ever appear in
 * front of them: the observable end of "wait for late duplicates to show up".
 */
export async function appendEndMarkers(kafka: Kafka, topics: readonly string[]): Promise<number> {
  const admin = kafka.admin();
  const producer = kafka.producer();
  await Promise.all([admin.connect(), producer.connect()]);
  try {
    const { topics: meta } = await admin.fetchTopicMetadata({ topics: [...topics] });
    const topicMessages = meta.map((t) => ({
      topic: t.name,
      messages: t.partitions.map((p) => ({
        partition: p.partitionId,
        key: null,
        value: null,
        headers: { [END_MARKER_HEADER]: '1' },
      })),
    }));
    await producer.sendBatch({ topicMessages, acks: -1 });
    return topicMessages.reduce((n, t) => n + t.messages.length, 0);
  } finally {
    await Promise.all([admin.disconnect(), producer.disconnect()]);
  }
}

export interface TopicRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
  timestamp: string;
}

/** Options of {@link readTopic}. */
export interface ReadTopicOptions {
  /** Default `read_committed`: records of aborted or open transactions are not returned. */
  isolation?: 'read_committed' | 'read_uncommitted';
  /** Also wait until at least this many records arrived (for records still being produced). */
  expected?: number;
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
  /** Stop after this many records (default 100 000) so a runaway topic cannot exhaust memory. */
  limit?: number;
}

/**
 * Reads `topic` from the beginning with a throwaway consumer group and returns its records in
 * partition-then-offset order. It returns once every partition's position has reached the end
 * offset the topic had when the call began (aborted records and transaction markers count as
 * consumed) and at least `expected` records arrived, so exactly what was committed before the call
 * is returned, with nothing still in flight missed.
 */
export async function readTopic(
  brokers: readonly string[],
  topic: string,
  options: ReadTopicOptions = {},
): Promise<TopicRecord[]> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const limit = options.limit ?? 100_000;
  const expected = options.expected ?? 0;
  const kafka = createKafkaClient(brokers, { clientId: 'continuum-test-reader' });

  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    ends = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  } finally {
    await admin.disconnect();
  }

  const positions = new Map<number, bigint>();
  const records: TopicRecord[] = [];
  const consumer = kafka.consumer({
    groupId: uniqueName('continuum-test-reader'),
    readUncommitted: options.isolation === 'read_uncommitted',
    maxWaitTimeInMs: 200,
  });
  const caughtUp = (): boolean =>
    records.length >= limit ||
    (records.length >= expected &&
      [...ends].every(([partition, end]) => end === 0n || (positions.get(partition) ?? 0n) >= end));

  await consumer.connect();
  try {
    // END_BATCH_PROCESS also fires for batches that held only aborted records or markers.
    consumer.on(consumer.events.END_BATCH_PROCESS, (event) => {
      const next = BigInt(event.payload.lastOffset) + 1n;
      if (next > (positions.get(event.payload.partition) ?? 0n)) positions.set(event.payload.partition, next);
    });
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic: t, partition, message }) => {
        if (records.length < limit) {
          records.push({
            topic: t,
            partition,
            offset: message.offset,
            key: message.key,
            value: message.value,
            headers: message.headers ?? {},
            timestamp: message.timestamp,
          });
        }
        await Promise.resolve();
      },
    });
    await waitUntil(caughtUp, {
      timeoutMs: timeoutMs,
      what: `topic ${topic} to be read to its end`,
      intervalMs: 50,
    }).catch((err: unknown) => {
      const show = (m: Map<number, bigint>): string =>
        JSON.stringify(Object.fromEntries([...m].map(([p, o]) => [p, o.toString()])));
      throw new InfraError(
        'TIMEOUT',
        `readTopic(${topic}) got ${records.length} records (expected at least ${expected}) within ${timeoutMs} ms; ` +
          `partition positions ${show(positions)}, end offsets ${show(ends)}. ` +
          `A transaction still open on the topic holds read_committed readers back.`,
        { cause: err },
      );
    });
  } finally {
    await consumer.disconnect();
  }
  return records.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
}

const READINESS_TOPIC = 'continuum-infra-readiness';

/**
 * One readiness check of a broker: a transactional producer initialises, sends, commits consumer
 * offsets and commits. That loads the transaction and group coordinators, which a plain metadata
 * request does not prove.
 */
export async function probeKafkaTransactions(brokers: readonly string[]): Promise<void> {
  const kafka = createKafkaClient(brokers, {
    clientId: 'continuum-infra-readiness',
    config: { connectionTimeout: 1000, retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 5 } },
  });
  await createTopic(brokers, READINESS_TOPIC, 1);
  const producer = kafka.producer({
    transactionalId: uniqueName('continuum-infra-readiness'),
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  try {
    const tx = await producer.transaction();
    try {
      await tx.send({ topic: READINESS_TOPIC, messages: [{ value: 'ready' }] });
      await tx.sendOffsets({
        consumerGroupId: 'continuum-infra-readiness',
        topics: [{ topic: READINESS_TOPIC, partitions: [{ partition: 0, offset: '0' }] }],
      });
      await tx.commit();
    } catch (err) {
      await tx.abort().catch(() => undefined);
      throw err;
    }
  } finally {
    await producer.disconnect();
  }
}

/** Sends PING over a raw socket and resolves true on +PONG (false on -LOADING, refusals, timeouts). */
export function pingRedis(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

/** An ioredis client for `url` that fails commands fast instead of queueing them forever. */
export function createRedisClient(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: 3, connectTimeout: 3000, ...options });
}
