// The hand-off side of one ingress partition (see core/ingress-handoff.ts for why it is exactly
// once): per internal partition a lane that either appends the routed records to the log (the
// partition's task runs elsewhere), waits for its barrier (the task runs here, but records this
// ingress appended may still be on their way to it), or hands them over to the task. It also
// knows the lowest ingress offset not yet durable, below which the ingress commits.
import { barrierRecord, type EncodedRecord } from '../core/envelope.js';
import type { HandOffTarget, HandOffTicket } from '../core/ingress-handoff.js';
import type { ProcessBudget } from '../core/process-budget.js';
import type { OutRecord } from '../log/log.js';

export interface HandOffLanesOptions {
  internalTopic: string;
  /** Names this ingress partition's lanes in the tasks' barrier lists; unique per mover. */
  laneId: string;
  /** The task of internal partition `p` when it runs in this process. */
  target(p: number): HandOffTarget | undefined;
  /** A handed-over record became durable, a barrier was taken, or a task went away. */
  changed(): void;
  /** A task stopped before a handed-over record was durable: move again from the committed offset. */
  lost(): void;
  now?: (() => number) | undefined;
  /**
   * Handed-over records not yet durable, all ingress partitions of the process together: when it
   * is used up, a lane in hand-over holds its records (the ingress partition pauses once it holds
   * its bound) until the tasks' checkpoints give room back.
   */
  budget?: ProcessBudget | undefined;
  /**
   * Records a lane holds behind hand-overs that are not settled yet wait at most this long
   * (default 30 s); then the lanes report `lost` (the ingress restarts from its committed offset,
   * which is always safe) after `stuck` says which lanes waited.
   */
  maxSettleMs?: number | undefined;
  stuck?: ((lanes: { partition: number; inFlight: number; held: number }[]) => void) | undefined;
}

export interface HandOffStats {
  handedOver: number;
  barriers: number;
  /** Records a task refused (its address's mailbox was full): appended instead. */
  refused: number;
  /** Times a lane held its records because the process's hand-over budget was used up. */
  budgetWaits: number;
}

type LaneState =
  /** No task here: append. */
  | 'append'
  /** The task runs here: records wait, and a barrier goes behind what this batch appended. */
  | 'barrier-next'
  /** The barrier is written: records wait here until the task has taken it. */
  | 'awaiting'
  | 'handoff';

export interface Lane {
  partition: number;
  state: LaneState;
  target: HandOffTarget | undefined;
  token: string | undefined;
  /** Records held (awaiting the barrier, or the settling of earlier hand-overs), in order. */
  waiting: { record: OutRecord; offset: number }[];
  /**
   * Records handed over to `target` whose checkpoint has not committed yet. While there are any,
   * no later record of this lane goes anywhere else (the log, another task): if one of them is
   * lost it is moved again after a restart, and an address drops a record from a source offset
   * below one it already took as a repeat. Later records wait until these are durable.
   */
  inFlight: number;
  /** When the lane began holding records behind `inFlight` ones (undefined while it does not). */
  settlingSince: number | undefined;
}

export class HandOffLanes {
  readonly stats: HandOffStats = { handedOver: 0, barriers: 0, refused: 0, budgetWaits: 0 };
  private readonly lanes = new Map<number, Lane>();
  private readonly pending = new PendingOffsets();
  private barrierSeq = 0;
  private settleTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private waitingTotal = 0;
  /** Registered with the budget while a lane holds records for want of it. */
  private readonly onRoom = (): void => {
    if (!this.closed) this.opts.changed();
  };

  constructor(private readonly opts: HandOffLanesOptions) {}

  /** Records held or handed over and not yet durable. */
  get pendingCount(): number {
    return this.pending.count;
  }

  /**
   * Records held here waiting for a barrier (the ingress bounds these; handed-over ones are
   * bounded by the tasks, which refuse past their limit).
   */
  get waitingCount(): number {
    return this.waitingTotal;
  }

  /** The lowest ingress offset not yet durable; undefined when every record is. */
  lowestPending(): number | undefined {
    return this.pending.lowest();
  }

  /** True when a lane holds records it could now release or must re-route. */
  get hasWaiting(): boolean {
    for (const lane of this.lanes.values()) if (lane.waiting.length > 0) return true;
    return false;
  }

  /** No more hand-overs; late settlements are ignored (they still give the budget back). */
  close(): void {
    this.closed = true;
    if (this.settleTimer !== undefined) clearTimeout(this.settleTimer);
    this.settleTimer = undefined;
    this.opts.budget?.forget(this.onRoom);
  }

