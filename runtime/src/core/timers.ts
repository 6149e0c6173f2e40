// A partition's pending delayed messages (due at a wall-clock time) and event-time timers (due
// once the partition watermark passes them): the queues, and when to look at them again. What a
// due timer becomes (a record in the checkpoint that removes it) is the task's business.
import type { StoredTimer } from '../state/state-store.js';
import type { Cancel, Scheduler } from './scheduler.js';
import { TimerQueue } from './timer-queue.js';

export type TimerKind = 'processing-time' | 'event-time';

export interface TimerHost {
  /** False once the task stopped: nothing fires. */
  running(): boolean;
  /** The partition watermark (-Infinity: none). */
  watermark(): number;
  /** False while event-time timers must wait for a checkpoint (the host then asks for one). */
  mayFireEventTimers(): boolean;
  /** Due timers, earliest first (possibly none); the host publishes them and checkpoints. */
  fire(due: readonly StoredTimer[], kind: TimerKind): void;
}

export class TaskTimers {
  private readonly delayed = new TimerQueue();
  /** Event-time timers, by the watermark at which they are due. */
  private readonly eventTime = new TimerQueue();
  private cancelTick: Cancel | undefined;
  private tickDueAt = Infinity;
  private cancelEventTick: Cancel | undefined;

  constructor(
    private readonly opts: {
      scheduler: Scheduler;
      now: () => number;
      /** Most timers released in one pass. */
      batch: number;
      host: TimerHost;
    },
  ) {}

  /** Timers restored by recovery (not yet scheduled: see `schedule`). */
  load(timers: readonly StoredTimer[]): void {
    for (const t of timers) this.queue(t).add(t);
  }

  /** Pending delayed messages. */
  get size(): number {
    return this.delayed.size;
  }

  /** Pending event-time timers. */
  get eventSize(): number {
    return this.eventTime.size;
  }

  get pending(): number {
    return this.delayed.size + this.eventTime.size;
  }

  has(id: string): boolean {
    return this.delayed.has(id) || this.eventTime.has(id);
  }

  /** Removes a pending timer of either kind; false when there was none. */
  remove(id: string): boolean {
    return this.delayed.remove(id) || this.eventTime.remove(id);
  }

  /** Adds a timer and makes sure it fires when due. */
  add(t: StoredTimer): void {
    this.queue(t).add(t);
    if (t.kind === 'event-time') {
      // A time the watermark has passed already: due at once.
      if (t.fireAt <= this.opts.host.watermark()) this.scheduleEventTimers();
    } else {
      this.scheduleTick();
    }
  }

  /**
   * Pending delayed messages sent by or to the address `key`, soonest first, then its event-time
   * timers by time; at most `max`.
   */
  list(key: string, max: number): StoredTimer[] {
    const match = (t: StoredTimer): boolean => t.callerKey === key || t.targetKey === key;
    const byTime = (a: StoredTimer, b: StoredTimer): number => a.fireAt - b.fireAt;
    return [...this.delayed.list(match).sort(byTime), ...this.eventTime.list(match).sort(byTime)].slice(
      0,
      max,
    );
  }

  /** Arms the wake-ups for what is pending (after recovery). */
  schedule(): void {
    this.scheduleTick();
    this.scheduleEventTimers();
  }

  /** Wakes up at the earliest delayed message (re-armed when an earlier one comes). */
  scheduleTick(): void {
    if (!this.opts.host.running()) return;
    const next = this.delayed.peekTime();
    if (next === undefined) return;
    if (this.cancelTick !== undefined && next >= this.tickDueAt) return;
    this.cancelTick?.();
    this.tickDueAt = next;
    this.cancelTick = this.opts.scheduler.after(Math.max(0, next - this.opts.now()), () => {
      this.cancelTick = undefined;
      this.tickDueAt = Infinity;
      this.fireDelayed();
    });
  }

  /** Fires the due event-time timers soon (coalesced: one pass per turn of the event loop). */
  scheduleEventTimers(): void {
    if (!this.opts.host.running() || this.cancelEventTick !== undefined) return;
    const next = this.eventTime.peekTime();
    if (next === undefined || next > this.opts.host.watermark()) return;
    this.cancelEventTick = this.opts.scheduler.soon(() => {
      this.cancelEventTick = undefined;
      this.fireEventTimers();
    });
  }

  stop(): void {
    this.cancelTick?.();
    this.cancelTick = undefined;
    this.cancelEventTick?.();
    this.cancelEventTick = undefined;
  }

  private fireDelayed(): void {
    const { host } = this.opts;
    if (!host.running()) return;
    host.fire(this.delayed.popDue(this.opts.now(), this.opts.batch), 'processing-time');
    this.scheduleTick();
  }

  /**
   * Event-time timers due at the watermark fire earliest first (ties by id), so in timestamp order
   * per target; while the host cannot take them, they wait for its next checkpoint.
   */
  private fireEventTimers(): void {
    const { host } = this.opts;
    if (!host.running() || !host.mayFireEventTimers()) return;
    host.fire(this.eventTime.popDue(host.watermark(), this.opts.batch), 'event-time');
    this.scheduleEventTimers();
  }

  private queue(t: StoredTimer): TimerQueue {
    return t.kind === 'event-time' ? this.eventTime : this.delayed;
  }
}
