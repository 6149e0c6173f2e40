// Reads a topic outside the internal log (playground egress, dead letters) with read_committed:
// one consumer per topic under a private group, keeping the newest records per partition in a
// bounded buffer that `read` serves from.
import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import type { Logger } from '../../logger.js';
import type { LogRecord, TopicReader } from '../log.js';
import { logRecordOf } from './records.js';

export class KafkaTopicReader implements TopicReader {
  private consumer: Consumer | undefined;
  private starting: Promise<void> | undefined;
  private readonly buffers = new Map<number, LogRecord[]>();
  /** Per partition, the offset after the last one fetched, control records included. */
  private readonly positions = new Map<number, number>();

  constructor(
    private readonly kafka: Kafka,
    private readonly topic: string,
    private readonly logger: Logger,
    private readonly maxPerPartition = 10_000,
  ) {}

  async read(partition: number, offset: number, max: number): Promise<readonly LogRecord[]> {
    await this.ensureStarted();
    const buf = this.buffers.get(partition) ?? [];
    const out: LogRecord[] = [];
    for (const r of buf) {
      if (r.offset < offset) continue;
      out.push(r);
      if (out.length >= max) break;
    }
    return out;
  }

  async caughtUp(partition: number, timeoutMs: number): Promise<boolean> {
    await this.ensureStarted();
    const admin = this.kafka.admin();
    let end: number;
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(this.topic);
      end = Number(offsets.find((o) => o.partition === partition)?.high ?? 0);
    } finally {
      await admin.disconnect();
    }
    const deadline = Date.now() + timeoutMs;
    while ((this.positions.get(partition) ?? 0) < end) {
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return true;
  }

  async partitions(): Promise<number> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [this.topic] });
      return meta.topics[0]?.partitions.length ?? 0;
    } catch {
      return 0;
    } finally {
      await admin.disconnect();
    }
  }

  async close(): Promise<void> {
    await this.starting?.catch(() => undefined);
    await this.consumer?.disconnect().catch(() => undefined);
    this.consumer = undefined;
  }

  private ensureStarted(): Promise<void> {
    this.starting ??= (async () => {
      const consumer = this.kafka.consumer({
        groupId: `continuum-reader-${randomUUID()}`,
        readUncommitted: false,
        allowAutoTopicCreation: false,
        maxWaitTimeInMs: 100,
      });
      this.consumer = consumer;
      // Batches that end in a transaction marker deliver no message but still move the position.
      consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        if (payload.topic !== this.topic) return;
        const next = Number(payload.lastOffset) + 1;
        if (next > (this.positions.get(payload.partition) ?? 0)) this.positions.set(payload.partition, next);
      });
      await consumer.connect();
      await consumer.subscribe({ topic: this.topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachMessage: ({ partition, message }) => {
          let buf = this.buffers.get(partition);
          if (buf === undefined) {
            buf = [];
            this.buffers.set(partition, buf);
          }
          buf.push(logRecordOf(this.topic, partition, message, true));
          if (buf.length > this.maxPerPartition) buf.splice(0, buf.length - this.maxPerPartition);
          return Promise.resolve();
        },
      });
      this.logger.debug('topic reader started', { topic: this.topic });
    })();
    return this.starting;
  }
}
