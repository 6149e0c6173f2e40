// The partition task: owns one partition of the internal log while this process holds it.
// Per address it keeps a FIFO mailbox with at most one request in flight (the backlog goes as the
// next batch), negotiates state, applies each response's effects in the protocol's order, keeps
// the partition's delayed messages, and commits everything in checkpoints:
//   write the records into the log transaction → stage the state delta (fenced by epoch) →
//   commit the log transaction (records + position) → promote the staged delta.
// After a crash, replay from the committed position skips the offsets that the checkpoint says
// were already complete, so every message takes effect exactly once.
// Event time: ingress sources write watermark marks into the partition; the task keeps the
// partition watermark (watermarks.ts), tells each invocation its event time and the watermark at its
// position in the log, and fires event-time timers once the watermark passes them.
import { randomUUID } from 'node:crypto';
import type {
  Address,
  FromFunction,
  InvocationResponse,
  PersistedValue,
  ToFunction,
  ToFunctionInvocation,
} from '@continuum/sdk/protocol';
import { ContinuumError } from '../errors.js';
import type { CommittedPosition, LogRecord, OutRecord, OwnedPartition } from '../log/log.js';
import { silentLogger, type Logger } from '../logger.js';
import type { TaskObserver } from '../observers.js';
import type { PartitionDelta, PartitionStore, StoredTimer, StoredValue } from '../state/state-store.js';
import { FunctionCallError, type FunctionClient } from '../transport/function-client.js';
import { addressKey, functionTypeOf, parseAddressKey } from './address.js';
import { deadLetterCodeOfCallError, type DeadLetterCode } from './dead-letter-codes.js';
import { fromInternalRecord, watermarkOf, Header, type Envelope } from './envelope.js';
import { inRanges, OutstandingOffsets, type OffsetRanges } from './outstanding.js';
import type { EgressRouter, FunctionRouter, FunctionTarget } from './routing.js';
import type { StateRegistry } from './state-registry.js';
import { TimerQueue } from './timer-queue.js';
import { effectsOf, recordDeadLetter, responseProblem, timerMessage, type EffectTopics } from './effects.js';
import { realScheduler, type Scheduler } from './scheduler.js';
import {
  DEFAULT_REPLIES_TOPIC,
  DEFAULT_REQUEST_MEMORY,
  REQUEST_IDS_STATE,
  rememberRequest,
  requestIdOf,
  type RequestMemory,
} from '../request-reply/reply-address.js';
import { WATERMARK_META_KEY, WatermarkTracker, type WatermarkMark } from './watermarks.js';

export interface TaskConfig {
  /**
   * A change waits at most this long before its checkpoint starts (0: as soon as the partition's
   * previous checkpoint has ended). Checkpoints happen only when something changed; with the
   * Kafka log the checkpoints of all partitions of a process share transactions, which the log
   * paces (its commit linger), so a short interval costs no transaction per partition.
   */
  checkpointIntervalMs: number;
  /** Checkpoint early once this many records/state changes are buffered. */
  checkpointMaxRecords: number;
  /** Pause consumption while this many records are received but not complete. */
  maxOutstandingRecords: number;
  /** Addresses whose state is kept in memory (idle, committed ones are evicted beyond it). */
  stateCacheAddresses: number;
  /** Topic that receives dead letters. */
  deadLetterTopic: string;
  /** How often a function may answer IncompleteInvocationContext for one batch. */
  maxNegotiationRounds: number;
  /** Wait before re-sending a batch the client refused because it was overloaded. */
  overloadBackoffMs: number;
  /** Most delayed messages released in one timer tick. */
  timerBatch: number;
  /**
   * Most pending delayed messages and event-time timers per partition (they are held in memory
   * while the partition is owned). A function that schedules one more gets it dead-lettered with
   * code TIMER_LIMIT_REACHED; nothing else is affected.
   */
  maxPendingTimers: number;
  /** Where messages to a waiting HTTP request (its reply address) are committed. */
  repliesTopic: string;
  /** How many request ids, and for how long, each address remembers (a retry invokes nothing). */
  requestMemory: RequestMemory;
}

export const defaultTaskConfig: TaskConfig = {
  checkpointIntervalMs: 200,
  checkpointMaxRecords: 5000,
  maxOutstandingRecords: 10_000,
  stateCacheAddresses: 10_000,
  deadLetterTopic: 'continuum-dead-letters',
  maxNegotiationRounds: 5,
  overloadBackoffMs: 50,
  timerBatch: 1000,
  maxPendingTimers: 200_000,
  repliesTopic: DEFAULT_REPLIES_TOPIC,
  requestMemory: DEFAULT_REQUEST_MEMORY,
};

/** Points where tests aim crashes; production leaves them unset. */
export interface TaskHooks {
  afterStage?: (partition: number, checkpointId: number) => void | Promise<void>;
  afterCommit?: (partition: number, checkpointId: number) => void | Promise<void>;
}

export interface TaskDeps {
  owned: OwnedPartition;
  store: PartitionStore;
  internalTopic: string;
  partitions: number;
  functions: FunctionRouter;
  egress: EgressRouter;
  client: FunctionClient;
  registry: StateRegistry;
  config: TaskConfig;
  logger?: Logger | undefined;
  hooks?: TaskHooks | undefined;
  /** Metrics and tracing; unset in most tests. */
  observer?: TaskObserver | undefined;
  clock?: (() => number) | undefined;
  /** Runs the task's timers, checkpoints and retries; real timers by default (tests: fake time). */
  scheduler?: Scheduler | undefined;
  /** Told when the task can no longer go on (fenced, store down, ...). */
  onFailure?: ((err: unknown) => void) | undefined;
  /**
   * The source groups (ingress ids) whose watermark marks make up the partition watermark; without
   * any, the watermark never advances and event-time timers never fire.
   */
  watermarkGroups?: readonly string[] | undefined;
}

export interface TaskStats {
  received: number;
  invocations: number;
  batches: number;
  retriedBatches: number;
  /** Batches sent again one message at a time because one message may have failed them. */
  splitBatches: number;
  deadLetters: number;
  checkpoints: number;
  lastCheckpointMs: number;
  skippedOnReplay: number;
  /** Records an ingress moved twice, dropped by source offset. */
  duplicatesDropped: number;
  timersFired: number;
  /** Event-time timers fired. */
  eventTimersFired: number;
  /** Watermark marks read from the log. */
  watermarkMarks: number;
  /** Messages of a waiting request the address had already been invoked for (a retry), dropped. */
  requestsDeduplicated: number;
  /** Requests handed over by an HTTP ingress of this process ahead of their log record. */
  requestsHandedOver: number;
}

