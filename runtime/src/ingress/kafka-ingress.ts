// Kafka ingress (`io.statefun.kafka.v1/ingress`): reads the declared topics in a consumer group and
// moves each record into the internal log, exactly once: the routed records (one per target), any
// dead letter and the ingress offset are committed in one transaction, the process's shared one
// (process-transactions.ts). A record moved twice (an old owner of the ingress partition still
// moving, or a committed offset read before it was stable) is dropped by the partition task by its
// source offset, so the move needs no fence of its own.
// Spec §5: key → address id, valueType → typename, the raw value bytes → the argument, no caller.
// Each ingress partition is a watermark source: its marks go into every internal partition in the
// same transactions as its records (see event-time.ts). With tracing, a record's internal records
// carry the trace context of its ingress span, which continues the trace of an upstream
// `traceparent` header.
import type { Admin, Kafka } from 'kafkajs';
import type { Address } from '@continuum/sdk/protocol';
import { parseTypeName } from '../core/address.js';
import type { DeadLetterCode } from '../core/dead-letter-codes.js';
import { deadLetterRecord, sourceOf, toInternalRecord, watermarkRecords } from '../core/envelope.js';
import type { WatermarkMark } from '../core/watermarks.js';
import type { LogRecord, OutRecord } from '../log/log.js';
import { kafkaError } from '../log/kafka/client.js';
import {
  TransactionalGroup,
  type GroupOwnedPartition,
  type TopicPartition,
} from '../log/kafka/transactional-group.js';
import type { ProcessTransactions } from '../log/kafka/process-transactions.js';
import type { Logger } from '../logger.js';
import type { EventTimeExtractor, KafkaIngressConfig, KafkaIngressTopic } from '../module/types.js';
import type { MoveObservation, RuntimeObserver } from '../runtime.js';
import { extractEventTime, SourceWatermark } from './event-time.js';

export interface KafkaIngressOptions {
  ingress: KafkaIngressConfig;
  kafka: Kafka;
  admin: Admin;
  /** The process's transactions (the Kafka log's), which commit the moves. */
  transactions: ProcessTransactions;
  internalTopic: string;
  partitions: number;
  deadLetterTopic: string;
  /** Used for the group id when the ingress names none. */
  runtimeGroupId: string;
  logger: Logger;
  /** Records waiting to be moved per ingress partition before its consumer pauses. */
  maxQueued?: number | undefined;
  /** Records moved per transaction at most. */
  maxBatch?: number | undefined;
  sessionTimeoutMs?: number | undefined;
  heartbeatIntervalMs?: number | undefined;
  /** Fetches wait for this many bytes or `fetchMaxWaitMs` (defaults: the group's). */
  fetchMinBytes?: number | undefined;
  fetchMaxWaitMs?: number | undefined;
  /** Marks of one ingress partition are written at most this often (default 200 ms). */
  watermarkIntervalMs?: number | undefined;
  /** Tracing of the records moved (its `moving`); none when absent. */
  observer?: RuntimeObserver | undefined;
}

export interface IngressStats {
  moved: number;
  deadLetters: number;
  transactions: number;
  /** Watermark marks written (each to every internal partition). */
  marks: number;
}

/** What one ingress record becomes. */
export interface RoutedRecord {
  records: OutRecord[];
  deadLetter: boolean;
  eventTime?: number | undefined;
  /** The observer's hold on the move (tracing): ended once its transaction settles. */
  observation?: MoveObservation | undefined;
}

/**
 * Maps one ingress record to internal-log records (or a dead letter). Pure apart from the
 * observer, which adds its headers (trace context) to every internal record; exported for tests.
 */