  /** A ticket's first settlement (see LaneTicket). */
  settle(lane: Lane, offset: number, durable: boolean): void {
    this.opts.budget?.release(1);
    if (durable) {
      this.pending.remove(offset);
      lane.inFlight--;
      settled(lane);
      if (!this.closed) this.opts.changed();
      // A lost one keeps its lane held: the ingress restarts from its committed offset.
    } else if (!this.closed) this.opts.lost();
  }

  /**
   * Moves records held by lanes whose barrier was taken (or whose task went away) on: handed over,
   * or appended to `out`.
   */
  release(out: OutRecord[]): void {
    for (const lane of this.lanes.values()) {
      if (lane.waiting.length === 0) continue;
      const target = this.opts.target(lane.partition);
      if (lane.inFlight > 0) {
        // Only the task the earlier records went to may take these, in order, meanwhile.
        if (target !== lane.target || target === undefined || lane.state !== 'handoff') continue;
      } else if (lane.state === 'awaiting' && target === lane.target && target !== undefined) continue;
      // Held for want of budget: they wait until the budget has room again (onRoom).
      const budget = this.opts.budget;
      if (lane.state === 'handoff' && target === lane.target && budget !== undefined && !budget.hasRoom()) {
        budget.whenRoom(this.onRoom);
        continue;
      }
      const waiting = lane.waiting;
      lane.waiting = [];
      this.waitingTotal -= waiting.length;
      let i = 0;
      while (i < waiting.length) {
        const w = waiting[i++]!;
        // Routed first, released after: its offset stays pending throughout (the order of
        // PendingOffsets relies on offsets never coming back once gone).
        this.route(w.record, w.offset, out);
        this.pending.remove(w.offset);
        // Held again (a new barrier, the budget ran out, its task still full): the rest would be
        // held behind it; they stay as they are, in order and pending, instead of being routed
        // one by one each time.
        if (lane.waiting.length > 0) break;
      }
      this.waitingTotal += waiting.length - i;
      for (; i < waiting.length; i++) lane.waiting.push(waiting[i]!);
      settled(lane);
    }
  }

  /** Routes one internal record of ingress offset `offset`: handed over, held, or into `out`. */
  route(record: OutRecord, offset: number, out: OutRecord[]): void {
    const p = record.partition!;
    let lane = this.lanes.get(p);
    if (lane === undefined) {
      lane = {
        partition: p,
        state: 'append',
        target: undefined,
        token: undefined,
        waiting: [],
        inFlight: 0,
        settlingSince: undefined,
      };
      this.lanes.set(p, lane);
    }
    const target = this.opts.target(p);
    if (lane.inFlight > 0 && (target !== lane.target || lane.waiting.length > 0)) {
      // Earlier records of this lane are with a task that has not made them durable (it may have
      // stopped): nothing later may overtake them. Held until they settle, or the ingress restarts.
      this.holdSettling(lane, record, offset);
      return;
    }
    if (target === undefined) {
      lane.state = 'append';
      lane.target = undefined;
      lane.token = undefined;
      out.push(record);
      return;
    }
    if (target !== lane.target) {
      // A task here now (or a new one): whatever this ingress appended for it goes before the
      // barrier written at the end of this batch; from here on its records wait for that barrier.
      lane.target = target;
      lane.token = undefined;
      lane.state = 'barrier-next';
    }
    switch (lane.state) {
      case 'append':
        lane.state = 'barrier-next';
        this.hold(lane, record, offset);
        return;
      case 'barrier-next':
      case 'awaiting':
        this.hold(lane, record, offset);
        return;
      case 'handoff': {
        // Records held (for want of budget, or behind a refused one) go first, in order.
        if (lane.waiting.length > 0) {
          this.hold(lane, record, offset);
          return;
        }
        const budget = this.opts.budget;
        if (budget !== undefined && !budget.tryTake(1)) {
          this.stats.budgetWaits++;
          budget.whenRoom(this.onRoom);
          this.hold(lane, record, offset);
          return;
        }
        if (this.handOver(lane, target, record, offset)) return;
        budget?.release(1);
        // Its mailbox is full. Records handed over before it are not durable yet: it waits for
        // them (appended now, it could overtake one of them that is lost and moved again).
        if (lane.inFlight > 0) {
          this.holdSettling(lane, record, offset);
          return;
        }
        // Back to the log, which has backpressure, and a new barrier.
        this.stats.refused++;
        lane.state = 'barrier-next';
        out.push(record);
        return;
      }
    }
  }