/** One message in an address's mailbox: an invocation, or a record that can only be dead-lettered. */
interface Entry {
  offset: number;
  record: LogRecord;
  env?: Envelope | undefined;
  dead?: { code: DeadLetterCode; reason: string } | undefined;
  /** The partition watermark when the record was read (-Infinity: none). */
  watermark: number;
  /** Sent in a batch of its own: a batch it was part of failed in a way one message may cause. */
  solo?: boolean | undefined;
}

interface Slot {
  key: string;
  address: Address;
  functionType: string;
  target: FunctionTarget;
  /** Undefined until loaded from the store. */
  states: Map<string, StoredValue> | undefined;
  mailbox: Entry[];
  inFlight: Entry[] | undefined;
  abort: AbortController | undefined;
  /** Not evictable until this checkpoint is promoted (it holds uncommitted writes). */
  pinnedUntil: number;
  blocked: boolean;
}

interface Buffer {
  records: OutRecord[];
  delta: PartitionDelta;
  changes: number;
}

function emptyBuffer(): Buffer {
  return {
    records: [],
    delta: { addresses: new Map(), timersAdded: new Map(), timersRemoved: new Set() },
    changes: 0,
  };
}

export class PartitionTask {
  readonly partition: number;
  readonly stats: TaskStats = {
    received: 0,
    invocations: 0,
    batches: 0,
    retriedBatches: 0,
    splitBatches: 0,
    deadLetters: 0,
    checkpoints: 0,
    lastCheckpointMs: 0,
    skippedOnReplay: 0,
    duplicatesDropped: 0,
    timersFired: 0,
    eventTimersFired: 0,
    watermarkMarks: 0,
    requestsDeduplicated: 0,
    requestsHandedOver: 0,
  };
  private readonly deps: TaskDeps;
  private readonly cfg: TaskConfig;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly scheduler: Scheduler;
  private readonly topics: EffectTopics;
  private readonly slots = new Map<string, Slot>();
  private readonly timers = new TimerQueue();
  /** Event-time timers, by the watermark at which they are due. */
  private readonly eventTimers = new TimerQueue();
  /**
   * The watermark as of every mark read (`live`), and as of the marks below the committed position
   * (`stable`, what a checkpoint stores): recovery restores `stable` and replays the marks after
   * it, so each replayed record sees the watermark it saw the first time.
   */
  private wmLive: WatermarkTracker;
  private wmStable: WatermarkTracker;
  /** Marks at or beyond the current position, not yet folded into `wmStable`, in offset order. */
  private marksBeyond: { offset: number; mark: WatermarkMark }[] = [];
  private eventTimerTick: NodeJS.Immediate | undefined;
  private readonly unknownGroups = new Set<string>();
  private readonly toLoad = new Set<Slot>();
  private loadScheduled = false;
  private outstanding = new OutstandingOffsets(0);
  private startOffset = 0;
  private replaySkip: OffsetRanges = [];
  private epoch = 0;
  private checkpointId = 0;
  private promotedId = 0;
  private lastPosition = -1;
  private lastCompleted = '[]';
  /** Highest source offset per ingress source partition: all seen, and those below the position. */
  private sourcesLive = new Map<string, number>();
  private sourcesStable = new Map<string, number>();
  private sourcesBeyond: { offset: number; source: string; sourceOffset: number }[] = [];
  private progressSinceCheckpoint = false;
  private buffer: Buffer = emptyBuffer();
  private checkpointRunning: Promise<void> | undefined;
  private checkpointTimer: NodeJS.Timeout | undefined;
  /** Something changed while a checkpoint ran: another one follows it. */
  private checkpointAgain = false;
  private timerTimeout: NodeJS.Timeout | undefined;
  private timerDueAt = Infinity;
  private autoTimerSeq = 0;
  private blockedSlots = 0;
  /** Received records not yet taken into a mailbox (one is full): see drainHeld(). */
  private held: LogRecord[] = [];
  private draining = false;
  /**
   * Addresses that received messages while a delivery is taken: dispatched once it is taken
   * whole, so an address's messages of one delivery go out as one batch, not the first alone.
   */
  private readonly toDispatch = new Set<Slot>();
  private paused = false;
  private running = false;
  private stopped = false;
  private inFlightCalls = 0;
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  /** Headers that the records of the response being applied get (trace context). */
  private effectHeaders: Readonly<Record<string, string>> | undefined;
  /** A reply or a waiting request is in the buffer: checkpoint now, not after the interval. */
  private urgent = false;

  constructor(deps: TaskDeps) {
    this.deps = deps;
    this.partition = deps.owned.partition;
    this.cfg = deps.config;
    this.topics = {
      partition: this.partition,
      internalTopic: deps.internalTopic,
      partitions: deps.partitions,
      repliesTopic: deps.config.repliesTopic,
      deadLetterTopic: deps.config.deadLetterTopic,
    };
    this.scheduler = deps.scheduler ?? realScheduler;
    this.log = (deps.logger ?? silentLogger).child({ partition: this.partition });
    this.now = deps.clock ?? Date.now;
    this.wmStable = new WatermarkTracker(deps.watermarkGroups ?? []);
    this.wmLive = this.wmStable.clone();
  }

