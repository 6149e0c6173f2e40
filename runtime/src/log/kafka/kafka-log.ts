// The `Log` on Apache Kafka: the internal message topic (P partitions, created if missing), one
// consumer group shared by all runtime processes, one transactional producer per process shared by
// every partition it owns (process-transactions.ts: the checkpoints of all partitions commit
// together), records and consumer offsets committed in one transaction, and read_committed
// everywhere. The checkpoint id travels as the committed offset's metadata.
import type { Admin, Kafka, PartitionAssigner, Producer } from 'kafkajs';
import { coPartitionAssignors } from './co-partition-assignor.js';
import { ContinuumError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type {
  AssignmentListener,
  CommitOptions,
  CommittedPosition,
  Log,
  LogRecord,
  OutRecord,
  OwnedPartition,
  RecordSink,
  TopicReader,
} from '../log.js';
import { createKafka, kafkaError, type KafkaConnection } from './client.js';
import { AppendBatcher } from './append-batcher.js';
import { KafkaIngressSource } from './kafka-ingress-source.js';
import { KafkaTopicReader } from './topic-reader.js';
import { defaultProcessIdentity, ProcessTransactions } from './process-transactions.js';
import { groupByTopic } from './records.js';
import { TransactionalGroup, type GroupOwnedPartition } from './transactional-group.js';
import { DEFAULTS } from '../../defaults.js';
import type { Partitioning } from '../partitioner.js';

export interface KafkaLogOptions {
  connection: KafkaConnection;
  logger: Logger;
  /** Consumer group of the runtime processes; also scopes transactional ids. */
  groupId?: string | undefined;
  internalTopic?: string | undefined;
  /** Partitions of the internal topic: created with this many; an existing topic must match. */
  partitions?: number | undefined;
  /**
   * How an address picks its partition, the deployment's (the runtime keeps it in its state store,
   * state/partitioning.ts). With `id`, the internal group and the ingress groups assign partitions
   * so that partition `p` of every topic goes to the same process (co-partition-assignor.ts).
   * @defaultValue 'address'
   */
  partitioning?: Partitioning | undefined;
  /** Replication factor for topics this log creates (-1 = broker default). */
  replicationFactor?: number | undefined;
  /** Further topics to create when missing (dead letters), with their partition counts. */
  ensureTopics?: { topic: string; partitions: number }[] | undefined;
  /**
   * This process's identity (stable across its restarts, unique among live processes): it names
   * the transactional ids, so a restarted process aborts its predecessor's open transaction at
   * once. Default `<hostname>.<pid>`.
   */
  identity?: string | undefined;
  /** The broker aborts an open transaction of a crashed process after this long (default 10 s). */
  transactionTimeoutMs?: number | undefined;
  /** A process transaction starts at least this long after the previous one (default 20 ms). */
  commitLingerMs?: number | undefined;
  /** Fetches of the internal topic wait for this many bytes or `fetchMaxWaitMs`. */
  fetchMinBytes?: number | undefined;
  fetchMaxWaitMs?: number | undefined;
  sessionTimeoutMs?: number | undefined;
  heartbeatIntervalMs?: number | undefined;
  rebalanceTimeoutMs?: number | undefined;
}

const CHECKPOINT_METADATA = /^continuum:ckpt=(\d+)$/;

export class KafkaLog implements Log {
  readonly internalTopic: string;
  readonly partitions: number;
  readonly partitioning: Partitioning;
  private readonly identity: string;
  private readonly kafka: Kafka;
  private readonly groupId: string;
  private admin: Admin | undefined;
  private appender: Producer | undefined;
  private appends: AppendBatcher | undefined;
  private group: TransactionalGroup | undefined;
  private txns: ProcessTransactions | undefined;
  private readonly readers = new Map<string, KafkaTopicReader>();
  private readonly owned = new Map<number, KafkaOwnedPartition>();

  constructor(private readonly opts: KafkaLogOptions) {
    this.kafka = createKafka(opts.connection, opts.logger);
    this.internalTopic = opts.internalTopic ?? DEFAULTS.internalTopic;
    this.partitions = opts.partitions ?? DEFAULTS.run.partitions;
    this.partitioning = opts.partitioning ?? 'address';
    this.identity = opts.identity ?? defaultProcessIdentity();
    this.groupId = opts.groupId ?? DEFAULTS.groupId;
  }

  /** Connects the admin client and the ingress producer, and creates missing topics. */
  async connect(): Promise<void> {
    if (this.admin !== undefined) return;
    const admin = this.kafka.admin();
    try {
      await admin.connect();
    } catch (err) {
      throw kafkaError(`connecting to Kafka at ${this.opts.connection.brokers.join(',')}`, err);
    }
    this.admin = admin;
    await this.ensureTopic(this.internalTopic, this.partitions, true);
    for (const t of this.opts.ensureTopics ?? []) await this.ensureTopic(t.topic, t.partitions, false);
    const appender = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    await appender.connect();
    this.appender = appender;
    this.appends = new AppendBatcher({
      send: async (records) => {
        await appender.sendBatch({ topicMessages: groupByTopic(records), acks: -1 });
      },
    });
    const txns = new ProcessTransactions({
      kafka: this.kafka,
      logger: this.opts.logger,
      idPrefix: this.groupId,
      identity: this.identity,
      transactionTimeoutMs: this.opts.transactionTimeoutMs,
      lingerMs: this.opts.commitLingerMs,
    });
    await txns.start();
    this.txns = txns;
  }

  /** The process's transactions (the Kafka ingress commits its moves in them too). */
  get transactions(): ProcessTransactions {
    if (this.txns === undefined) throw new ContinuumError('LOG_CLOSED', 'the Kafka log is not connected');
    return this.txns;
  }

  /**
   * The broker as the Kafka ingresses of this process reach it: their groups commit their moves
   * in this log's transactions, and offsets come from its admin client. Call after `connect()`.
   */
  ingressSource(): KafkaIngressSource {
    if (this.admin === undefined) throw new ContinuumError('LOG_CLOSED', 'the Kafka log is not connected');
    return new KafkaIngressSource(this.kafka, this.admin, this.transactions, this.assignors());
  }

  /**
   * With the `id` partitioning, partition `p` of the internal topic and of every ingress topic go
   * to the same process, so ingress records reach their task without crossing the broker.
   */
  private assignors(): PartitionAssigner[] | undefined {
    return this.partitioning === 'id' ? coPartitionAssignors(this.identity) : undefined;
  }

  async join(listener: AssignmentListener): Promise<void> {
    await this.connect();
    const group = new TransactionalGroup({
      kafka: this.kafka,
      admin: this.admin!,
      groupId: this.groupId,
      topics: [this.internalTopic],
      transactions: this.transactions,
      logger: this.opts.logger,
      fetchMinBytes: this.opts.fetchMinBytes,
      fetchMaxWaitMs: this.opts.fetchMaxWaitMs,
      sessionTimeoutMs: this.opts.sessionTimeoutMs,
      heartbeatIntervalMs: this.opts.heartbeatIntervalMs,
      rebalanceTimeoutMs: this.opts.rebalanceTimeoutMs,
      partitionAssigners: this.assignors(),
    });
    this.group = group;
    await group.start({
      assigned: async (inner) => {
        const owned = new KafkaOwnedPartition(this, inner);
        this.owned.set(inner.tp.partition, owned);
        await listener.assigned(owned);
      },
      revoked: async (tp) => {
        this.owned.delete(tp.partition);
        await listener.revoked(tp.partition);
      },
    });
  }

  reacquire(partition: number): OwnedPartition | undefined {
    const inner = this.group?.reacquire({ topic: this.internalTopic, partition });
    if (inner === undefined) return undefined;
    const owned = new KafkaOwnedPartition(this, inner);
    this.owned.set(partition, owned);
    return owned;
  }

  async leave(): Promise<void> {
    await this.group?.stop();
    this.group = undefined;
  }

  /** Leaves the group without the graceful revocation (a stuck stop); see TransactionalGroup.abandon. */
  async abandon(): Promise<void> {
    await this.group?.abandon();
  }

  async endOffsets(partitions: readonly number[]): Promise<ReadonlyMap<number, number>> {
    if (this.admin === undefined) throw new ContinuumError('LOG_CLOSED', 'the Kafka log is not connected');
    let offsets: { partition: number; high: string }[];
    try {
      offsets = await this.admin.fetchTopicOffsets(this.internalTopic);
    } catch (err) {
      throw kafkaError(`reading the end offsets of ${this.internalTopic}`, err);
    }
    // kafkajs lists offsets read_committed: `high` is the last stable offset.
    const high = new Map(offsets.map((o) => [o.partition, Number(o.high)]));
    const ends = new Map<number, number>();
    for (const p of partitions) {
      const end = high.get(p);
      if (end !== undefined) ends.set(p, end);
    }
    return ends;
  }

  async append(records: readonly OutRecord[]): Promise<void> {
    if (this.appends === undefined) await this.connect();
    try {
      await this.appends!.append(records);
    } catch (err) {
      if (err instanceof ContinuumError) throw err;
      throw kafkaError('appending ingress records', err);
    }
  }

  reader(topic: string): TopicReader {
    let r = this.readers.get(topic);
    if (r === undefined) {
      r = new KafkaTopicReader(this.kafka, topic, this.opts.logger);
      this.readers.set(topic, r);
    }
    return r;
  }

  async close(): Promise<void> {
    await this.leave();
    for (const r of this.readers.values()) await r.close();
    this.readers.clear();
    await this.txns?.close();
    this.txns = undefined;
    await this.appender?.disconnect().catch(() => undefined);
    this.appender = undefined;
    this.appends = undefined;
    await this.admin?.disconnect().catch(() => undefined);
    this.admin = undefined;
  }

  /** Initial offset of an internal partition nobody committed yet: its first retained record. */
  async lowWatermark(partition: number): Promise<number> {
    const offsets = await this.admin!.fetchTopicOffsets(this.internalTopic);
    return Number(offsets.find((o) => o.partition === partition)?.low ?? 0);
  }

  private async ensureTopic(topic: string, partitions: number, exact: boolean): Promise<void> {
    const admin = this.admin!;
    const existing = await admin.listTopics();
    if (!existing.includes(topic)) {
      try {
        await admin.createTopics({
          waitForLeaders: true,
          topics: [
            {
              topic,
              numPartitions: partitions,
              replicationFactor: this.opts.replicationFactor ?? -1,
              // Retention by append time: records carry event times in headers, and a message
              // between functions must not expire because its event happened long ago.
              configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }],
            },
          ],
        });
      } catch (err) {
        // Another process may have created it in between; the check below decides.
        this.opts.logger.debug('createTopics failed', { topic, err });
      }
    }
    if (!exact) return;
    const meta = await topicMetadataOnceLed(admin, topic);
    const count = meta.topics[0]?.partitions.length ?? 0;
    if (count !== partitions) {
      throw new ContinuumError(
        'INTERNAL_TOPIC_MISMATCH',
        `internal topic ${topic} has ${count} partitions but the runtime is configured for ${partitions}; ` +
          `the partition count is fixed for the life of a deployment (set CONTINUUM_PARTITIONS=${count})`,
      );
    }
  }
}