export function routeIngressRecord(
  record: LogRecord,
  route: KafkaIngressTopic | undefined,
  opts: {
    internalTopic: string;
    partitions: number;
    deadLetterTopic: string;
    ingressId: string;
    /** Where the event time comes from (default: the record timestamp). */
    extractor?: EventTimeExtractor | undefined;
    observer?: RuntimeObserver | undefined;
  },
  now: number,
): RoutedRecord {
  const dead = (code: DeadLetterCode, reason: string): { records: OutRecord[]; deadLetter: boolean } => ({
    deadLetter: true,
    records: [
      deadLetterRecord(
        opts.deadLetterTopic,
        {
          code,
          reason: `ingress ${opts.ingressId}: ${reason}`,
          source: sourceOf(record),
          key: record.key,
          value: record.value,
        },
        now,
      ),
    ],
  });
  if (route === undefined) return dead('INGRESS_TOPIC_UNKNOWN', `topic ${record.topic} has no routing`);
  if (record.key === null)
    return dead('INGRESS_KEY_MISSING', 'the record has no key, so it names no function id');
  if (record.value === null) return dead('INGRESS_VALUE_MISSING', 'the record has no value (tombstone)');
  const time = extractEventTime(
    opts.extractor ?? { type: 'record-timestamp' },
    record.value,
    record.timestamp,
    now,
  );
  if (!time.ok) return dead('INGRESS_EVENT_TIME_INVALID', time.reason);
  const { key: id, value } = record;
  const targets: Address[] = route.targets.map((target) => {
    const { namespace, name } = parseTypeName(target);
    return { namespace, type: name, id };
  });
  const observation = opts.observer?.moving?.(`kafka:${opts.ingressId}`, record, targets);
  const extra = observation?.headers;
  const records = targets.map((target, index) => {
    const out = toInternalRecord(opts.internalTopic, opts.partitions, {
      target,
      argument: { typename: route.valueType, hasValue: true, value },
      eventTime: time.eventTime,
      // Kafka reads committed consumer offsets without asking for stable ones, so right after a
      // takeover a new owner can start a little before where the old one committed and move a
      // few records twice; the partition tasks drop them by source and offset. One sequence per
      // target: the targets of one record share its offset, and may share an internal partition,
      // where the second must not look like a record moved twice.
      source: {
        name: `${opts.ingressId}|${record.topic}|${record.partition}|${index}`,
        offset: record.offset,
      },
    });
    return extra === undefined ? out : { ...out, headers: { ...out.headers, ...extra } };
  });
  return { records, deadLetter: false, eventTime: time.eventTime, observation };
}

export class KafkaIngress {
  readonly stats: IngressStats = { moved: 0, deadLetters: 0, transactions: 0, marks: 0 };
  private readonly group: TransactionalGroup;
  private readonly routes: Map<string, KafkaIngressTopic>;
  private readonly movers = new Map<string, PartitionMover>();
  private readonly groupId: string;
  private readonly retries = new Set<NodeJS.Timeout>();
  private stopping = false;
  /** The watermark members of this ingress: `<topic>:<partitions>` of each topic. */
  private members = '';

  constructor(private readonly opts: KafkaIngressOptions) {
    const { ingress } = opts;
    this.routes = new Map(ingress.topics.map((t) => [t.topic, t]));
    this.groupId = ingress.consumerGroupId ?? `${opts.runtimeGroupId}.ingress.${ingress.id}`;
    this.group = new TransactionalGroup({
      kafka: opts.kafka,
      admin: opts.admin,
      groupId: this.groupId,
      topics: ingress.topics.map((t) => t.topic),
      transactions: opts.transactions,
      fetchMinBytes: opts.fetchMinBytes,
      fetchMaxWaitMs: opts.fetchMaxWaitMs,
      logger: opts.logger,
      sessionTimeoutMs: opts.sessionTimeoutMs,
      heartbeatIntervalMs: opts.heartbeatIntervalMs,
    });
  }