  /**
   * Takes over the partition in the order the commit protocol needs: claim the store epoch
   * (fences an old owner's stage/promote), fence the log (aborts or completes its transaction),
   * only then read the committed position, resolve a leftover staged delta, load the timers, and
   * start consuming.
   *
   * The position read from the log can lag behind the last committed transaction (Kafka applies a
   * transaction's consumer offsets asynchronously), so it is not trusted alone: the store's
   * promoted metadata also records each checkpoint's position, the newer of the two wins, and a
   * staged delta newer than both is decided by looking for its checkpoint's marker record in
   * the partition itself: there means committed, absent means aborted.
   */
  async start(): Promise<void> {
    const { owned, store } = this.deps;
    this.epoch = await store.claim();
    await owned.fence();
    const fromLog = await owned.committed();
    const base = newest(fromLog, positionOf(await store.meta()));
    const staged = await store.staged();
    let decidedBy = base.checkpointId;
    if (staged !== undefined && staged.checkpointId > base.checkpointId) {
      // Everything committed before our fence lies before this record in the partition; the
      // staged checkpoint's marker is either on the way there (committed) or nowhere (aborted).
      const token = `${this.epoch}:${randomUUID()}`;
      await owned.publish([
        {
          topic: this.deps.internalTopic,
          partition: this.partition,
          key: null,
          value: null,
          headers: { [Header.fence]: token },
        },
      ]);
      const id = String(staged.checkpointId);
      let scanned = 0;
      let first = -1;
      let last = -1;
      const committed = await owned.scanFor(Math.max(0, base.offset), (r) => {
        scanned++;
        if (first < 0) first = r.offset;
        last = r.offset;
        if (r.headers[Header.checkpoint] === id) return true;
        return r.headers[Header.fence] === token ? false : undefined;
      });
      this.log.info('decided a staged checkpoint by its marker', {
        checkpoint: staged.checkpointId,
        committed,
        from: base.offset,
        scanned,
        first,
        last,
      });
      if (committed) decidedBy = staged.checkpointId;
    }
    const resolved = await store.resolve(this.epoch, decidedBy);
    const meta = await store.meta();
    const position = newest(base, positionOf(meta));
    // Never reuse the id of a checkpoint that was staged, even when it was discarded.
    this.checkpointId = Math.max(position.checkpointId, staged?.checkpointId ?? 0);
    this.promotedId = this.checkpointId;
    this.startOffset = position.offset;
    this.lastPosition = position.offset;
    this.outstanding = new OutstandingOffsets(position.offset);
    this.replaySkip = parseRanges(meta.completed);
    this.sourcesStable = parseSources(meta[SOURCES_META_KEY]);
    this.sourcesLive = new Map(this.sourcesStable);
    this.sourcesBeyond = [];
    this.lastCompleted = meta.completed ?? '[]';
    this.restoreWatermarks(meta[WATERMARK_META_KEY]);
    for (const t of await store.timers()) {
      if (t.kind === 'event-time') this.eventTimers.add(t);
      else this.timers.add(t);
    }
    if (this.stopped) return;
    this.running = true;
    this.log.info('partition recovered', {
      offset: position.offset,
      checkpoint: position.checkpointId,
      staged: resolved,
      logPosition: fromLog.offset,
      timers: this.timers.size,
      eventTimers: this.eventTimers.size,
      watermark: this.watermark,
    });
    this.scheduleTimerTick();
    this.scheduleEventTimers();
    // Timers fired while recovering wait in the buffer.
    this.dirty();
    owned.start(position.offset, (records) => this.onRecords(records));
  }

  /**
   * Gives the partition up. Graceful: stop taking input, let the open checkpoint finish and
   * commit what is complete. Otherwise (fenced, failed) everything uncommitted is dropped; a
   * later owner replays it.
   */
  async stop(graceful: boolean): Promise<void> {
    if (this.stopped) return;
    this.running = false;
    this.deps.owned.pause();
    if (graceful) {
      try {
        await this.checkpointRunning;
        await this.checkpoint();
      } catch (err) {
        this.log.warn('final checkpoint failed; the next owner replays from the last one', { err });
      }
    }
    this.shutdown();
  }

  /** True between a completed recovery and stop/failure. */
  get isRunning(): boolean {
    return this.running;
  }

  /** Records consumed and not yet complete, and whether the consumer is paused. */
  get backlog(): {
    outstanding: number;
    paused: boolean;
    addresses: number;
    inFlight: number;
    timers: number;
    eventTimers: number;
    /** Received records waiting for room in a full mailbox (at most one log delivery). */
    held: number;
  } {
    return {
      outstanding: this.outstanding.pending,
      paused: this.paused,
      addresses: this.slots.size,
      inFlight: this.inFlightCalls,
      timers: this.timers.size,
      eventTimers: this.eventTimers.size,
      held: this.held.length,
    };
  }

  /** Messages queued for the busiest address (never above its maxNumBatchRequests). */
  largestMailbox(): number {
    let largest = 0;
    for (const slot of this.slots.values()) largest = Math.max(largest, slot.mailbox.length);
    return largest;
  }

  /** The partition watermark (ms since the epoch), undefined while there is none. */
  get watermark(): number | undefined {
    const w = this.wmLive.watermark;
    return Number.isFinite(w) ? w : undefined;
  }

  /**
   * A waiting HTTP request's message, handed over by an ingress of this process while its record
   * is being appended to this partition: invoked now instead of after the append, the
   * transaction that holds the partition's read_committed position and the fetch. Its request
   * id is remembered with the invocation's effects (see finish), so when the record itself
   * arrives it is dropped as a repeated request; a crash before the checkpoint leaves the record
   * to be invoked on replay. `record` is the one being appended, with offset -1 (no position of
   * its own: nothing to complete or replay). Returns false when the task cannot take it now (not
   * running, consumption paused, the address's mailbox full, not a request): the record brings it.
   */
  handOver(record: LogRecord): boolean {
    if (!this.running || this.stopped || this.paused || this.held.length > 0) return false;
    let env: Envelope;
    try {
      env = fromInternalRecord(record);
    } catch {
      return false;
    }
    if (requestIdOf(env.caller) === undefined || env.source !== undefined) return false;
    const functionType = functionTypeOf(env.target);
    const fnTarget = this.deps.functions.resolve(functionType);
    if (fnTarget === undefined) return false;
    const slot = this.slot(env.target, functionType, fnTarget);
    if (slot.blocked) return false;
    this.stats.received++;
    this.stats.requestsHandedOver++;
    this.progressSinceCheckpoint = true;
    slot.mailbox.push({ offset: -1, record, env, watermark: this.wmLive.watermark });
    this.checkBlocked(slot);
    if (this.draining) this.toDispatch.add(slot);
    else this.dispatch(slot);
    return true;
  }

  /** Checkpoint now (tests, shutdown); resolves when it is committed. */
  async flush(): Promise<void> {
    await this.checkpointRunning;
    await this.checkpoint();
  }

  /** The cached (possibly uncommitted) state of an address, if it is in memory. */
  cachedState(key: string): ReadonlyMap<string, StoredValue> | undefined {
    return this.slots.get(key)?.states;
  }

  /** Pending delayed messages and event-time timers of this partition. */
  pendingTimers(): number {
    return this.timers.size + this.eventTimers.size;
  }

  /** The offset this partition is committed up to (consumer lag = end offset - this). */
  get committedOffset(): number {
    return this.lastPosition;
  }

