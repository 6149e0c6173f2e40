// A partition's checkpoints: the buffer of everything changed since the last one (records, state
// delta, timer changes), the partition's progress (progress.ts), when the next checkpoint starts,
// and the commit sequence itself:
//   write the records into the log transaction → stage the state delta (fenced by epoch) →
//   commit the log transaction (records + position) → `committed` → promote → `checkpointed`.
import type { OutRecord, OwnedPartition } from '../log/log.js';
import type { TaskObserver } from '../observers.js';
import type { PartitionDelta, PartitionStore, StoredTimer, StoredValue } from '../state/state-store.js';
import { Header } from './envelope.js';
import type { HandOffTicket } from './ingress-handoff.js';
import { Progress } from './progress.js';
import type { Cancel, Scheduler } from './scheduler.js';
import type { TaskConfig, TaskHooks, TaskStats } from './task-config.js';

export interface CheckpointHost {
  /** False while recovering and once stopped: no checkpoint is started. */
  running(): boolean;
  stopped(): boolean;
  /** A checkpoint failed: the task cannot go on. */
  fail(err: unknown): void;
  /** A checkpoint was promoted (evict what it made evictable, resume input, fire timers). */
  checkpointed(): void;
}

export interface CheckpointerDeps {
  owned: OwnedPartition;
  store: PartitionStore;
  internalTopic: string;
  config: Pick<TaskConfig, 'checkpointIntervalMs' | 'checkpointMaxRecords'>;
  scheduler: Scheduler;
  now: () => number;
  stats: Pick<TaskStats, 'checkpoints' | 'lastCheckpointMs'>;
  watermarkGroups: readonly string[];
  hooks?: TaskHooks | undefined;
  observer?: TaskObserver | undefined;
  host: CheckpointHost;
}

interface Buffer {
  records: OutRecord[];
  delta: PartitionDelta;
  changes: number;
  /** Records handed over by an ingress that this checkpoint settles (see ingress-handoff.ts). */
  tickets: HandOffTicket[];
}

function emptyBuffer(): Buffer {
  return {
    records: [],
    delta: { addresses: new Map(), timersAdded: new Map(), timersRemoved: new Set() },
    changes: 0,
    tickets: [],
  };
}

export class Checkpointer {
  readonly progress: Progress;
  private buffer: Buffer = emptyBuffer();
  private epoch = 0;
  private checkpointId = 0;
  private promoted = 0;
  private lastPosition = -1;
  private lastCompleted = '[]';
  private progressSinceCheckpoint = false;
  /** A reply or a waiting request is in the buffer: checkpoint now, not after the interval. */
  private urgent = false;
  private autoTimerSeq = 0;
  private running: Promise<void> | undefined;
  private cancelTimer: Cancel | undefined;
  /** Something changed while a checkpoint ran: another one follows it. */
  private again = false;

  constructor(private readonly deps: CheckpointerDeps) {
    this.progress = new Progress(deps.watermarkGroups);
  }

  /** Continues after recovery: `checkpointId` is the highest id ever used (never reused). */
  restore(r: {
    epoch: number;
    checkpointId: number;
    position: number;
    meta: Readonly<Record<string, string>>;
  }): {
    watermarkError?: unknown;
  } {
    this.epoch = r.epoch;
    this.checkpointId = r.checkpointId;
    this.promoted = r.checkpointId;
    this.lastPosition = r.position;
    this.lastCompleted = r.meta.completed ?? '[]';
    return this.progress.restore(r.position, r.meta);
  }

  /** The offset this partition is committed up to. */
  get committedOffset(): number {
    return this.lastPosition;
  }

  /** The id of the last promoted checkpoint. */
  get promotedId(): number {
    return this.promoted;
  }

  /** The checkpoint the buffer goes into. */
  get nextId(): number {
    return this.checkpointId + 1;
  }

  /** Records and changes buffered. */
  get changes(): number {
    return this.buffer.changes;
  }

  /** The buffer has reached the checkpoint size. */
  get full(): boolean {
    return this.buffer.changes >= this.deps.config.checkpointMaxRecords;
  }

  /** Ids for timers without a token are numbered per checkpoint: `${prefix}${seq}`. */
  autoTimerIds(): { prefix: string; seq: number } {
    return { prefix: `#${this.checkpointId + 1}.`, seq: this.autoTimerSeq };
  }

  usedAutoTimerIds(n: number): void {
    this.autoTimerSeq += n;
  }

  /** A message was taken in: worth a checkpoint (with a marker) even if it changes nothing. */
  progressed(): void {
    this.progressSinceCheckpoint = true;
  }

  /** Replies wait for this checkpoint: start it as soon as the work at hand is done. */
  markUrgent(): void {
    this.urgent = true;
  }

  get isUrgent(): boolean {
    return this.urgent;
  }

  push(record: OutRecord, headers?: Readonly<Record<string, string>>): void {
    this.buffer.records.push(
      headers === undefined ? record : { ...record, headers: { ...record.headers, ...headers } },
    );
    this.buffer.changes++;
  }

