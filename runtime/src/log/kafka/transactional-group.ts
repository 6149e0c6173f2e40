// A Kafka consumer group whose partitions commit their records and offsets through the process's
// shared transactions (process-transactions.ts). On assignment a partition stays paused until its
// owner has recovered it (the owner reads the committed offset) and only then seeks there.
// kafkajs has no rebalance callbacks, so assignment changes are taken from its GROUP_JOIN event.
// Earlier owners are not fenced here: the partition task fences them in the state store (epoch)
// and decides their last checkpoint by its marker record; the ingress drops re-moved records by
// their source offsets.
import type { Admin, Consumer, EachBatchPayload, Kafka, PartitionAssigner } from 'kafkajs';
import { ContinuumError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { LogRecord, OutRecord, RecordSink } from '../log.js';
import { kafkaError } from './client.js';
import type { ProcessTransactions } from './process-transactions.js';
import { logRecordOf } from './records.js';
import { DEFAULTS } from '../../defaults.js';

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface GroupListener {
  assigned(owned: GroupOwnedPartition): Promise<void>;
  revoked(tp: TopicPartition): Promise<void>;
}

export interface TransactionalGroupOptions {
  kafka: Kafka;
  admin: Admin;
  groupId: string;
  topics: string[];
  /** The process's transactions, which commit this group's offsets with the records. */
  transactions: ProcessTransactions;
  logger: Logger;
  sessionTimeoutMs?: number | undefined;
  heartbeatIntervalMs?: number | undefined;
  rebalanceTimeoutMs?: number | undefined;
  maxBytesPerPartition?: number | undefined;
  /** Most bytes one fetch returns, all partitions together (kafkajs's default: 10 MiB). */
  maxBytes?: number | undefined;
  /**
   * A fetch waits for this many bytes, or for `fetchMaxWaitMs` (the broker's fetch.min.bytes and
   * fetch.max.wait.ms): fewer, fuller fetches at low rates for at most that much latency.
   */
  fetchMinBytes?: number | undefined;
  fetchMaxWaitMs?: number | undefined;
  /** How the group leader assigns partitions (co-partition-assignor.ts); kafkajs's default without. */
  partitionAssigners?: PartitionAssigner[] | undefined;
}

/**
 * Fetch defaults (measured in bench/RESULTS.md): a fetch returns as soon as a record is readable,
 * and an idle consumer asks twice a second (Kafka's own defaults). Waiting for fuller fetches cost
 * latency and idle CPU without saving the broker measurable work.
 */
export const DEFAULT_FETCH_MIN_BYTES = DEFAULTS.run.fetchMinBytes;
export const DEFAULT_FETCH_MAX_WAIT_MS = DEFAULTS.run.fetchMaxWaitMs;

/**
 * Session timeout default (measured in bench/RESULTS.md): a member that died without leaving the
 * group (SIGKILL, OOM kill, node loss) holds its partitions until this passes, and kafkajs has no
 * static membership to let its restart take them back sooner. 6 s is the broker's default
 * minimum (group.min.session.timeout.ms); heartbeats go every second, so a member is only dropped
 * when its event loop stalls for about that long.
 */
export const DEFAULT_SESSION_TIMEOUT_MS = DEFAULTS.run.sessionTimeoutMs;

const tpKey = (tp: TopicPartition): string => `${tp.topic}\u0000${tp.partition}`;

type EntryState = 'pending' | 'started' | 'revoked';
interface Entry {
  tp: TopicPartition;
  state: EntryState;
  owned: GroupOwnedPartition;
}

export class TransactionalGroup {
  private consumer: Consumer | undefined;
  private listener: GroupListener | undefined;
  private readonly entries = new Map<string, Entry>();
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(readonly opts: TransactionalGroupOptions) {}

  async start(listener: GroupListener): Promise<void> {
    this.listener = listener;
    await this.startConsumer();
  }

  private async startConsumer(): Promise<void> {
    const consumer = this.opts.kafka.consumer({
      groupId: this.opts.groupId,
      readUncommitted: false,
      allowAutoTopicCreation: false,
      sessionTimeout: this.opts.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS,
      heartbeatInterval: this.opts.heartbeatIntervalMs ?? 1000,
      rebalanceTimeout: this.opts.rebalanceTimeoutMs ?? 30_000,
      maxBytesPerPartition: this.opts.maxBytesPerPartition ?? 1024 * 1024,
      ...(this.opts.maxBytes === undefined ? {} : { maxBytes: this.opts.maxBytes }),
      minBytes: this.opts.fetchMinBytes ?? DEFAULT_FETCH_MIN_BYTES,
      maxWaitTimeInMs: this.opts.fetchMaxWaitMs ?? DEFAULT_FETCH_MAX_WAIT_MS,
      retry: { retries: 10 },
      ...(this.opts.partitionAssigners === undefined
        ? {}
        : { partitionAssigners: this.opts.partitionAssigners }),
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      const assigned: TopicPartition[] = [];
      for (const [topic, partitions] of Object.entries(e.payload.memberAssignment)) {
        for (const partition of partitions) assigned.push({ topic, partition });
      }
      this.onAssignment(assigned);
    });
    consumer.on(consumer.events.CRASH, (e) => {
      if (e.payload.restart) {
        this.opts.logger.error('Kafka consumer crashed; kafkajs restarts it', {
          error: e.payload.error.message,
        });
        return;
      }
      // kafkajs gives up on errors it deems not retriable ("Failed to find group coordinator"
      // while a broker restarts is one): its consumer is gone for good, and this member would
      // keep its partitions' tasks running without the group.
      this.opts.logger.error(
        'Kafka consumer stopped after an error kafkajs does not retry; starting a new one',
        {
          group: this.opts.groupId,
          error: e.payload.error.message,
        },
      );
      if (this.consumer === consumer) this.replaceConsumer(consumer, 1);
    });
    await consumer.connect();
    for (const topic of this.opts.topics) await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.onBatch(payload),
    });
  }

  /** Revokes every partition through the listener (graceful), then leaves the group. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const consumer = this.consumer;
    this.opts.logger.debug('consumer group stopping: waiting for assignments in progress', {
      group: this.opts.groupId,
    });
    await this.chain;
    // While kafkajs restarts its consumer after a crash (a broker restart) pause throws; the
    // stop goes on regardless: revocation and leaving do not need it.
    if (consumer !== undefined)
      this.consumerCall('pause', () => consumer.pause(this.opts.topics.map((topic) => ({ topic }))));
    this.opts.logger.debug('consumer group stopping: revoking', { group: this.opts.groupId });
    for (const entry of [...this.entries.values()]) await this.revoke(entry);
    this.opts.logger.debug('consumer group stopping: disconnecting', { group: this.opts.groupId });
    try {
      await consumer?.disconnect();
    } catch (err) {
      // The partitions were revoked; without a leave-group they move after the session timeout.
      this.opts.logger.warn('leaving the consumer group failed', { group: this.opts.groupId, err });
    }
  }

  /**
   * Leaves the group at once, without revoking through the listener: for a stop that is stuck
   * (its checkpoint does not finish) and is given up. The partitions move to other members now
   * rather than after the session timeout; that is as safe as a crash, since their new owners
   * fence this process.
   */
  async abandon(): Promise<void> {
    this.stopped = true;
    await this.consumer?.disconnect();
  }

  /**
   * Replaces a consumer kafkajs will not restart: what this member owned is revoked (its tasks
   * finish their checkpoints through the process's transactions, which do not need the consumer)
   * and a new consumer joins the group, which assigns the partitions afresh.
   */
  private replaceConsumer(dead: Consumer, attempt: number): void {
    if (this.stopped || this.consumer !== dead) return;
    this.consumer = undefined;
    this.onAssignment([]);
    const wait = Math.min(10_000, 500 * 2 ** Math.min(attempt, 5));
    const timer = setTimeout(() => {
      void (async () => {
        await dead.disconnect().catch(() => undefined);
        if (this.stopped) return;
        try {
          await this.startConsumer();
        } catch (err) {
          this.opts.logger.error('starting a new Kafka consumer failed; retrying', {
            group: this.opts.groupId,
            err,
          });
          const failed = this.consumer ?? dead;
          this.consumer = failed;
          this.replaceConsumer(failed, attempt + 1);
          return;
        }
        // Stopped meanwhile: stop() found no consumer to leave the group with.
        if (this.stopped) await this.consumer?.disconnect().catch(() => undefined);
      })();
    }, wait);
    timer.unref?.();
  }

  /** A fresh owner for a partition still assigned here (after its task failed). */
  reacquire(tp: TopicPartition): GroupOwnedPartition | undefined {
    const entry = this.entries.get(tpKey(tp));
    if (entry === undefined || entry.state === 'revoked' || this.stopped) return undefined;
    const previous = entry.owned;
    entry.owned = new GroupOwnedPartition(this, tp);
    entry.state = 'pending';
    this.pause(tp);
    previous.cancelScan();
    void previous.close();
    return entry.owned;
  }

  owns(tp: TopicPartition): boolean {
    const e = this.entries.get(tpKey(tp));
    return e !== undefined && e.state !== 'revoked';
  }

  /** Partitions currently assigned to this member. */
  assignedPartitions(): TopicPartition[] {
    return [...this.entries.values()].filter((e) => e.state !== 'revoked').map((e) => e.tp);
  }

  // ---- used by GroupOwnedPartition ----

  pause(tp: TopicPartition): void {
    this.consumerCall('pause', () => this.consumer?.pause([{ topic: tp.topic, partitions: [tp.partition] }]));
  }

  resume(tp: TopicPartition): void {
    this.consumerCall('resume', () =>
      this.consumer?.resume([{ topic: tp.topic, partitions: [tp.partition] }]),
    );
  }

  startDelivery(owned: GroupOwnedPartition, offset: number): void {
    const entry = this.entries.get(tpKey(owned.tp));
    if (entry === undefined || entry.owned !== owned || entry.state === 'revoked') return;
    entry.state = 'started';
    this.consumerCall('seek', () =>
      this.consumer?.seek({ topic: owned.tp.topic, partition: owned.tp.partition, offset: String(offset) }),
    );
    if (!owned.userPaused) this.resume(owned.tp);
  }

  /**
   * kafkajs throws from pause/resume/seek while its consumer restarts after a crash (a broker
   * restart, say). The calls are re-applied from our own state when it has joined again.
   */
  private consumerCall(what: string, call: () => void): void {
    try {
      call();
    } catch (err) {
      this.opts.logger.debug(`consumer ${what} deferred until the consumer has rejoined`, { err });
    }
  }

  /** After a (re)join: every partition we keep gets our position and pause state again. */
  private reapply(): void {
    for (const entry of this.entries.values()) {
      if (entry.state === 'revoked') continue;
      if (entry.state === 'started') {
        const { tp } = entry.owned;
        this.consumerCall('seek', () =>
          this.consumer?.seek({
            topic: tp.topic,
            partition: tp.partition,
            offset: String(entry.owned.nextOffset),
          }),
        );
        if (entry.owned.userPaused) this.pause(tp);
        else this.resume(tp);
      } else {
        this.pause(entry.tp);
      }
    }
  }

  /** Back to the recovering state after a scan: paused, batches dropped until the next start. */
  stopDelivery(owned: GroupOwnedPartition): void {
    const entry = this.entries.get(tpKey(owned.tp));
    if (entry === undefined || entry.owned !== owned || entry.state === 'revoked') return;
    entry.state = 'pending';
    this.pause(owned.tp);
  }

  // ---- internals ----

  private onAssignment(assigned: TopicPartition[]): void {
    const next = new Set(assigned.map(tpKey));
    // Seek, pause and resume requests made while kafkajs restarted its consumer were lost.
    setImmediate(() => this.reapply());
    const added: Entry[] = [];
    // Newly assigned partitions are paused at once, before kafkajs fetches from its own idea of
    // the committed offset: the owner reads the offset only after fencing.
    for (const tp of assigned) {
      // An entry still being revoked (a quick revoke and re-assign) does not count: the revoke
      // runs first in the chain, then the new entry starts.
      const existing = this.entries.get(tpKey(tp));
      if (existing !== undefined && existing.state !== 'revoked') continue;
      const entry: Entry = { tp, state: 'pending', owned: new GroupOwnedPartition(this, tp) };
      this.entries.set(tpKey(tp), entry);
      this.pause(tp);
      added.push(entry);
    }
    const removed = [...this.entries.values()].filter((e) => !next.has(tpKey(e.tp)) && e.state !== 'revoked');
    for (const e of removed) {
      e.state = 'revoked';
      // A recovery still reading this partition would wait for records that no longer come and
      // hold up the assignment changes queued behind it.
      e.owned.cancelScan();
    }
    this.chain = this.chain.then(async () => {
      for (const e of removed) await this.revoke(e);
      await Promise.all(added.map((e) => this.assign(e)));
    });
  }

  private async assign(entry: Entry): Promise<void> {
    if (this.stopped || entry.state === 'revoked') return;
    try {
      await this.listener!.assigned(entry.owned);
    } catch (err) {
      this.opts.logger.error('partition assignment failed', {
        topic: entry.tp.topic,
        partition: entry.tp.partition,
        err,
      });
    }
  }

  private async revoke(entry: Entry): Promise<void> {
    entry.state = 'revoked';
    this.pause(entry.tp);
    try {
      await this.listener!.revoked(entry.tp);
    } catch (err) {
      this.opts.logger.warn('partition revocation failed', {
        topic: entry.tp.topic,
        partition: entry.tp.partition,
        err,
      });
    }
    if (this.entries.get(tpKey(entry.tp)) === entry) this.entries.delete(tpKey(entry.tp));
    await entry.owned.close();
  }

  private onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const entry = this.entries.get(tpKey({ topic: batch.topic, partition: batch.partition }));
    // Not started yet (recovering) or gone: leave the offsets unresolved; the partition is
    // paused and fetching starts over from the seek position.
    if (entry === undefined || entry.state !== 'started' || payload.isStale()) return Promise.resolve();
    const owned = entry.owned;
    const records: LogRecord[] = [];
    for (const m of batch.messages) {
      const offset = Number(m.offset);
      if (offset < owned.nextOffset) continue;
      records.push(logRecordOf(batch.topic, batch.partition, m));
    }
    if (records.length > 0) {
      owned.nextOffset = records[records.length - 1]!.offset + 1;
      owned.deliver(records);
    }
    payload.resolveOffset(batch.lastOffset());
    return Promise.resolve();
  }
}