  /**
   * Pending delayed messages sent by or to the address `key`, soonest first, then its event-time
   * timers (`kind: 'event-time'`) by time; at most `max`.
   */
  delayedMessages(key: string, max: number): StoredTimer[] {
    const match = (t: StoredTimer): boolean => t.callerKey === key || t.targetKey === key;
    const byTime = (a: StoredTimer, b: StoredTimer): number => a.fireAt - b.fireAt;
    return [...this.timers.list(match).sort(byTime), ...this.eventTimers.list(match).sort(byTime)].slice(
      0,
      max,
    );
  }

  // ---------------------------------------------------------------- input

  private onRecords(records: readonly LogRecord[]): void {
    if (!this.running) return;
    for (const record of records) {
      if (record.offset < this.startOffset) continue;
      // Tracked from receipt, so the committed position never passes a held record.
      this.outstanding.add(record.offset);
      this.held.push(record);
    }
    this.drainHeld();
  }

  /**
   * Takes the received records in log order until an address's mailbox is at its
   * `maxNumBatchRequests`; the rest wait here (at most one delivery from the log, as input is
   * paused meanwhile) and are taken as soon as that mailbox has room.
   */
  private drainHeld(): void {
    if (this.draining) return;
    this.draining = true;
    let n = 0;
    try {
      while (n < this.held.length && this.blockedSlots === 0 && this.running) this.take(this.held[n++]!);
    } finally {
      this.held.splice(0, n);
      this.draining = false;
    }
    for (const slot of this.toDispatch) this.dispatch(slot);
    this.toDispatch.clear();
    this.foldMarks(this.outstanding.position());
    this.updateFlow();
    if (n > 0) this.dirty();
  }

  private take(record: LogRecord): void {
    if (record.headers[Header.checkpoint] !== undefined || record.headers[Header.fence] !== undefined) {
      // A checkpoint's marker: no message, and no progress worth a checkpoint of its own.
      this.outstanding.complete(record.offset);
      return;
    }
    const mark = watermarkOf(record);
    if (mark !== undefined) {
      // Applied again on replay even when the checkpoint says complete: the restored watermark
      // is the one at the committed position, and the marks after it bring it up to date.
      this.outstanding.complete(record.offset);
      this.onMark(record.offset, mark);
      return;
    }
    this.stats.received++;
    this.progressSinceCheckpoint = true;
    let env: Envelope | undefined;
    let undecodable: unknown;
    try {
      env = fromInternalRecord(record);
    } catch (err) {
      undecodable = err;
    }
    if (env?.source !== undefined && this.isDuplicateFromSource(record.offset, env.source)) {
      this.stats.duplicatesDropped++;
      this.outstanding.complete(record.offset);
      return;
    }
    if (inRanges(this.replaySkip, record.offset)) {
      this.stats.skippedOnReplay++;
      this.outstanding.complete(record.offset);
      return;
    }
    this.accept(record, env, undecodable);
  }

  // ---------------------------------------------------------------- watermarks

  private onMark(offset: number, mark: WatermarkMark | 'invalid'): void {
    this.stats.watermarkMarks++;
    if (mark === 'invalid') {
      this.warnOnce('invalid', 'ignoring a malformed watermark mark', { offset });
      return;
    }
    if (!this.wmLive.expects(mark.group)) {
      this.warnOnce(mark.group, 'ignoring watermark marks of a source group that is not in the module', {
        group: mark.group,
      });
      return;
    }
    this.marksBeyond.push({ offset, mark });
    if (this.wmLive.apply(mark)) this.scheduleEventTimers();
  }

  /**
   * True for a record an ingress moved again (same source partition, offset already seen). The
   * highest source offsets below the committed position travel with the checkpoint; those seen
   * beyond it are learnt again on replay.
   */
  private isDuplicateFromSource(at: number, from: { name: string; offset: number }): boolean {
    const { name: source, offset } = from;
    if (!Number.isFinite(offset)) return false;
    const seen = this.sourcesLive.get(source);
    if (seen !== undefined && offset <= seen) return true;
    this.sourcesLive.set(source, offset);
    this.sourcesBeyond.push({ offset: at, source, sourceOffset: offset });
    return false;
  }

  private foldSources(position: number): void {
    let n = 0;
    while (n < this.sourcesBeyond.length && this.sourcesBeyond[n]!.offset < position) {
      const { source, sourceOffset } = this.sourcesBeyond[n]!;
      this.sourcesStable.set(source, Math.max(sourceOffset, this.sourcesStable.get(source) ?? -1));
      n++;
    }
    if (n > 0) this.sourcesBeyond.splice(0, n);
  }

  /** Moves the marks below `position` (every record before them is complete) into `wmStable`. */
  private foldMarks(position: number): void {
    let n = 0;
    while (n < this.marksBeyond.length && this.marksBeyond[n]!.offset < position) {
      this.wmStable.apply(this.marksBeyond[n]!.mark);
      n++;
    }
    if (n > 0) this.marksBeyond.splice(0, n);
  }

  private restoreWatermarks(snapshot: string | undefined): void {
    const groups = this.deps.watermarkGroups ?? [];
    try {
      this.wmStable = WatermarkTracker.restore(snapshot, groups);
    } catch (err) {
      // The marks after the committed position still arrive; only the start is lower.
      this.log.error('the checkpoint holds an unreadable watermark snapshot; starting without one', {
        err,
      });
      this.wmStable = new WatermarkTracker(groups);
    }
    this.wmLive = this.wmStable.clone();
    this.marksBeyond = [];
  }

  private warnOnce(key: string, text: string, fields: Record<string, unknown>): void {
    if (this.unknownGroups.has(key) || this.unknownGroups.size >= 100) return;
    this.unknownGroups.add(key);
    this.log.warn(text, fields);
  }

  private accept(record: LogRecord, env: Envelope | undefined, undecodable: unknown): void {
    let dead: Entry['dead'];
    let target: Address | undefined;
    if (env !== undefined) {
      target = env.target;
    } else {
      dead = {
        code: 'RECORD_UNDECODABLE',
        reason: `internal record cannot be decoded: ${message(undecodable)}`,
      };
      try {
        target = record.key === null ? undefined : parseAddressKey(record.key);
      } catch {
        target = undefined;
      }
    }
    const functionType = target === undefined ? undefined : functionTypeOf(target);
    const fnTarget = functionType === undefined ? undefined : this.deps.functions.resolve(functionType);
    if (target === undefined || functionType === undefined || fnTarget === undefined) {
      // No address (or no endpoint for it): nothing to keep in order with, dead-letter at once.
      this.deadLetter({
        code: dead?.code ?? 'FUNCTION_UNKNOWN',
        reason: dead?.reason ?? `no endpoint in module.yaml serves function type ${functionType ?? '?'}`,
        record,
        env,
      });
      this.outstanding.complete(record.offset);
      return;
    }
    const slot = this.slot(target, functionType, fnTarget);
    // A record that cannot be decoded still takes its place in the address's order.
    slot.mailbox.push({ offset: record.offset, record, env, dead, watermark: this.wmLive.watermark });
    this.checkBlocked(slot);
    if (this.draining) this.toDispatch.add(slot);
    else this.dispatch(slot);
  }