  async start(): Promise<void> {
    const topics = this.opts.ingress.topics.map((t) => t.topic);
    const metadata = await this.opts.admin.fetchTopicMetadata({ topics });
    this.members = metadata.topics
      .map((t) => `${t.name}:${t.partitions.length}`)
      .sort()
      .join(',');
    await this.group.start({
      assigned: async (owned) => {
        const mover = new PartitionMover(this, owned);
        this.movers.set(key(owned.tp), mover);
        try {
          await mover.start();
        } catch (err) {
          // Kafka briefly unavailable (a broker restart: no group coordinator yet). Left alone the
          // partition would stay assigned to this member and paused for good: start it over.
          this.opts.logger.warn('starting an ingress partition failed; retrying', {
            topic: owned.tp.topic,
            partition: owned.tp.partition,
            err,
          });
          this.moverFailed(owned.tp);
        }
      },
      revoked: async (tp) => {
        const mover = this.movers.get(key(tp));
        this.movers.delete(key(tp));
        await mover?.stop();
      },
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.retries) clearTimeout(t);
    await this.group.stop();
  }

  /** Leaves the ingress group without moving what is queued (a stuck stop is given up). */
  async abandon(): Promise<void> {
    this.stopping = true;
    for (const t of this.retries) clearTimeout(t);
    await this.group.abandon();
  }

  /** A partition's mover gave up (commit failed): start over from the committed offset. */
  moverFailed(tp: TopicPartition): void {
    if (this.stopping) return;
    const t = setTimeout(() => {
      this.retries.delete(t);
      const owned = this.group.reacquire(tp);
      if (owned === undefined || this.stopping) return;
      const mover = new PartitionMover(this, owned);
      this.movers.set(key(tp), mover);
      mover.start().catch((err: unknown) => {
        this.opts.logger.error('restarting an ingress partition failed', {
          topic: tp.topic,
          partition: tp.partition,
          err,
        });
        this.moverFailed(tp);
      });
    }, 1000);
    this.retries.add(t);
  }

  /** Where a partition nobody committed for starts, per the ingress startup position. */
  async initialOffset(tp: TopicPartition): Promise<number> {
    const { ingress, admin } = this.opts;
    const pos = ingress.startupPosition;
    const offsets = await admin.fetchTopicOffsets(tp.topic);
    const p = offsets.find((o) => o.partition === tp.partition);
    const low = Number(p?.low ?? 0);
    const high = Number(p?.high ?? 0);
    const reset = (mode: 'earliest' | 'latest'): number => (mode === 'earliest' ? low : high);
    switch (pos.type) {
      case 'earliest':
        return low;
      case 'latest':
        return high;
      case 'group-offsets':
        return reset(ingress.autoOffsetResetPosition);
      case 'specific-offsets': {
        const given = pos.offsets[`${tp.topic}/${tp.partition}`];
        return given === undefined
          ? reset(ingress.autoOffsetResetPosition)
          : Math.min(Math.max(given, low), high);
      }
      case 'date': {
        const byTime = await admin.fetchTopicOffsetsByTimestamp(tp.topic, pos.epochMs);
        const found = byTime.find((o) => o.partition === tp.partition);
        const offset = Number(found?.offset ?? -1);
        return offset < 0 ? high : offset;
      }
    }
  }

  route(record: LogRecord): RoutedRecord {
    return routeIngressRecord(
      record,
      this.routes.get(record.topic),
      {
        internalTopic: this.opts.internalTopic,
        partitions: this.opts.partitions,
        deadLetterTopic: this.opts.deadLetterTopic,
        ingressId: this.opts.ingress.id,
        extractor: this.opts.ingress.eventTime.extractor,
        observer: this.opts.observer,
      },
      Date.now(),
    );
  }

  /** The watermark of one ingress partition, a source of the group named by the ingress id. */
  sourceWatermark(tp: TopicPartition): SourceWatermark {
    return new SourceWatermark(
      this.opts.ingress.eventTime,
      { group: this.opts.ingress.id, source: `${tp.topic}/${tp.partition}`, members: this.members },
      Date.now(),
    );
  }

  /** The end offset of an ingress partition (the next offset to be written). */
  async endOffset(tp: TopicPartition): Promise<number> {
    const offsets = await this.opts.admin.fetchTopicOffsets(tp.topic);
    return Number(offsets.find((o) => o.partition === tp.partition)?.high ?? 0);
  }

  /** The records of a mark: one per internal partition. */
  markRecords(mark: WatermarkMark): OutRecord[] {
    return watermarkRecords(this.opts.internalTopic, this.opts.partitions, mark, Date.now());
  }

  get limits(): { maxQueued: number; maxBatch: number; watermarkIntervalMs: number } {
    return {
      maxQueued: this.opts.maxQueued ?? 5000,
      maxBatch: this.opts.maxBatch ?? 1000,
      watermarkIntervalMs: this.opts.watermarkIntervalMs ?? 200,
    };
  }

  get logger(): Logger {
    return this.opts.logger;
  }
}

const key = (tp: TopicPartition): string => `${tp.topic}\u0000${tp.partition}`;

/**
 * Moves one ingress partition's records into the internal log, one transaction per batch. The
 * partition is a watermark source: a batch's transaction also carries the mark that covers it (at
 * most one per watermark interval; a quiet spell flushes the last one in a transaction of its own),
 * and after the idle timeout without records an idle mark.
 */
class PartitionMover {
  private queue: LogRecord[] = [];
  private running: Promise<void> | undefined;
  private stopped = false;
  private paused = false;
  private readonly watermark: SourceWatermark;
  private ticker: NodeJS.Timeout | undefined;
  /** The offset the group has committed for this partition (where a marks-only transaction stays). */
  private nextOffset = 0;
  private lastMarkAt = 0;
  private lastIdleCheck = 0;

  constructor(
    private readonly ingress: KafkaIngress,
    private readonly owned: GroupOwnedPartition,
  ) {
    this.watermark = ingress.sourceWatermark(owned.tp);
  }