/** One partition owned by this member. */
export class GroupOwnedPartition {
  nextOffset = 0;
  userPaused = false;
  private sink: RecordSink | undefined;
  private scan:
    | {
        decide: (r: LogRecord) => boolean | undefined;
        resolve: (found: boolean) => void;
        reject: (err: Error) => void;
      }
    | undefined;
  private closed = false;

  constructor(
    private readonly group: TransactionalGroup,
    readonly tp: TopicPartition,
  ) {}

  /**
   * Nothing to do in Kafka: transactions are the process's, not the partition's. Earlier owners
   * are fenced by the caller (state store epoch, marker scan; source offsets at the ingress).
   */
  fence(): Promise<void> {
    if (this.closed) {
      return Promise.reject(
        new ContinuumError(
          'PARTITION_RELEASED',
          `${this.tp.topic}/${this.tp.partition} was released during fencing`,
        ),
      );
    }
    return Promise.resolve();
  }

  /** The group's committed offset and its metadata; `offset` undefined when none is committed. */
  async committed(): Promise<{ offset: number | undefined; metadata: string | null }> {
    const { admin, groupId } = this.group.opts;
    let result;
    try {
      result = await admin.fetchOffsets({ groupId, topics: [this.tp.topic] });
    } catch (err) {
      throw kafkaError(`reading the committed offset of ${this.tp.topic}/${this.tp.partition}`, err);
    }
    const part = result
      .find((t) => t.topic === this.tp.topic)
      ?.partitions.find((p) => p.partition === this.tp.partition);
    const offset = part === undefined ? -1 : Number(part.offset);
    return { offset: offset < 0 ? undefined : offset, metadata: part?.metadata ?? null };
  }