  private slot(address: Address, functionType: string, target: FunctionTarget): Slot {
    const key = addressKey(address);
    let slot = this.slots.get(key);
    this.deps.observer?.stateLookup?.(this.partition, slot !== undefined);
    if (slot !== undefined) {
      // Keep the map in least-recently-used order for eviction.
      this.slots.delete(key);
      this.slots.set(key, slot);
      return slot;
    }
    slot = {
      key,
      address,
      functionType,
      target,
      states: undefined,
      mailbox: [],
      inFlight: undefined,
      abort: undefined,
      pinnedUntil: 0,
      blocked: false,
    };
    this.slots.set(key, slot);
    this.toLoad.add(slot);
    this.scheduleLoad();
    return slot;
  }

  private scheduleLoad(): void {
    if (this.loadScheduled) return;
    this.loadScheduled = true;
    setImmediate(() => {
      this.loadScheduled = false;
      const slots = [...this.toLoad];
      this.toLoad.clear();
      if (slots.length === 0 || this.stopped) return;
      this.deps.store.get(slots.map((s) => s.key)).then(
        (found) => {
          if (this.stopped) return;
          for (const slot of slots) {
            slot.states = new Map(Object.entries(found.get(slot.key)?.states ?? {}));
            this.dispatch(slot);
          }
        },
        (err: unknown) => this.fail(err),
      );
    });
  }

  // ---------------------------------------------------------------- dispatch

  private dispatch(slot: Slot): void {
    if (!this.running || slot.inFlight !== undefined || slot.states === undefined) return;
    while (slot.mailbox[0]?.dead !== undefined) {
      const entry = slot.mailbox.shift()!;
      this.deadLetter({ ...entry.dead!, record: entry.record, env: entry.env, target: slot.address });
      this.outstanding.complete(entry.offset);
    }
    this.dropRepeatedRequests(slot);
    if (slot.mailbox.length === 0) {
      this.checkBlocked(slot);
      this.updateFlow();
      return;
    }
    const max =
      slot.mailbox[0]!.solo === true
        ? 1
        : slot.target.maxBatch > 0
          ? slot.target.maxBatch
          : Number.MAX_SAFE_INTEGER;
    let n = 0;
    while (n < slot.mailbox.length && n < max && slot.mailbox[n]!.dead === undefined) {
      // A waiting request goes first in its own batch, after its id is checked and remembered.
      if (n > 0 && requestIdOf(slot.mailbox[n]!.env?.caller) !== undefined) break;
      n++;
    }
    const batch = slot.mailbox.splice(0, n);
    this.checkBlocked(slot);
    this.send(slot, batch, 0);
    // The mailbox may have room again: held records can come in while the batch is in flight.
    this.updateFlow();
  }

  /**
   * A waiting request reaches its address once per request id: the ids an address was invoked for
   * are part of its state, written with the invocation's effects (see finish), so the same request
   * appended again (a client retry after a crash) is dropped, and a replay after a crash, whose
   * effects were never committed, still invokes.
   */
  private dropRepeatedRequests(slot: Slot): void {
    while (slot.mailbox.length > 0) {
      const head = slot.mailbox[0]!;
      const id = head.dead === undefined ? requestIdOf(head.env?.caller) : undefined;
      if (id === undefined) return;
      const remembered = rememberRequest(
        slot.states!.get(REQUEST_IDS_STATE),
        id,
        this.now(),
        this.cfg.requestMemory,
      );
      if (!remembered.seen) return;
      slot.mailbox.shift();
      this.stats.requestsDeduplicated++;
      this.outstanding.complete(head.offset);
    }
  }

  /** Remembers the request ids of a finished batch, in the checkpoint of its effects. */
  private rememberRequests(slot: Slot, batch: readonly Entry[]): void {
    for (const e of batch) {
      const id = requestIdOf(e.env?.caller);
      if (id === undefined || slot.states === undefined) continue;
      const remembered = rememberRequest(
        slot.states.get(REQUEST_IDS_STATE),
        id,
        this.now(),
        this.cfg.requestMemory,
      );
      if (!remembered.seen) this.writeState(slot, REQUEST_IDS_STATE, remembered.next);
      this.urgent = true;
    }
  }

  private send(slot: Slot, batch: Entry[], round: number): void {
    const request = this.request(slot, batch);
    slot.inFlight = batch;
    const abort = new AbortController();
    slot.abort = abort;
    this.inFlightCalls++;
    this.stats.batches++;
    const started = this.now();
    const observed = this.deps.observer?.batchStarted?.({
      partition: this.partition,
      functionType: slot.functionType,
      address: slot.address,
      size: batch.length,
      round,
      headers: batch.map((e) => e.record.headers),
    });
    const call = (): Promise<FromFunction> =>
      this.deps.client.invoke({
        endpoint: slot.target.endpoint,
        url: slot.target.url,
        address: slot.address,
        request,
        signal: abort.signal,
      });
    (observed?.around === undefined ? call() : observed.around(call)).then(
      (response) => {
        this.inFlightCalls--;
        if (this.stopped) return;
        observed?.ended?.({ latencyMs: this.now() - started, response, error: undefined });
        this.effectHeaders = observed?.recordHeaders;
        try {
          this.onResponse(slot, batch, round, response);
        } finally {
          this.effectHeaders = undefined;
        }
      },
      (err: unknown) => {
        this.inFlightCalls--;
        if (this.stopped) return;
        observed?.ended?.({ latencyMs: this.now() - started, response: undefined, error: err });
        // Dead letters of a failed call belong to its trace too.
        this.effectHeaders = observed?.recordHeaders;
        try {
          this.onCallError(slot, batch, round, err, started);
        } finally {
          this.effectHeaders = undefined;
        }
      },
    );
  }

