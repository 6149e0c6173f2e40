// Kafka ingress (`io.statefun.kafka.v1/ingress`): reads the declared topics in a consumer group and
// moves each record into the internal log, exactly once: the routed records (one per target), any
// dead letter and the ingress offset are committed in one transaction, the process's shared one
// (process-transactions.ts). A record moved twice (an old owner of the ingress partition still
// moving, or a committed offset read before it was stable) is dropped by the partition task by its
// source offset, so the move needs no fence of its own.
// The routing of one record is core/ingress-routing.ts; the broker is reached through the
// `IngressSource` port (source.ts), which the Kafka log provides.
// Each ingress partition is a watermark source: its marks go into every internal partition in the
// same transactions as its records (see event-time.ts). With tracing, a record's internal records
// carry the trace context of its ingress span, which continues the trace of an upstream
// `traceparent` header.
import { randomUUID } from 'node:crypto';
import { watermarkRecords } from '../core/envelope.js';
import { routeIngressRecord, type RoutedRecord } from '../core/ingress-routing.js';
import type { HandOffTarget } from '../core/ingress-handoff.js';
import type { ProcessBudget } from '../core/process-budget.js';
import type { WatermarkMark } from '../core/watermarks.js';
import type { LogRecord, OutRecord } from '../log/log.js';
import type { Partitioning } from '../log/partitioner.js';
import type { Logger } from '../logger.js';
import type { KafkaIngressConfig, KafkaIngressTopic } from '../module/types.js';
import type { MoveObservation, RuntimeObserver } from '../observers.js';
import { SourceWatermark } from './event-time.js';
import { HandOffLanes } from './handoff-lanes.js';
import type { IngressSource, SourceGroup, SourcePartition, TopicPartition } from './source.js';

export interface KafkaIngressOptions {
  ingress: KafkaIngressConfig;
  /** The broker: the ingress topics' groups (committing in the process's transactions) and offsets. */
  source: IngressSource;
  internalTopic: string;
  partitions: number;
  /** How a target picks its internal partition (the log's). */
  partitioning: Partitioning;
  deadLetterTopic: string;
  /** Used for the group id when the ingress names none. */
  runtimeGroupId: string;
  logger: Logger;
  /** Records waiting to be moved per ingress partition before its consumer pauses. */
  maxQueued?: number | undefined;
  /**
   * Records waiting to be moved, all ingress partitions of the process together (shared by every
   * Kafka ingress of the process): past it, a partition that receives more pauses its consumer.
   */
  queueBudget?: ProcessBudget | undefined;
  /** Handed-over records not yet durable, all ingress partitions of the process together. */
  handOffBudget?: ProcessBudget | undefined;
  /** Records moved per transaction at most. */
  maxBatch?: number | undefined;
  sessionTimeoutMs?: number | undefined;
  heartbeatIntervalMs?: number | undefined;
  /** Fetches wait for this many bytes or `fetchMaxWaitMs` (defaults: the group's). */
  fetchMinBytes?: number | undefined;
  fetchMaxWaitMs?: number | undefined;
  /** Most bytes one fetch of the ingress topics brings (see SourceGroupOptions.fetchMaxBytes). */
  fetchMaxBytes?: number | undefined;
  /** Marks of one ingress partition are written at most this often (default 200 ms). */
  watermarkIntervalMs?: number | undefined;
  /** Tracing of the records moved (its `moving`); none when absent. */
  observer?: RuntimeObserver | undefined;
  /**
   * The task of an internal partition when it runs in this process: its records are handed over
   * instead of appended (core/ingress-handoff.ts). Absent: every record goes through the log.
   */
  handOff?: ((partition: number) => HandOffTarget | undefined) | undefined;
}

export interface IngressStats {
  moved: number;
  deadLetters: number;
  transactions: number;
  /** Watermark marks written (each to every internal partition). */
  marks: number;
  /** Routed records handed over to a task of this process instead of appended to the log. */
  handedOver: number;
  /** Barriers written (a lane switching to hand-over). */
  barriers: number;
  /** Hand-overs a task refused (a full mailbox): appended instead. */
  handOverRefused: number;
  /** Ingress partitions moved again from their committed offset because a task stopped. */
  handOverRestarts: number;
  /** Times a partition held records because the process's hand-over budget was used up. */
  handOverBudgetWaits: number;
}