  /** After a batch is routed: a barrier behind the records each switching lane appended. */
  barriers(out: OutRecord[]): void {
    for (const lane of this.lanes.values()) {
      if (lane.state !== 'barrier-next' || lane.target === undefined) continue;
      const token = `${this.opts.laneId}#${++this.barrierSeq}`;
      const target = lane.target;
      lane.state = 'awaiting';
      lane.token = token;
      this.stats.barriers++;
      out.push(barrierRecord(this.opts.internalTopic, lane.partition, token, (this.opts.now ?? Date.now)()));
      target.expectBarrier(this.opts.laneId, token, {
        seen: () => {
          if (this.closed || lane.token !== token || lane.target !== target) return;
          lane.state = 'handoff';
          this.opts.changed();
        },
        // The task stopped first: what waits is routed again (appended, or to its successor).
        gone: () => {
          if (!this.closed) this.opts.changed();
        },
      });
    }
  }

  /** Holds a record behind hand-overs of its lane that have not settled; they get `maxSettleMs`. */
  private holdSettling(lane: Lane, record: OutRecord, offset: number): void {
    this.hold(lane, record, offset);
    if (lane.settlingSince !== undefined) return;
    lane.settlingSince = (this.opts.now ?? Date.now)();
    this.watchSettling();
  }

  private watchSettling(): void {
    if (this.settleTimer !== undefined || this.closed) return;
    const max = this.opts.maxSettleMs ?? 30_000;
    this.settleTimer = setTimeout(() => {
      this.settleTimer = undefined;
      if (this.closed) return;
      const now = (this.opts.now ?? Date.now)();
      let settling = false;
      const stuck: { partition: number; inFlight: number; held: number }[] = [];
      for (const lane of this.lanes.values()) {
        settled(lane);
        if (lane.settlingSince === undefined) continue;
        settling = true;
        if (now - lane.settlingSince >= max)
          stuck.push({ partition: lane.partition, inFlight: lane.inFlight, held: lane.waiting.length });
      }
      if (stuck.length > 0) {
        this.opts.stuck?.(stuck);
        this.opts.lost();
      } else if (settling) this.watchSettling();
    }, max);
    this.settleTimer.unref?.();
  }

  private hold(lane: Lane, record: OutRecord, offset: number): void {
    this.pending.add(offset);
    lane.waiting.push({ record, offset });
    this.waitingTotal++;
  }

  private handOver(lane: Lane, target: HandOffTarget, record: OutRecord, offset: number): boolean {
    this.pending.add(offset);
    lane.inFlight++;
    const ticket = new LaneTicket(this, lane, offset);
    const taken = target.takeFromIngress(
      {
        topic: record.topic,
        partition: record.partition!,
        offset: -1,
        key: record.key,
        value: record.value,
        headers: record.headers ?? {},
        timestamp: record.timestamp ?? (this.opts.now ?? Date.now)(),
        envelope: (record as Partial<EncodedRecord>).envelope,
      },
      ticket,
    );
    if (taken) this.stats.handedOver++;
    else {
      this.pending.remove(offset);
      lane.inFlight--;
    }
    return taken;
  }
}

/**
 * The ticket of one handed-over record: a single small object (tens of thousands may be in flight),
 * whose first settlement wins — a durable after lost, or the reverse, is ignored.
 */
class LaneTicket implements HandOffTicket {
  private settled = false;

  constructor(
    private readonly lanes: HandOffLanes,
    private readonly lane: Lane,
    private readonly offset: number,
  ) {}

  durable(): void {
    if (this.settled) return;
    this.settled = true;
    this.lanes.settle(this.lane, this.offset, true);
  }

  lost(): void {
    if (this.settled) return;
    this.settled = true;
    this.lanes.settle(this.lane, this.offset, false);
  }
}

/** Ingress offsets with records not yet durable (added in non-decreasing order). */
export class PendingOffsets {
  private readonly counts = new Map<number, number>();
  private order: number[] = [];
  private head = 0;
  private total = 0;

  get count(): number {
    return this.total;
  }

  add(offset: number): void {
    this.total++;
    const c = this.counts.get(offset);
    if (c === undefined) {
      this.counts.set(offset, 1);
      this.order.push(offset);
    } else this.counts.set(offset, c + 1);
  }

  remove(offset: number): void {
    const c = this.counts.get(offset);
    if (c === undefined) return;
    this.total--;
    if (c <= 1) this.counts.delete(offset);
    else this.counts.set(offset, c - 1);
  }

  lowest(): number | undefined {
    while (this.head < this.order.length && !this.counts.has(this.order[this.head]!)) this.head++;
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
    return this.order[this.head];
  }
}

/** A lane with nothing in flight or nothing held behind it is no longer settling. */
function settled(lane: Lane): void {
  if (lane.inFlight === 0 || lane.waiting.length === 0) lane.settlingSince = undefined;
}