  async start(): Promise<void> {
    await this.owned.fence();
    const committed = await this.owned.committed();
    const offset = committed.offset ?? (await this.ingress.initialOffset(this.owned.tp));
    this.nextOffset = offset;
    if (this.stopped) return;
    this.owned.start(offset, (records) => this.enqueue(records));
    // A partition that never receives a record must still become idle.
    this.arm();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.ticker !== undefined) clearTimeout(this.ticker);
    await this.running;
  }

  private enqueue(records: readonly LogRecord[]): void {
    if (this.stopped) return;
    this.queue.push(...records);
    if (!this.paused && this.queue.length >= this.ingress.limits.maxQueued) {
      this.paused = true;
      this.owned.pause();
    }
    this.kick();
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.ticker !== undefined) {
      clearTimeout(this.ticker);
      this.ticker = undefined;
    }
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
      this.arm();
    });
  }

  /**
   * A timer only for what is still due without new records: a watermark mark held back by the
   * interval, or the idle mark (its end-offset check repeats at most every second). A partition
   * with neither sets none, so a quiet ingress costs nothing.
   */
  private arm(): void {
    if (this.stopped || this.running !== undefined || this.ticker !== undefined) return;
    const { watermarkIntervalMs } = this.ingress.limits;
    let at = this.watermark.hasNews ? this.lastMarkAt + watermarkIntervalMs : Infinity;
    const idleAt = this.watermark.idleDueAt();
    if (idleAt !== undefined) at = Math.min(at, Math.max(idleAt, this.lastIdleCheck + 1000));
    if (at === Infinity) return;
    this.ticker = setTimeout(
      () => {
        this.ticker = undefined;
        this.kick();
      },
      Math.max(0, at - Date.now()),
    );
  }

  /** The mark to write with this transaction: news at most once per interval. */
  private markDue(now: number): WatermarkMark | undefined {
    if (this.watermark.hasNews && now - this.lastMarkAt >= this.ingress.limits.watermarkIntervalMs) {
      this.lastMarkAt = now;
      return this.watermark.takeMark();
    }
    return undefined;
  }

  /**
   * The idle mark, when no record arrived for the idle timeout and the partition has none left to
   * read: a partition that is only slow to deliver (just assigned, catching up) is not idle. The
   * end offset may sit one past the last record (a transaction's commit marker).
   */
  private async idleMark(now: number): Promise<WatermarkMark | undefined> {
    if (!this.watermark.idleDue(now) || now - this.lastIdleCheck < 1000) return undefined;
    this.lastIdleCheck = now;
    let end: number;
    try {
      end = await this.ingress.endOffset(this.owned.tp);
    } catch {
      return undefined;
    }
    return end - this.nextOffset <= 1 && this.queue.length === 0 ? this.watermark.takeIdle(now) : undefined;
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const batch = this.queue.splice(0, this.ingress.limits.maxBatch);
      const out: OutRecord[] = [];
      const observed: MoveObservation[] = [];
      let dead = 0;
      const now = Date.now();
      for (const r of batch) {
        const routed = this.ingress.route(r);
        out.push(...routed.records);
        if (routed.observation !== undefined) observed.push(routed.observation);
        if (routed.deadLetter) dead++;
        else if (routed.eventTime !== undefined) this.watermark.observe(routed.eventTime, now);
      }
      // News waits for the interval (the ticker flushes it in a transaction of its own).
      const mark = this.markDue(now) ?? (batch.length === 0 ? await this.idleMark(now) : undefined);
      if (batch.length === 0 && mark === undefined) return;
      if (mark !== undefined) out.push(...this.ingress.markRecords(mark));
      const next = batch.length === 0 ? this.nextOffset : batch[batch.length - 1]!.offset + 1;
      try {
        await this.owned.commit(out, next, null);
      } catch (err) {
        for (const o of observed) o.ended?.(err);
        // Nothing of this batch is visible; a new owner (or a restart) replays it from the
        // committed offset. Stop here rather than skip ahead.
        this.stopped = true;
        if (this.ticker !== undefined) clearTimeout(this.ticker);
        this.ingress.logger.error('moving ingress records failed; the partition is released', {
          topic: this.owned.tp.topic,
          partition: this.owned.tp.partition,
          err: kafkaError('ingress transaction', err),
        });
        this.ingress.moverFailed(this.owned.tp);
        return;
      }
      for (const o of observed) o.ended?.(undefined);
      this.nextOffset = next;
      this.ingress.stats.transactions++;
      this.ingress.stats.moved += batch.length - dead;
      this.ingress.stats.deadLetters += dead;
      if (mark !== undefined) this.ingress.stats.marks++;
      if (this.paused && this.queue.length < this.ingress.limits.maxQueued / 2) {
        this.paused = false;
        this.owned.resume();
      }
    }
  }
}