/**
 * The metadata of `topic` once every partition has a leader. Processes starting together race to
 * create the internal topic: the ones that lose see it before the broker has elected its leaders,
 * and asking for its metadata then fails with a retriable error (UNKNOWN_TOPIC_OR_PARTITION,
 * LEADER_NOT_AVAILABLE), which used to end the process's start. Retried for up to `timeoutMs`.
 */
export async function topicMetadataOnceLed(
  admin: Pick<Admin, 'fetchTopicMetadata'>,
  topic: string,
  timeoutMs = 30_000,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<Awaited<ReturnType<Admin['fetchTopicMetadata']>>> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      const partitions = meta.topics[0]?.partitions ?? [];
      if ((partitions.length > 0 && partitions.every((p) => p.leader >= 0)) || Date.now() >= deadline)
        return meta;
    } catch (err) {
      if ((err as { retriable?: boolean }).retriable !== true || Date.now() >= deadline) throw err;
    }
    await sleep(Math.min(1000, 50 * 2 ** attempt));
  }
}

class KafkaOwnedPartition implements OwnedPartition {
  readonly partition: number;

  constructor(
    private readonly log: KafkaLog,
    private readonly inner: GroupOwnedPartition,
  ) {
    this.partition = inner.tp.partition;
  }

  fence(): Promise<void> {
    return this.inner.fence();
  }

  async committed(): Promise<CommittedPosition> {
    const { offset, metadata } = await this.inner.committed();
    const match = metadata === null ? null : CHECKPOINT_METADATA.exec(metadata);
    return {
      offset: offset ?? (await this.log.lowWatermark(this.partition)),
      checkpointId: match === null ? 0 : Number(match[1]),
    };
  }

  scanFor(offset: number, decide: (record: LogRecord) => boolean | undefined): Promise<boolean> {
    return this.inner.scanFor(offset, decide);
  }

  publish(records: readonly OutRecord[]): Promise<void> {
    return this.inner.commit(records, undefined, null);
  }

  start(offset: number, sink: RecordSink): void {
    this.inner.start(offset, sink);
  }

  pause(): void {
    this.inner.pause();
  }

  resume(): void {
    this.inner.resume();
  }

  commit(
    records: readonly OutRecord[],
    position: CommittedPosition,
    prepare?: () => Promise<void>,
    options?: CommitOptions,
  ): Promise<void> {
    return this.inner.commit(
      records,
      position.offset,
      `continuum:ckpt=${position.checkpointId}`,
      prepare,
      options?.urgent === true,
    );
  }
}
