// The partition task: owns one partition of the internal log while this process holds it, and
// reads as its data path: take (each received record in log order) → dispatch (per-address
// mailboxes, one request in flight each) → apply (a response's effects, computed purely) →
// checkpoint (everything since the last one, committed at once). The parts, one job each:
//   recovery.ts     taking over in the order the commit protocol needs
//   mailboxes.ts    mailboxes, batching, calls, the request-id check, held records, flow control
//   effects.ts      a response → records, state writes, timer changes, dead letters (pure)
//   timers.ts       delayed messages and event-time timers
//   checkpointer.ts the buffer, the progress (progress.ts) and the commit sequence
// After a crash, replay from the committed position skips the offsets that the checkpoint says
// were already complete, so every message takes effect exactly once.
import type { InvocationResponse } from '@continuum/sdk/protocol';
import type { LogRecord, OwnedPartition } from '../log/log.js';
import type { Partitioning } from './address.js';
import { silentLogger, type Logger } from '../logger.js';
import type { TaskObserver } from '../observers.js';
import type { PartitionStore, StoredTimer, StoredValue } from '../state/state-store.js';
import type { FunctionClient } from '../transport/function-client.js';
import { Checkpointer } from './checkpointer.js';
import { effectsOf, timerMessage, type EffectTopics } from './effects.js';
import { fromInternalRecord, watermarkOf, Header, type Envelope } from './envelope.js';
import type { BarrierWaiter, HandedRecord, HandOffTarget, HandOffTicket } from './ingress-handoff.js';
import { Mailboxes, type Entry, type Slot, type TaskBudgets } from './mailboxes.js';
import { recover } from './recovery.js';
import type { EgressRouter, FunctionRouter } from './routing.js';
import { realScheduler, type Scheduler } from './scheduler.js';
import type { StateRegistry } from './state-registry.js';
import { emptyTaskStats, type TaskConfig, type TaskHooks, type TaskStats } from './task-config.js';
import { TaskTimers, type TimerKind } from './timers.js';
import type { WatermarkMark } from './watermarks.js';

export { defaultTaskConfig } from './task-config.js';
export type { TaskConfig, TaskHooks, TaskStats } from './task-config.js';

export interface TaskDeps {
  owned: OwnedPartition;
  store: PartitionStore;
  internalTopic: string;
  partitions: number;
  partitioning: Partitioning;
  functions: FunctionRouter;
  egress: EgressRouter;
  client: FunctionClient;
  registry: StateRegistry;
  config: TaskConfig;
  /** Limits shared with the other tasks of the process; none: only the per-partition ones. */
  budgets?: TaskBudgets | undefined;
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

export class PartitionTask implements HandOffTarget {
  readonly partition: number;
  readonly stats: TaskStats = emptyTaskStats();
  private readonly deps: TaskDeps;
  private readonly cfg: TaskConfig;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly topics: EffectTopics;
  private readonly checkpointer: Checkpointer;
  private readonly mailboxes: Mailboxes;
  private readonly timers: TaskTimers;
  private readonly warned = new Set<string>();
  /** The barrier each ingress lane of this process waits for (one per lane: bounded). */
  private readonly barriers = new Map<string, { token: string; waiter: BarrierWaiter }>();
  private running = false;
  private stopped = false;

  constructor(deps: TaskDeps) {
    this.deps = deps;
    this.partition = deps.owned.partition;
    this.cfg = deps.config;
    this.log = (deps.logger ?? silentLogger).child({ partition: this.partition });
    this.now = deps.clock ?? Date.now;
    const scheduler = deps.scheduler ?? realScheduler;
    this.topics = {
      partition: this.partition,
      internalTopic: deps.internalTopic,
      partitions: deps.partitions,
      partitioning: deps.partitioning,
      repliesTopic: deps.config.repliesTopic,
      deadLetterTopic: deps.config.deadLetterTopic,
    };
    const running = (): boolean => this.running;
    const stopped = (): boolean => this.stopped;
    const fail = (err: unknown): void => this.fail(err);
    this.checkpointer = new Checkpointer({
      owned: deps.owned,
      store: deps.store,
      internalTopic: deps.internalTopic,
      config: deps.config,
      scheduler,
      now: this.now,
      stats: this.stats,
      watermarkGroups: deps.watermarkGroups ?? [],
      hooks: deps.hooks,
      observer: deps.observer,
      host: {
        running,
        stopped,
        fail,
        checkpointed: () => {
          this.mailboxes.evict();
          this.mailboxes.updateFlow();
          this.timers.scheduleEventTimers();
        },
      },
    });
    this.mailboxes = new Mailboxes({
      owned: deps.owned,
      store: deps.store,
      functions: deps.functions,
      client: deps.client,
      registry: deps.registry,
      config: deps.config,
      checkpointer: this.checkpointer,
      stats: this.stats,
      scheduler,
      now: this.now,
      log: this.log,
      observer: deps.observer,
      budgets: deps.budgets,
      host: {
        running,
        stopped,
        fail,
        take: (record) => this.take(record),
        apply: (slot, batch, result, headers) => this.apply(slot, batch, result, headers),
      },
    });
    this.timers = new TaskTimers({
      scheduler,
      now: this.now,
      batch: deps.config.timerBatch,
      host: {
        running,
        watermark: () => this.checkpointer.progress.watermark,
        mayFireEventTimers: () => {
          // While the uncommitted buffer is over its bound, firing waits for the next checkpoint.
          if (this.checkpointer.changes < this.cfg.checkpointMaxRecords * 2) return true;
          this.checkpointer.request();
          return false;
        },
        fire: (due, kind) => this.fireTimers(due, kind),
      },
    });
  }