/** Every count at zero. */
export function emptyIngressStats(): IngressStats {
  return {
    moved: 0,
    deadLetters: 0,
    transactions: 0,
    marks: 0,
    handedOver: 0,
    barriers: 0,
    handOverRefused: 0,
    handOverRestarts: 0,
    handOverBudgetWaits: 0,
  };
}

export class KafkaIngress {
  readonly stats: IngressStats = emptyIngressStats();
  private moverSeq = 0;
  /**
   * Makes this ingress's barrier tokens unique across processes and restarts: a task takes the
   * first barrier record carrying the token it waits for, so a token an earlier process (or an
   * earlier run of this one) wrote into the same partition must never match — the lane would hand
   * over before the task has read what the lane appended, and those records would arrive after
   * later ones and be dropped as repeats.
   */
  private readonly laneNonce = randomUUID();
  private readonly group: SourceGroup;
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
    this.group = opts.source.group({
      groupId: this.groupId,
      topics: ingress.topics.map((t) => t.topic),
      fetchMinBytes: opts.fetchMinBytes,
      fetchMaxWaitMs: opts.fetchMaxWaitMs,
      fetchMaxBytes: opts.fetchMaxBytes,
      logger: opts.logger,
      sessionTimeoutMs: opts.sessionTimeoutMs,
      heartbeatIntervalMs: opts.heartbeatIntervalMs,
    });
  }

  async start(): Promise<void> {
    const topics = this.opts.ingress.topics.map((t) => t.topic);
    const counts = await this.opts.source.partitionCounts(topics);
    this.members = counts
      .map((t) => `${t.topic}:${t.partitions}`)
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

  /**
   * A task stopped holding records this partition handed over: once the mover has stopped (its
   * last transaction settled), move again from the committed offset.
   */
  restartMover(tp: TopicPartition, mover: PartitionMover): void {
    if (this.stopping || this.movers.get(key(tp)) !== mover) return;
    this.stats.handOverRestarts++;
    void mover.stop().then(() => {
      if (this.stopping || this.movers.get(key(tp)) !== mover) return;
      const owned = this.group.reacquire(tp);
      if (owned === undefined || this.stopping) return;
      const next = new PartitionMover(this, owned);
      this.movers.set(key(tp), next);
      next.start().catch((err: unknown) => {
        this.opts.logger.error('restarting an ingress partition failed', {
          topic: tp.topic,
          partition: tp.partition,
          err,
        });
        this.moverFailed(tp);
      });
    });
  }

  /** Hand-over lanes for a new mover, when hand-over is on. */
  lanes(tp: TopicPartition, mover: PartitionMover): HandOffLanes | undefined {
    const target = this.opts.handOff;
    if (target === undefined) return undefined;
    return new HandOffLanes({
      internalTopic: this.opts.internalTopic,
      laneId: `${this.opts.ingress.id}|${tp.topic}|${tp.partition}|${this.laneNonce}.${++this.moverSeq}`,
      target,
      changed: () => mover.changed(),
      lost: () => this.restartMover(tp, mover),
      budget: this.opts.handOffBudget,
      stuck: (lanes) =>
        this.opts.logger.warn(
          'records handed over to a task were neither committed nor reported lost in time; ' +
            'the ingress partition starts over from its committed offset',
          { topic: tp.topic, partition: tp.partition, lanes },
        ),
    });
  }

  /** Where a partition nobody committed for starts, per the ingress startup position. */
  async initialOffset(tp: TopicPartition): Promise<number> {
    const { ingress, source } = this.opts;
    const pos = ingress.startupPosition;
    const offsets = await source.offsets(tp.topic);
    const p = offsets.find((o) => o.partition === tp.partition);
    const low = p?.low ?? 0;
    const high = p?.high ?? 0;
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
        const byTime = await source.offsetsAt(tp.topic, pos.epochMs);
        const found = byTime.find((o) => o.partition === tp.partition);
        const offset = found?.offset ?? -1;
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
        partitioning: this.opts.partitioning,
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
    const offsets = await this.opts.source.offsets(tp.topic);
    return offsets.find((o) => o.partition === tp.partition)?.high ?? 0;
  }

  /** The records of a mark: one per internal partition. */
  markRecords(mark: WatermarkMark): OutRecord[] {
    return watermarkRecords(this.opts.internalTopic, this.opts.partitions, mark, Date.now());
  }

  /** The process-wide bound on queued records, if any. */
  get queueBudget(): ProcessBudget | undefined {
    return this.opts.queueBudget;
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

  /** The error to log for a failed `what`, as the source names it. */
  explain(what: string, err: unknown): Error {
    return this.opts.source.explain(what, err);
  }
}

const key = (tp: TopicPartition): string => `${tp.topic}\u0000${tp.partition}`;

/**
 * Moves one ingress partition's records into the internal log, one transaction per batch, or hands
 * them over to the tasks of this process (handoff-lanes.ts). The partition is a watermark source:
 * a batch's transaction also carries the mark that covers it (at most one per watermark interval;
 * a quiet spell flushes the last one in a transaction of its own), and after the idle timeout
 * without records an idle mark. With hand-over, a mark waits until every record it covers is
 * durable, and the committed offset stays below the first record that is not.
 */
class PartitionMover {
  private queue: LogRecord[] = [];
  private running: Promise<void> | undefined;
  private stopped = false;
  private paused = false;
  private readonly watermark: SourceWatermark;
  private readonly lanes: HandOffLanes | undefined;
  private ticker: NodeJS.Timeout | undefined;
  /** The offset the group has committed for this partition. */
  private committedOffset = 0;
  /** The offset after the last record routed. */
  private readOffset = 0;
  private lastMarkAt = 0;
  private lastIdleCheck = 0;
  /** Marks taken but not yet written: each waits until the records before `covers` are durable. */
  private marksWaiting: { covers: number; mark: WatermarkMark }[] = [];
  /** Something changed while a drain ran: drain again after it. */
  private again = false;
  private changeScheduled = false;
  /** Records of this partition counted in the process's queue budget. */
  private accounted = 0;
  private readonly onRoom = (): void => this.updateFlow();

  constructor(
    private readonly ingress: KafkaIngress,
    private readonly owned: SourcePartition,
  ) {
    this.watermark = ingress.sourceWatermark(owned.tp);
    this.lanes = ingress.lanes(owned.tp, this);
  }

  async start(): Promise<void> {
    await this.owned.fence();
    const committed = await this.owned.committed();
    const offset = committed ?? (await this.ingress.initialOffset(this.owned.tp));
    this.committedOffset = offset;
    this.readOffset = offset;
    if (this.stopped) return;
    this.owned.start(offset, (records) => this.enqueue(records));
    // A partition that never receives a record must still become idle.
    this.arm();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.lanes?.close();
    if (this.ticker !== undefined) clearTimeout(this.ticker);
    this.account();
    await this.running;
    this.account();
  }

  /**
   * Brings this partition's count in the process's queue budget up to date: its queue and the
   * records its lanes hold (nothing once stopped: a new mover reads them again).
   */
  private account(): void {
    const budget = this.ingress.queueBudget;
    if (budget === undefined) return;
    const now = this.stopped ? 0 : this.queue.length + (this.lanes?.waitingCount ?? 0);
    if (now > this.accounted) budget.take(now - this.accounted);
    else budget.release(this.accounted - now);
    this.accounted = now;
    if (this.stopped) budget.forget(this.onRoom);
  }

  /** A lane changed (a record became durable, a barrier was taken): drain soon, once. */
  changed(): void {
    if (this.stopped || this.changeScheduled) return;
    this.changeScheduled = true;
    setImmediate(() => {
      this.changeScheduled = false;
      this.kick();
    });
  }

  private enqueue(records: readonly LogRecord[]): void {
    if (this.stopped) return;
    this.queue.push(...records);
    this.updateFlow();
    this.kick();
  }

  /**
   * Pauses the consumer while records queued and held for a barrier reach the bound, this
   * partition's or the process's; resumes below half of both.
   */
  private updateFlow(): void {
    this.account();
    if (this.stopped) return;
    const { maxQueued } = this.ingress.limits;
    const budget = this.ingress.queueBudget;
    const waiting = this.queue.length + (this.lanes?.waitingCount ?? 0);
    if (!this.paused && (waiting >= maxQueued || (budget !== undefined && budget.inUse >= budget.limit))) {
      this.paused = true;
      this.owned.pause();
    } else if (this.paused && waiting < maxQueued / 2) {
      if (budget !== undefined && budget.inUse > budget.limit / 2) {
        // The other partitions hold the process's budget: resume when they give it back.
        budget.whenRoom(this.onRoom);
        return;
      }
      this.paused = false;
      this.owned.resume();
    }
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.ticker !== undefined) {
      clearTimeout(this.ticker);
      this.ticker = undefined;
    }
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      } else this.arm();
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

  /** The mark to take with this batch: news at most once per interval. */
  private markDue(now: number): WatermarkMark | undefined {
    if (this.marksWaiting.length >= MAX_MARKS_WAITING) return undefined;
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
    if (this.marksWaiting.length > 0 || (this.lanes?.pendingCount ?? 0) > 0) return undefined;
    this.lastIdleCheck = now;
    let end: number;
    try {
      end = await this.ingress.endOffset(this.owned.tp);
    } catch {
      return undefined;
    }
    return end - this.readOffset <= 1 && this.queue.length === 0 ? this.watermark.takeIdle(now) : undefined;
  }

  /** The latest waiting mark whose records are all durable below `committable` (the rest wait). */
  private markWritable(committable: number): WatermarkMark | undefined {
    let n = 0;
    while (n < this.marksWaiting.length && this.marksWaiting[n]!.covers <= committable) n++;
    if (n === 0) return undefined;
    const mark = this.marksWaiting[n - 1]!.mark;
    this.marksWaiting.splice(0, n);
    return mark;
  }

  private async drain(): Promise<void> {
    const { maxBatch, maxQueued } = this.ingress.limits;
    for (;;) {
      if (this.stopped) return;
      const lanes = this.lanes;
      const out: OutRecord[] = [];
      lanes?.release(out);
      const room = lanes === undefined ? maxBatch : Math.min(maxBatch, maxQueued - lanes.waitingCount);
      const batch = room > 0 ? this.queue.splice(0, room) : [];
      const observed: MoveObservation[] = [];
      let dead = 0;
      const now = Date.now();
      for (const r of batch) {
        const routed = this.ingress.route(r);
        if (routed.observation !== undefined) observed.push(routed.observation);
        if (routed.deadLetter) {
          dead++;
          out.push(...routed.records);
          continue;
        }
        if (routed.eventTime !== undefined) this.watermark.observe(routed.eventTime, now);
        if (lanes === undefined) out.push(...routed.records);
        else for (const rec of routed.records) lanes.route(rec, r.offset, out);
      }
      lanes?.barriers(out);
      if (batch.length > 0) this.readOffset = batch[batch.length - 1]!.offset + 1;
      const stats = this.ingress.stats;
      stats.moved += batch.length - dead;
      stats.deadLetters += dead;
      if (lanes !== undefined) {
        stats.handedOver += lanes.stats.handedOver;
        stats.barriers += lanes.stats.barriers;
        stats.handOverRefused += lanes.stats.refused;
        stats.handOverBudgetWaits += lanes.stats.budgetWaits;
        lanes.stats.handedOver = lanes.stats.barriers = lanes.stats.refused = lanes.stats.budgetWaits = 0;
      }
      // News waits for the interval (the ticker flushes it in a transaction of its own).
      const taken = this.markDue(now) ?? (batch.length === 0 ? await this.idleMark(now) : undefined);
      if (taken !== undefined) this.marksWaiting.push({ covers: this.readOffset, mark: taken });
      const next = lanes?.lowestPending() ?? this.readOffset;
      const mark = this.markWritable(next);
      if (out.length === 0 && mark === undefined && next === this.committedOffset) {
        this.updateFlow();
        return;
      }
      if (mark !== undefined) out.push(...this.ingress.markRecords(mark));
      try {
        await this.owned.commit(out, next);
      } catch (err) {
        for (const o of observed) o.ended?.(err);
        // Nothing of this batch is visible; a new owner (or a restart) replays it from the
        // committed offset. Stop here rather than skip ahead.
        this.stopped = true;
        this.lanes?.close();
        if (this.ticker !== undefined) clearTimeout(this.ticker);
        this.account();
        this.ingress.logger.error('moving ingress records failed; the partition is released', {
          topic: this.owned.tp.topic,
          partition: this.owned.tp.partition,
          err: this.ingress.explain('ingress transaction', err),
        });
        this.ingress.moverFailed(this.owned.tp);
        return;
      }
      for (const o of observed) o.ended?.(undefined);
      this.committedOffset = next;
      stats.transactions++;
      if (mark !== undefined) stats.marks++;
      this.updateFlow();
    }
  }
}

/** Marks taken while records they cover are not durable yet, at most (later news waits). */
const MAX_MARKS_WAITING = 64;