  /** The ToFunction for a batch: every registered state of the type (spec §2.1), in order. */
  private request(slot: Slot, batch: readonly Entry[]): ToFunction {
    const registered = this.deps.registry.states(slot.functionType);
    const now = this.now();
    const state: PersistedValue[] = [];
    for (const spec of registered.values()) {
      const stored = slot.states!.get(spec.name);
      if (stored === undefined) {
        state.push({ stateName: spec.name });
      } else if (stored.expiresAt !== undefined && stored.expiresAt <= now) {
        this.writeState(slot, spec.name, null);
        state.push({ stateName: spec.name });
      } else {
        state.push({
          stateName: spec.name,
          stateValue: { typename: stored.typename, hasValue: true, value: stored.value },
        });
      }
    }
    const invocations: ToFunctionInvocation[] = batch.map((e) => {
      const env = e.env!;
      const invocation: ToFunctionInvocation =
        env.caller === undefined
          ? { argument: env.argument }
          : { caller: env.caller, argument: env.argument };
      // Extension fields (ignored by StateFun SDKs); 0 on the wire means "unknown".
      if (Number.isSafeInteger(env.eventTime) && env.eventTime !== 0) invocation.eventTime = env.eventTime;
      if (Number.isSafeInteger(e.watermark) && e.watermark !== 0) invocation.watermark = e.watermark;
      return invocation;
    });
    return { invocation: { target: slot.address, state, invocations } };
  }

  private onResponse(slot: Slot, batch: Entry[], round: number, response: FromFunction): void {
    const incomplete = response.incompleteInvocationContext;
    if (incomplete !== undefined) {
      const conflicts = this.deps.registry.register(slot.functionType, incomplete.missingValues);
      if (conflicts.length > 0) {
        this.failBatch(slot, batch, 'STATE_TYPE_CONFLICT', conflicts.join('; '));
      } else if (round + 1 >= this.cfg.maxNegotiationRounds) {
        const names = incomplete.missingValues.map((s) => s.stateName).join(', ');
        this.failBatch(
          slot,
          batch,
          'NEGOTIATION_FAILED',
          `function ${slot.functionType} still reports missing states (${names}) after ${round + 1} rounds`,
        );
      } else {
        this.send(slot, batch, round + 1);
        return;
      }
      this.finish(slot, batch);
      return;
    }
    const result: InvocationResponse = response.invocationResult ?? {
      stateMutations: [],
      outgoingMessages: [],
      delayedInvocations: [],
      outgoingEgresses: [],
    };
    const invalid = responseProblem(this.deps.registry.states(slot.functionType), result);
    if (invalid !== undefined) this.failBatch(slot, batch, 'FUNCTION_RESPONSE_REJECTED', invalid);
    else this.apply(slot, batch, result);
    this.finish(slot, batch);
  }

  private onCallError(slot: Slot, batch: Entry[], round: number, err: unknown, started: number): void {
    if (err instanceof ContinuumError && err.retryable) {
      // The client was overloaded or shutting down: the call never ran to its end. Try again.
      this.stats.retriedBatches++;
      const t = setTimeout(() => {
        this.retryTimers.delete(t);
        if (!this.stopped) this.send(slot, batch, round);
      }, this.cfg.overloadBackoffMs);
      this.retryTimers.add(t);
      return;
    }
    if (batch.length > 1 && err instanceof FunctionCallError && err.perMessage) {
      // One message may be at fault (the function rejected it, or the batch is too large): send
      // them one by one, so only the messages that fail alone become dead letters.
      this.stats.splitBatches++;
      slot.inFlight = undefined;
      slot.abort = undefined;
      for (const e of batch) e.solo = true;
      slot.mailbox.unshift(...batch);
      this.checkBlocked(slot);
      this.dispatch(slot);
      return;
    }
    const code = deadLetterCodeOfCallError(err);
    this.failBatch(
      slot,
      batch,
      code,
      `calling ${slot.target.url} for ${slot.key} failed after ${this.now() - started} ms: ${message(err)}`,
    );
    this.finish(slot, batch);
  }

  private finish(slot: Slot, batch: readonly Entry[]): void {
    this.rememberRequests(slot, batch);
    slot.inFlight = undefined;
    slot.abort = undefined;
    for (const e of batch) this.outstanding.complete(e.offset);
    if (this.buffer.changes >= this.cfg.checkpointMaxRecords || this.urgent) this.requestCheckpoint();
    else this.dirty();
    this.dispatch(slot);
    this.updateFlow();
  }

  // ---------------------------------------------------------------- effects

  /** Applies a response's effects (see effects.ts) to the checkpoint buffer and the timers. */
  private apply(slot: Slot, batch: readonly Entry[], result: InvocationResponse): void {
    this.stats.invocations += batch.length;
    const fx = effectsOf(
      {
        topics: this.topics,
        egress: this.deps.egress,
        address: slot.address,
        states: slot.states!,
        registered: this.deps.registry.states(slot.functionType),
        eventTimes: batch.map((e) => e.env!.eventTime),
        now: this.now(),
        timers: {
          has: (id) => this.timers.has(id) || this.eventTimers.has(id),
          pending: this.pendingTimers(),
        },
        maxPendingTimers: this.cfg.maxPendingTimers,
        autoTimerPrefix: `#${this.checkpointId + 1}.`,
        autoTimerSeq: this.autoTimerSeq,
      },
      result,
    );
    this.autoTimerSeq += fx.autoTimersUsed;
    for (const { code, reason } of fx.deadLetters) {
      this.stats.deadLetters++;
      this.deps.observer?.deadLettered?.(this.partition, code);
      this.log.warn('dead-lettering an effect', { address: slot.key, code, reason });
    }
    for (const r of fx.records) this.push(r);
    if (fx.urgent) this.urgent = true;
    const delta = this.buffer.delta;
    for (const t of fx.timers) {
      if (t.kind === 'cancel') {
        if (!this.timers.remove(t.id)) this.eventTimers.remove(t.id);
        delta.timersAdded.delete(t.id);
        delta.timersRemoved.add(t.id);
        this.buffer.changes++;
        continue;
      }
      const timer = t.timer;
      delta.timersRemoved.delete(timer.id);
      delta.timersAdded.set(timer.id, timer);
      this.buffer.changes++;
      if (timer.kind === 'event-time') {
        this.eventTimers.add(timer);
        // A time the watermark has passed already: due at once.
        if (timer.fireAt <= this.wmLive.watermark) this.scheduleEventTimers();
      } else {
        this.timers.add(timer);
        this.scheduleTimerTick();
      }
    }
    for (const { name, value } of fx.states) this.writeState(slot, name, value);
  }