  /**
   * Takes over the partition (recovery.ts: claim the store epoch, fence the log, only then read
   * the committed position and resolve a leftover staged delta), loads the timers and starts
   * consuming from the committed position.
   */
  async start(): Promise<void> {
    const { owned, store } = this.deps;
    const r = await recover({ owned, store, internalTopic: this.deps.internalTopic, log: this.log });
    const { watermarkError } = this.checkpointer.restore({
      epoch: r.epoch,
      checkpointId: r.checkpointId,
      position: r.position.offset,
      meta: r.meta,
    });
    if (watermarkError !== undefined) {
      // The marks after the committed position still arrive; only the start is lower.
      this.log.error('the checkpoint holds an unreadable watermark snapshot; starting without one', {
        err: watermarkError,
      });
    }
    this.timers.load(r.timers);
    if (this.stopped) return;
    this.running = true;
    this.log.info('partition recovered', {
      offset: r.position.offset,
      checkpoint: r.position.checkpointId,
      staged: r.staged,
      logPosition: r.logPosition.offset,
      timers: this.timers.size,
      eventTimers: this.timers.eventSize,
      watermark: this.watermark,
    });
    this.timers.schedule();
    // Timers fired while recovering wait in the buffer.
    this.checkpointer.dirty();
    owned.start(r.position.offset, (records) => this.onRecords(records));
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
        await this.checkpointer.flush();
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
    const m = this.mailboxes.backlog;
    return {
      outstanding: this.checkpointer.progress.pending,
      paused: m.paused,
      addresses: m.addresses,
      inFlight: m.inFlight,
      timers: this.timers.size,
      eventTimers: this.timers.eventSize,
      held: m.held,
    };
  }

  /** Messages queued for the busiest address (never above its maxNumBatchRequests). */
  largestMailbox(): number {
    return this.mailboxes.largestMailbox();
  }

  /** The partition watermark (ms since the epoch), undefined while there is none. */
  get watermark(): number | undefined {
    const w = this.checkpointer.progress.watermark;
    return Number.isFinite(w) ? w : undefined;
  }

  /**
   * A waiting HTTP request's message, handed over by an ingress of this process while its record
   * is being appended to this partition: invoked now instead of after the append, the
   * transaction that holds the partition's read_committed position and the fetch. Its request
   * id is remembered with the invocation's effects (see Mailboxes.finish), so when the record
   * itself arrives it is dropped as a repeated request; a crash before the checkpoint leaves the
   * record to be invoked on replay. `record` is the one being appended, with offset -1 (no
   * position of its own: nothing to complete or replay). Returns false when the task cannot take
   * it now (not running, consumption paused, the address's mailbox full, not a request): the
   * record brings it.
   */
  handOver(record: LogRecord): boolean {
    if (!this.running || this.stopped) return false;
    return this.mailboxes.handOver(record);
  }

  /**
   * A routed record from a Kafka ingress of this process, taken instead of read back from the log
   * (core/ingress-handoff.ts). `ticket` learns when the checkpoint with its effects commits, or
   * that the task stopped first.
   */
  takeFromIngress(record: HandedRecord, ticket: HandOffTicket): boolean {
    if (!this.running || this.stopped) return false;
    return this.mailboxes.handOverIngress(record, ticket);
  }

  expectBarrier(lane: string, token: string, waiter: BarrierWaiter): void {
    if (this.stopped) {
      waiter.gone();
      return;
    }
    this.barriers.set(lane, { token, waiter });
  }

  /** Checkpoint now (tests, shutdown); resolves when it is committed. */
  async flush(): Promise<void> {
    await this.checkpointer.flush();
  }

  /** The cached (possibly uncommitted) state of an address, if it is in memory. */
  cachedState(key: string): ReadonlyMap<string, StoredValue> | undefined {
    return this.mailboxes.cachedState(key);
  }

  /** Pending delayed messages and event-time timers of this partition. */
  pendingTimers(): number {
    return this.timers.pending;
  }

  /** The offset this partition is committed up to (consumer lag = end offset - this). */
  get committedOffset(): number {
    return this.checkpointer.committedOffset;
  }

  /**
   * Pending delayed messages sent by or to the address `key`, soonest first, then its event-time
   * timers (`kind: 'event-time'`) by time; at most `max`.
   */
  delayedMessages(key: string, max: number): StoredTimer[] {
    return this.timers.list(key, max);
  }

  // ---------------------------------------------------------------- take

  private onRecords(records: readonly LogRecord[]): void {
    if (!this.running) return;
    this.mailboxes.receive(records);
  }

