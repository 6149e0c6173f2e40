// The `IngressSource` port on Kafka: ingress consumer groups are transactional groups committing
// through the process's transactions (the Kafka log's), and offsets and partition counts come
// from the log's admin client.
import type { Admin, Kafka, PartitionAssigner } from 'kafkajs';
import type {
  IngressSource,
  PartitionOffsets,
  SourceGroup,
  SourceGroupListener,
  SourceGroupOptions,
  SourcePartition,
  TopicPartition,
} from '../../ingress/source.js';
import type { OutRecord, RecordSink } from '../log.js';
import { kafkaError } from './client.js';
import type { ProcessTransactions } from './process-transactions.js';
import { TransactionalGroup, type GroupOwnedPartition } from './transactional-group.js';

export class KafkaIngressSource implements IngressSource {
  constructor(
    private readonly kafka: Kafka,
    private readonly admin: Admin,
    private readonly transactions: ProcessTransactions,
    /** The assignors of the ingress groups (the internal group's, to keep partitions together). */
    private readonly partitionAssigners?: PartitionAssigner[] | undefined,
  ) {}

  group(opts: SourceGroupOptions): SourceGroup {
    return new KafkaSourceGroup(
      new TransactionalGroup({
        kafka: this.kafka,
        admin: this.admin,
        groupId: opts.groupId,
        topics: opts.topics,
        transactions: this.transactions,
        fetchMinBytes: opts.fetchMinBytes,
        fetchMaxWaitMs: opts.fetchMaxWaitMs,
        ...(opts.fetchMaxBytes === undefined
          ? {}
          : {
              maxBytes: opts.fetchMaxBytes,
              maxBytesPerPartition: Math.max(1, Math.floor(opts.fetchMaxBytes / 4)),
            }),
        logger: opts.logger,
        sessionTimeoutMs: opts.sessionTimeoutMs,
        heartbeatIntervalMs: opts.heartbeatIntervalMs,
        partitionAssigners: this.partitionAssigners,
      }),
    );
  }

  async partitionCounts(topics: readonly string[]): Promise<{ topic: string; partitions: number }[]> {
    const metadata = await this.admin.fetchTopicMetadata({ topics: [...topics] });
    return metadata.topics.map((t) => ({ topic: t.name, partitions: t.partitions.length }));
  }

  async offsets(topic: string): Promise<PartitionOffsets[]> {
    const offsets = await this.admin.fetchTopicOffsets(topic);
    return offsets.map((o) => ({ partition: o.partition, low: Number(o.low), high: Number(o.high) }));
  }

  async offsetsAt(topic: string, epochMs: number): Promise<{ partition: number; offset: number }[]> {
    const found = await this.admin.fetchTopicOffsetsByTimestamp(topic, epochMs);
    return found.map((o) => ({ partition: o.partition, offset: Number(o.offset) }));
  }

  explain(what: string, err: unknown): Error {
    return kafkaError(what, err);
  }
}

class KafkaSourceGroup implements SourceGroup {
  constructor(private readonly group: TransactionalGroup) {}

  start(listener: SourceGroupListener): Promise<void> {
    return this.group.start({
      assigned: (owned) => listener.assigned(new KafkaSourcePartition(owned)),
      revoked: (tp) => listener.revoked(tp),
    });
  }

  stop(): Promise<void> {
    return this.group.stop();
  }

  abandon(): Promise<void> {
    return this.group.abandon();
  }

  reacquire(tp: TopicPartition): SourcePartition | undefined {
    const owned = this.group.reacquire(tp);
    return owned === undefined ? undefined : new KafkaSourcePartition(owned);
  }
}

class KafkaSourcePartition implements SourcePartition {
  readonly tp: TopicPartition;

  constructor(private readonly owned: GroupOwnedPartition) {
    this.tp = owned.tp;
  }

  fence(): Promise<void> {
    return this.owned.fence();
  }

  async committed(): Promise<number | undefined> {
    return (await this.owned.committed()).offset;
  }

  start(offset: number, sink: RecordSink): void {
    this.owned.start(offset, sink);
  }

  pause(): void {
    this.owned.pause();
  }

  resume(): void {
    this.owned.resume();
  }

  commit(records: readonly OutRecord[], nextOffset: number): Promise<void> {
    return this.owned.commit(records, nextOffset, null);
  }
}