  private writeState(slot: Slot, name: string, value: StoredValue | null): void {
    if (value === null) slot.states!.delete(name);
    else slot.states!.set(name, value);
    // The delta holds the address's whole state (the store replaces it), so later writes to the
    // same address in this checkpoint just refresh the entry.
    this.buffer.delta.addresses.set(slot.key, { states: Object.fromEntries(slot.states!) });
    this.buffer.changes++;
    slot.pinnedUntil = this.checkpointId + 1;
  }

  private push(record: OutRecord): void {
    const headers = this.effectHeaders;
    this.buffer.records.push(
      headers === undefined ? record : { ...record, headers: { ...record.headers, ...headers } },
    );
    this.buffer.changes++;
  }

  // ---------------------------------------------------------------- dead letters

  private failBatch(slot: Slot, batch: readonly Entry[], code: DeadLetterCode, reason: string): void {
    this.log.warn('dead-lettering a batch', { address: slot.key, messages: batch.length, code, reason });
    for (const e of batch)
      this.deadLetter({ code, reason, record: e.record, env: e.env, target: slot.address });
  }

  private deadLetter(args: {
    code: DeadLetterCode;
    reason: string;
    record: LogRecord;
    env?: Envelope | undefined;
    target?: Address | undefined;
  }): void {
    this.stats.deadLetters++;
    this.deps.observer?.deadLettered?.(this.partition, args.code);
    this.push(recordDeadLetter(this.cfg.deadLetterTopic, args, this.now()));
  }

  // ---------------------------------------------------------------- timers

  private scheduleTimerTick(): void {
    if (!this.running) return;
    const next = this.timers.peekTime();
    if (next === undefined) return;
    if (this.timerTimeout !== undefined && next >= this.timerDueAt) return;
    if (this.timerTimeout !== undefined) clearTimeout(this.timerTimeout);
    this.timerDueAt = next;
    const wait = Math.min(Math.max(0, next - this.now()), 2 ** 31 - 1);
    this.timerTimeout = setTimeout(() => {
      this.timerTimeout = undefined;
      this.timerDueAt = Infinity;
      this.fireTimers();
    }, wait);
  }

  /** A due timer becomes a log record in the same checkpoint that removes it: exactly once. */
  private fireTimers(): void {
    if (!this.running) return;
    const due = this.timers.popDue(this.now(), this.cfg.timerBatch);
    for (const t of due) {
      this.stats.timersFired++;
      this.release(t);
    }
    if (this.buffer.changes >= this.cfg.checkpointMaxRecords) this.requestCheckpoint();
    else if (due.length > 0) this.dirty();
    this.scheduleTimerTick();
  }

  /** Removes a due timer and publishes its message, both in the current checkpoint. */
  private release(t: StoredTimer): void {
    this.buffer.delta.timersAdded.delete(t.id);
    this.buffer.delta.timersRemoved.add(t.id);
    const { record, reply } = timerMessage(this.topics, t);
    if (reply) this.urgent = true;
    this.push(record);
  }

  /** Fires the due event-time timers soon (coalesced: one pass per turn of the event loop). */
  private scheduleEventTimers(): void {
    if (!this.running || this.eventTimerTick !== undefined) return;
    const next = this.eventTimers.peekTime();
    if (next === undefined || next > this.wmLive.watermark) return;
    this.eventTimerTick = setImmediate(() => {
      this.eventTimerTick = undefined;
      this.fireEventTimers();
    });
  }

  /**
   * Event-time timers due at the watermark become log records, earliest first (ties by id), in
   * the same checkpoint that removes them: exactly once, and in timestamp order per target.
   * While the uncommitted buffer is over its bound, firing waits for the next checkpoint.
   */
  private fireEventTimers(): void {
    if (!this.running) return;
    if (this.buffer.changes >= this.cfg.checkpointMaxRecords * 2) {
      this.requestCheckpoint();
      return;
    }
    const due = this.eventTimers.popDue(this.wmLive.watermark, this.cfg.timerBatch);
    for (const t of due) {
      this.stats.eventTimersFired++;
      this.release(t);
    }
    if (this.buffer.changes >= this.cfg.checkpointMaxRecords) this.requestCheckpoint();
    else if (due.length > 0) this.dirty();
    this.scheduleEventTimers();
  }

  // ---------------------------------------------------------------- checkpoints

  /** Something changed: a checkpoint starts within the checkpoint interval (none while idle). */
  private dirty(): void {
    if (!this.running || this.checkpointTimer !== undefined) return;
    if (this.checkpointRunning !== undefined) {
      this.checkpointAgain = true;
      return;
    }
    this.checkpointTimer = setTimeout(() => {
      this.checkpointTimer = undefined;
      this.requestCheckpoint();
    }, this.cfg.checkpointIntervalMs);
  }

  private requestCheckpoint(): void {
    if (!this.running) return;
    if (this.checkpointRunning !== undefined) {
      this.checkpointAgain = true;
      return;
    }
    if (this.checkpointTimer !== undefined) {
      clearTimeout(this.checkpointTimer);
      this.checkpointTimer = undefined;
    }
    this.checkpoint().catch((err: unknown) => this.fail(err));
  }