  /** One received record, in log order: a marker, a watermark mark, a repeat, or a message. */
  private take(record: LogRecord): void {
    const progress = this.checkpointer.progress;
    if (record.headers[Header.checkpoint] !== undefined || record.headers[Header.fence] !== undefined) {
      // A checkpoint's marker: no message, and no progress worth a checkpoint of its own.
      progress.complete(record.offset);
      return;
    }
    const barrier = record.headers[Header.barrier];
    if (barrier !== undefined) {
      // Everything before it is in the mailboxes: the ingress that wrote it may hand over now.
      progress.complete(record.offset);
      this.stats.barriers++;
      for (const [lane, waiting] of this.barriers) {
        if (waiting.token !== barrier) continue;
        this.barriers.delete(lane);
        waiting.waiter.seen();
      }
      return;
    }
    const mark = watermarkOf(record);
    if (mark !== undefined) {
      // Applied again on replay even when the checkpoint says complete: the restored watermark
      // is the one at the committed position, and the marks after it bring it up to date.
      progress.complete(record.offset);
      this.onMark(record.offset, mark);
      return;
    }
    this.stats.received++;
    this.checkpointer.progressed();
    let env: Envelope | undefined;
    let undecodable: unknown;
    try {
      env = fromInternalRecord(record);
    } catch (err) {
      undecodable = err;
    }
    if (env?.source !== undefined && progress.isDuplicateFromSource(record.offset, env.source)) {
      this.stats.duplicatesDropped++;
      progress.complete(record.offset);
      return;
    }
    if (progress.completedBefore(record.offset)) {
      this.stats.skippedOnReplay++;
      progress.complete(record.offset);
      return;
    }
    this.mailboxes.accept(record, env, undecodable);
  }

  private onMark(offset: number, mark: WatermarkMark | 'invalid'): void {
    this.stats.watermarkMarks++;
    if (mark === 'invalid') {
      this.warnOnce('invalid', 'ignoring a malformed watermark mark', { offset });
      return;
    }
    const progress = this.checkpointer.progress;
    if (!progress.expects(mark.group)) {
      this.warnOnce(mark.group, 'ignoring watermark marks of a source group that is not in the module', {
        group: mark.group,
      });
      return;
    }
    if (progress.mark(offset, mark)) this.timers.scheduleEventTimers();
  }

  private warnOnce(key: string, text: string, fields: Record<string, unknown>): void {
    if (this.warned.has(key) || this.warned.size >= 100) return;
    this.warned.add(key);
    this.log.warn(text, fields);
  }

  // ---------------------------------------------------------------- apply

  /** Applies a valid response's effects (computed by effects.ts) to the buffer and the timers. */
  private apply(
    slot: Slot,
    batch: readonly Entry[],
    result: InvocationResponse,
    headers: Readonly<Record<string, string>> | undefined,
  ): void {
    const cp = this.checkpointer;
    this.stats.invocations += batch.length;
    const ids = cp.autoTimerIds();
    const fx = effectsOf(
      {
        topics: this.topics,
        egress: this.deps.egress,
        address: slot.address,
        states: slot.states!,
        registered: this.deps.registry.states(slot.functionType),
        eventTimes: batch.map((e) => e.env!.eventTime),
        now: this.now(),
        timers: { has: (id) => this.timers.has(id), pending: this.timers.pending },
        maxPendingTimers: this.cfg.maxPendingTimers,
        autoTimerPrefix: ids.prefix,
        autoTimerSeq: ids.seq,
      },
      result,
    );
    cp.usedAutoTimerIds(fx.autoTimersUsed);
    for (const { code, reason } of fx.deadLetters) {
      this.stats.deadLetters++;
      this.deps.observer?.deadLettered?.(this.partition, code);
      this.log.warn('dead-lettering an effect', { address: slot.key, code, reason });
    }
    for (const r of fx.records) cp.push(r, headers);
    if (fx.urgent) cp.markUrgent();
    for (const t of fx.timers) {
      if (t.kind === 'cancel') {
        this.timers.remove(t.id);
        cp.removeTimer(t.id, true);
      } else {
        cp.addTimer(t.timer);
        this.timers.add(t.timer);
      }
    }
    for (const { name, value } of fx.states) this.mailboxes.writeState(slot, name, value);
  }

  /** Due timers become log records in the same checkpoint that removes them: exactly once. */
  private fireTimers(due: readonly StoredTimer[], kind: TimerKind): void {
    const cp = this.checkpointer;
    for (const t of due) {
      if (kind === 'event-time') this.stats.eventTimersFired++;
      else this.stats.timersFired++;
      cp.removeTimer(t.id, false);
      const { record, reply } = timerMessage(this.topics, t);
      if (reply) cp.markUrgent();
      cp.push(record);
    }
    if (cp.full) cp.request();
    else if (due.length > 0) cp.dirty();
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
    const waiting = [...this.barriers.values()];
    this.barriers.clear();
    for (const w of waiting) w.waiter.gone();
    this.checkpointer.stop();
    this.timers.stop();
    this.mailboxes.stop();
  }
}