  /**
   * Writes an address's whole state (the store replaces it, so later writes to the same address
   * in this checkpoint just refresh the entry). Returns the checkpoint that holds the write.
   */
  writeState(key: string, states: ReadonlyMap<string, StoredValue>): number {
    this.buffer.delta.addresses.set(key, { states: Object.fromEntries(states) });
    this.buffer.changes++;
    return this.checkpointId + 1;
  }

  addTimer(t: StoredTimer): void {
    this.buffer.delta.timersRemoved.delete(t.id);
    this.buffer.delta.timersAdded.set(t.id, t);
    this.buffer.changes++;
  }

  /** Removes a timer in this checkpoint; `change` counts it (a cancellation, not a firing). */
  removeTimer(id: string, change: boolean): void {
    this.buffer.delta.timersAdded.delete(id);
    this.buffer.delta.timersRemoved.add(id);
    if (change) this.buffer.changes++;
  }

  /**
   * A handed-over record is done with (its effects, or its drop as a repeat, are in this buffer or
   * an earlier one): its ingress learns so when this checkpoint commits, or that it was lost.
   */
  settleWithCheckpoint(ticket: HandOffTicket): void {
    this.buffer.tickets.push(ticket);
    // A record dropped as a repeat changes nothing else: its ingress still waits for a commit.
    this.dirty();
  }

  /** Something changed: a checkpoint starts within the checkpoint interval (none while idle). */
  dirty(): void {
    if (!this.deps.host.running() || this.cancelTimer !== undefined) return;
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    this.cancelTimer = this.deps.scheduler.after(this.deps.config.checkpointIntervalMs, () => {
      this.cancelTimer = undefined;
      this.request();
    });
  }

  /** Checkpoint now, or right after the running one. */
  request(): void {
    if (!this.deps.host.running()) return;
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.checkpoint().catch((err: unknown) => this.deps.host.fail(err));
  }

  /** Waits for the running checkpoint, then takes one; resolves when it is promoted. */
  async flush(): Promise<void> {
    await this.running;
    await this.checkpoint();
  }

  /** No further checkpoint starts by itself; what the buffer settles is lost. */
  stop(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    for (const t of this.buffer.tickets.splice(0)) t.lost();
  }

  private async checkpoint(): Promise<void> {
    if (this.running !== undefined || this.deps.host.stopped()) return;
    const { progress } = this;
    const position = progress.position();
    const completed = progress.completed(position);
    const buf = this.buffer;
    if (
      buf.changes === 0 &&
      buf.tickets.length === 0 &&
      position === this.lastPosition &&
      completed === this.lastCompleted
    )
      return;
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
    buf.delta.meta = {
      completed,
      position: String(position),
      checkpoint: String(id),
      ...progress.checkpointMeta(position),
    };
    if (!markersOnly) {
      buf.records.push({
        topic: this.deps.internalTopic,
        partition: this.deps.owned.partition,
        key: null,
        value: null,
        headers: { [Header.checkpoint]: String(id) },
      });
    }
    const started = this.deps.now();
    const run = this.commit(buf, position, id, urgent, started);
    this.running = run.then(
      () => undefined,
      () => undefined,
    );
    try {
      await run;
    } finally {
      this.running = undefined;
    }
    this.promoted = id;
    this.lastPosition = position;
    this.lastCompleted = completed;
    const { stats, observer } = this.deps;
    stats.checkpoints++;
    stats.lastCheckpointMs = this.deps.now() - started;
    observer?.checkpointed?.({
      partition: this.deps.owned.partition,
      durationMs: stats.lastCheckpointMs,
      records: buf.records,
      changes: buf.changes,
    });
    this.deps.host.checkpointed();
    if (this.full) this.request();
    else if (this.again) {
      this.again = false;
      this.dirty();
    }
  }

  /** The commit sequence of one checkpoint (ARCHITECTURE: stage as the log commit's prepare). */
  private async commit(
    buf: Buffer,
    position: number,
    id: number,
    urgent: boolean,
    started: number,
  ): Promise<void> {
    const { store, owned, hooks, observer } = this.deps;
    const partition = owned.partition;
    // The delta is staged inside the log transaction, after its records (the marker among
    // them) are written: see OwnedPartition.commit for why recovery needs that order.
    try {
      await owned.commit(
        buf.records,
        { offset: position, checkpointId: id },
        async () => {
          await store.stage(this.epoch, id, buf.delta);
          await hooks?.afterStage?.(partition, id);
        },
        { urgent },
      );
    } catch (err) {
      for (const t of buf.tickets) t.lost();
      throw err;
    }
    // Committed: recovery finds the marker and keeps the staged delta (and with it the source
    // offsets of the handed-over records), so their ingress may move past them.
    for (const t of buf.tickets) t.durable();
    // Replies waiting callers need only the committed records, not the promote.
    observer?.committed?.({
      partition,
      durationMs: this.deps.now() - started,
      records: buf.records,
      changes: buf.changes,
    });
    await hooks?.afterCommit?.(partition, id);
    await store.promote(this.epoch, id);
  }
}