  private async checkpoint(): Promise<void> {
    if (this.checkpointRunning !== undefined || this.stopped) return;
    const position = this.outstanding.position();
    // Offsets the restored checkpoint said were complete stay complete until the position passes
    // them, whether or not they were read again yet: a checkpoint taken right after a recovery
    // (delayed messages firing) must not forget them.
    const completed = JSON.stringify(
      mergeRanges(this.outstanding.completedBeyond(), this.replaySkip, position),
    );
    const buf = this.buffer;
    if (buf.changes === 0 && position === this.lastPosition && completed === this.lastCompleted) return;
    // Each checkpoint with effects writes a marker record into this partition, which recovery
    // looks for. A checkpoint that only moves past markers has no effects to lose, writes none
    // (else markers would beget checkpoints forever), and is safely dropped when in doubt.
    const markersOnly = buf.changes === 0 && !this.progressSinceCheckpoint;
    const id = ++this.checkpointId;
    this.buffer = emptyBuffer();
    const urgent = this.urgent;
    this.urgent = false;
    this.autoTimerSeq = 0;
    this.progressSinceCheckpoint = false;
    buf.delta.meta = { completed, position: String(position), checkpoint: String(id) };
    this.foldSources(position);
    buf.delta.meta[SOURCES_META_KEY] = JSON.stringify([...this.sourcesStable]);
    // The watermark as of the committed position: a replay re-reads the marks after it.
    this.foldMarks(position);
    buf.delta.meta[WATERMARK_META_KEY] = this.wmStable.serialize();
    if (!markersOnly) {
      buf.records.push({
        topic: this.deps.internalTopic,
        partition: this.partition,
        key: null,
        value: null,
        headers: { [Header.checkpoint]: String(id) },
      });
    }
    const started = this.now();
    const run = (async () => {
      const { store, owned, hooks } = this.deps;
      // The delta is staged inside the log transaction, after its records (the marker among
      // them) are written: see OwnedPartition.commit for why recovery needs that order.
      await owned.commit(
        buf.records,
        { offset: position, checkpointId: id },
        async () => {
          await store.stage(this.epoch, id, buf.delta);
          await hooks?.afterStage?.(this.partition, id);
        },
        { urgent },
      );
      // Replies waiting callers need only the committed records, not the promote.
      this.deps.observer?.committed?.({
        partition: this.partition,
        durationMs: this.now() - started,
        records: buf.records,
        changes: buf.changes,
      });
      await hooks?.afterCommit?.(this.partition, id);
      await store.promote(this.epoch, id);
    })();
    this.checkpointRunning = run.then(
      () => undefined,
      () => undefined,
    );
    try {
      await run;
    } finally {
      this.checkpointRunning = undefined;
    }
    this.promotedId = id;
    this.lastPosition = position;
    this.lastCompleted = completed;
    this.stats.checkpoints++;
    this.stats.lastCheckpointMs = this.now() - started;
    this.deps.observer?.checkpointed?.({
      partition: this.partition,
      durationMs: this.stats.lastCheckpointMs,
      records: buf.records,
      changes: buf.changes,
    });
    this.evict();
    this.updateFlow();
    if (this.buffer.changes >= this.cfg.checkpointMaxRecords) this.requestCheckpoint();
    else if (this.checkpointAgain) {
      this.checkpointAgain = false;
      this.dirty();
    }
    this.scheduleEventTimers();
  }

  /** Drops idle, committed addresses beyond the cache size (least recently used first). */
  private evict(): void {
    let excess = this.slots.size - this.cfg.stateCacheAddresses;
    if (excess <= 0) return;
    for (const slot of this.slots.values()) {
      if (excess <= 0) break;
      if (
        slot.inFlight === undefined &&
        slot.mailbox.length === 0 &&
        slot.states !== undefined &&
        slot.pinnedUntil <= this.promotedId
      ) {
        this.slots.delete(slot.key);
        excess--;
      }
    }
  }

  // ---------------------------------------------------------------- flow control

  private checkBlocked(slot: Slot): void {
    const limit = slot.target.maxBatch;
    const blocked = limit > 0 && slot.mailbox.length >= limit;
    if (blocked !== slot.blocked) {
      slot.blocked = blocked;
      this.blockedSlots += blocked ? 1 : -1;
    }
  }

  /**
   * Pauses consumption while an address's backlog is at `maxNumBatchRequests`, too many records
   * are outstanding, or the uncommitted buffer is far past its checkpoint size; resumes after.
   */
  private updateFlow(): void {
    if (!this.running) return;
    if (this.held.length > 0 && this.blockedSlots === 0 && !this.draining) {
      this.drainHeld(); // ends with updateFlow() again
      return;
    }
    const overloaded =
      this.blockedSlots > 0 ||
      this.held.length > 0 ||
      this.outstanding.tracked >= this.cfg.maxOutstandingRecords ||
      this.buffer.changes >= this.cfg.checkpointMaxRecords * 4;
    if (overloaded && !this.paused) {
      this.paused = true;
      this.deps.owned.pause();
    } else if (!overloaded && this.paused) {
      this.paused = false;
      this.deps.owned.resume();
    }
  }

  private fail(err: unknown): void {
    if (this.stopped) return;
    this.log.error('partition task failed; it will be recovered from its last checkpoint', { err });
    this.shutdown();
    this.deps.onFailure?.(err);
  }

  private shutdown(): void {
    this.stopped = true;
    this.running = false;
    this.held = []; // a new owner reads them again
    if (this.checkpointTimer !== undefined) clearTimeout(this.checkpointTimer);
    this.checkpointTimer = undefined;
    if (this.timerTimeout !== undefined) clearTimeout(this.timerTimeout);
    if (this.eventTimerTick !== undefined) clearImmediate(this.eventTimerTick);
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    for (const slot of this.slots.values()) slot.abort?.abort();
  }
}

const SOURCES_META_KEY = 'sources';

/** Union of two sorted range lists, keeping only offsets at or beyond `from`. */
export function mergeRanges(a: OffsetRanges, b: OffsetRanges, from: number): OffsetRanges {
  const all = [...a, ...b]
    .map(([first, last]): [number, number] => [Math.max(first, from), last])
    .filter(([first, last]) => first <= last)
    .sort((x, y) => x[0] - y[0]);
  const out: OffsetRanges = [];
  for (const [first, last] of all) {
    const prev = out[out.length - 1];
    if (prev !== undefined && first <= prev[1] + 1) prev[1] = Math.max(prev[1], last);
    else out.push([first, last]);
  }
  return out;
}

function parseSources(text: string | undefined): Map<string, number> {
  if (text === undefined) return new Map();
  const parsed = JSON.parse(text) as unknown;
  return Array.isArray(parsed) ? new Map(parsed as [string, number][]) : new Map<string, number>();
}

/** The position a checkpoint's metadata records (none before the first checkpoint). */
function positionOf(meta: Record<string, string>): CommittedPosition {
  const offset = Number(meta.position);
  const checkpointId = Number(meta.checkpoint);
  return Number.isFinite(offset) && Number.isFinite(checkpointId) && meta.position !== undefined
    ? { offset, checkpointId }
    : { offset: -1, checkpointId: -1 };
}

function newest(a: CommittedPosition, b: CommittedPosition): CommittedPosition {
  return b.checkpointId > a.checkpointId ? b : a;
}

function parseRanges(text: string | undefined): OffsetRanges {
  if (text === undefined) return [];
  const parsed = JSON.parse(text) as unknown;
  return Array.isArray(parsed) ? (parsed as OffsetRanges) : [];
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