  /** See OwnedPartition.scanFor: delivery runs into `decide` until it returns a decision. */
  async scanFor(offset: number, decide: (record: LogRecord) => boolean | undefined): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<boolean>((resolve, reject) => {
        this.scan = { decide, resolve, reject };
        // An open transaction of another producer holds the readable end back; it ends within
        // its transaction timeout. Give up (recovery is retried) rather than wait forever.
        timer = setTimeout(
          () =>
            reject(
              new ContinuumError(
                'RECOVERY_SCAN_TIMEOUT',
                `${this.tp.topic}/${this.tp.partition}: no decision reading from offset ${offset} within 120 s`,
                { retryable: true },
              ),
            ),
          120_000,
        );
        this.nextOffset = offset;
        this.group.startDelivery(this, offset);
      });
    } finally {
      clearTimeout(timer);
      this.scan = undefined;
      this.group.stopDelivery(this);
    }
  }

  start(offset: number, sink: RecordSink): void {
    if (this.sink !== undefined)
      throw new ContinuumError('LOG_STARTED', `${this.tp.topic}/${this.tp.partition} already started`);
    this.sink = sink;
    this.nextOffset = offset;
    this.group.startDelivery(this, offset);
  }

  deliver(records: readonly LogRecord[]): void {
    if (this.closed) return;
    const scan = this.scan;
    if (scan !== undefined) {
      for (const r of records) {
        const decision = scan.decide(r);
        if (decision !== undefined) {
          scan.resolve(decision);
          break;
        }
      }
      return;
    }
    this.sink?.(records);
  }

  pause(): void {
    this.userPaused = true;
    this.group.pause(this.tp);
  }

  resume(): void {
    this.userPaused = false;
    if (this.sink !== undefined && !this.closed) this.group.resume(this.tp);
  }

  /**
   * Commits the records and (unless `offset` is undefined) this partition's offset in the next
   * process transaction; `prepare` runs inside it, after the records are written (see
   * ProcessTransactions).
   */
  async commit(
    records: readonly OutRecord[],
    offset: number | undefined,
    metadata: string | null,
    prepare?: () => Promise<void>,
    urgent = false,
  ): Promise<void> {
    if (this.closed) throw this.released();
    const { transactions, groupId } = this.group.opts;
    await transactions.commit({
      urgent,
      records,
      offsets:
        offset === undefined
          ? []
          : [{ groupId, topic: this.tp.topic, partition: this.tp.partition, offset, metadata }],
      prepare:
        prepare === undefined
          ? undefined
          : async () => {
              // Released while queued: its stage would fail on the epoch anyway; say so clearly.
              if (this.closed) throw this.released();
              await prepare();
            },
    });
  }

  private released(): ContinuumError {
    return new ContinuumError(
      'FENCED',
      `${this.tp.topic}/${this.tp.partition} is no longer owned by this process`,
    );
  }

  /** Ends a running scan with an error: the partition was released while recovering it. */
  cancelScan(): void {
    this.scan?.reject(
      new ContinuumError(
        'PARTITION_RELEASED',
        `${this.tp.topic}/${this.tp.partition} was released during recovery`,
      ),
    );
  }

  close(): Promise<void> {
    this.cancelScan();
    this.closed = true;
    return Promise.resolve();
  }
}
