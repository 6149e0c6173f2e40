import { afterEach, describe, expect, it, vi } from 'vitest';
import { Header } from '../../src/core/envelope.js';
import type { BarrierWaiter, HandOffTarget, HandOffTicket } from '../../src/core/ingress-handoff.js';
import type { LogRecord, OutRecord } from '../../src/log/log.js';
import { HandOffLanes, PendingOffsets } from '../../src/ingress/handoff-lanes.js';
import { ProcessBudget } from '../../src/core/process-budget.js';

/** A task that takes what it is given (unless told to refuse) and keeps the barrier waiters. */
class FakeTarget implements HandOffTarget {
  readonly taken: { record: LogRecord; ticket: HandOffTicket }[] = [];
  readonly waiters = new Map<string, { token: string; waiter: BarrierWaiter }>();
  refuse = false;
  takeFromIngress(record: LogRecord, ticket: HandOffTicket): boolean {
    if (this.refuse) return false;
    this.taken.push({ record, ticket });
    return true;
  }
  expectBarrier(lane: string, token: string, waiter: BarrierWaiter): void {
    this.waiters.set(lane, { token, waiter });
  }
  /** The task reads the barrier with `token` from its log. */
  read(token: string): void {
    for (const w of this.waiters.values()) if (w.token === token) w.waiter.seen();
  }
}

const rec = (partition: number, n: number): OutRecord => ({
  topic: 'internal',
  partition,
  key: `k${n}`,
  value: new Uint8Array([n]),
  headers: {},
});
const barrierOf = (out: readonly OutRecord[]): string[] =>
  out.filter((r) => r.headers?.[Header.barrier] !== undefined).map((r) => r.headers![Header.barrier]!);
const values = (out: readonly OutRecord[]): number[] =>
  out.filter((r) => r.value !== null).map((r) => r.value![0]!);

function setup(budget?: ProcessBudget, laneId = 'in|t|0|1') {
  const targets = new Map<number, FakeTarget>();
  const events: string[] = [];
  const lanes = new HandOffLanes({
    internalTopic: 'internal',
    laneId,
    target: (p) => targets.get(p),
    changed: () => void events.push('changed'),
    lost: () => void events.push('lost'),
    now: () => 0,
    budget,
  });
  return { targets, events, lanes };
}

/** A task here for partition `p` that took its barrier, with record 1 (offset 10) handed over. */
function handingOver(targets: Map<number, FakeTarget>, lanes: HandOffLanes, p = 0): FakeTarget {
  const task = new FakeTarget();
  targets.set(p, task);
  const out: OutRecord[] = [];
  lanes.route(rec(p, 1), 10, out);
  lanes.barriers(out);
  task.read(barrierOf(out)[0]!);
  lanes.release([]);
  return task;
}

/** Lanes with a settle limit, on the real clock (the tests fake it). */
function settling(stuck?: (lanes: { partition: number; inFlight: number; held: number }[]) => void) {
  const targets = new Map<number, FakeTarget>();
  const events: string[] = [];
  const lanes = new HandOffLanes({
    internalTopic: 'internal',
    laneId: 'in|t|0|1',
    target: (p) => targets.get(p),
    changed: () => void events.push('changed'),
    lost: () => void events.push('lost'),
    maxSettleMs: 1000,
    stuck,
  });
  return { targets, events, lanes };
}

/** Lanes whose task runs here and has taken their barrier: the next records are handed over. */
function openLane(budget: ProcessBudget, laneId: string) {
  const s = setup(budget, laneId);
  const task = new FakeTarget();
  s.targets.set(0, task);
  const out: OutRecord[] = [];
  s.lanes.barriers(out);
  s.lanes.route(rec(0, 0), 0, out);
  s.lanes.barriers(out);
  task.read(barrierOf(out)[0]!);
  s.lanes.release([]);
  return { ...s, task };
}

describe('ingress hand-off lanes', () => {
  it('appends while the partition runs elsewhere; never writes a barrier there', () => {
    const { lanes } = setup();
    const out: OutRecord[] = [];
    lanes.route(rec(0, 1), 10, out);
    lanes.route(rec(0, 2), 11, out);
    lanes.barriers(out);
    expect(values(out)).toEqual([1, 2]);
    expect(barrierOf(out)).toEqual([]);
    expect(lanes.lowestPending()).toBeUndefined();
  });

  it('a task here: its records wait behind a barrier and are handed over, in order, once the task took it', () => {
    const { targets, lanes, events } = setup();
    const task = new FakeTarget();
    targets.set(0, task);
    const first: OutRecord[] = [];
    lanes.route(rec(0, 1), 10, first);
    lanes.barriers(first);
    // Nothing appended: only the barrier goes to the log.
    expect(values(first)).toEqual([]);
    const [token] = barrierOf(first);
    expect(token).toBeDefined();
    const second: OutRecord[] = [];
    lanes.route(rec(0, 2), 11, second);
    lanes.route(rec(0, 3), 12, second);
    lanes.barriers(second);
    expect(second).toEqual([]);
    // Waiting records hold the committed offset back, and count against the ingress's bound.
    expect(lanes.lowestPending()).toBe(10);
    expect(lanes.waitingCount).toBe(3);
    task.read(token!);
    expect(events).toEqual(['changed']);
    const third: OutRecord[] = [];
    lanes.release(third);
    lanes.route(rec(0, 4), 13, third);
    expect(third).toEqual([]);
    expect(task.taken.map((t) => t.record.value![0])).toEqual([1, 2, 3, 4]);
    expect(task.taken.every((t) => t.record.offset === -1)).toBe(true);
    expect(lanes.waitingCount).toBe(0);
    expect(lanes.pendingCount).toBe(4);
    // Durable out of order: the committed offset may pass only what all before it are.
    task.taken[1]!.ticket.durable();
    expect(lanes.lowestPending()).toBe(10);
    task.taken[0]!.ticket.durable();
    expect(lanes.lowestPending()).toBe(12);
    task.taken[2]!.ticket.durable();
    task.taken[3]!.ticket.durable();
    expect(lanes.lowestPending()).toBeUndefined();
  });

  it('records appended while the partition ran elsewhere stay ahead of the barrier written when its task arrives here', () => {
    const { targets, lanes } = setup();
    const before: OutRecord[] = [];
    lanes.route(rec(0, 1), 10, before);
    lanes.barriers(before);
    expect(values(before)).toEqual([1]);
    targets.set(0, new FakeTarget());
    const after: OutRecord[] = [];
    lanes.route(rec(0, 2), 11, after);
    lanes.barriers(after);
    expect(values(after)).toEqual([]);
    expect(barrierOf(after)).toHaveLength(1);
    expect(lanes.lowestPending()).toBe(11);
  });

  it('a refused record waits for the records handed over before it, then goes to the log behind a new barrier', () => {
    const { targets, lanes } = setup();
    const task = new FakeTarget();
    targets.set(0, task);
    const out: OutRecord[] = [];
    lanes.route(rec(0, 1), 10, out);
    lanes.barriers(out);
    const [old] = barrierOf(out);
    task.read(old!);
    lanes.release([]);
    expect(task.taken).toHaveLength(1);
    // Its mailbox is full while record 1 is not durable: appended now, record 2 could overtake
    // record 1 if that one is lost and moved again. It waits, and so does record 3.
    task.refuse = true;
    const next: OutRecord[] = [];
    lanes.route(rec(0, 2), 11, next);
    lanes.route(rec(0, 3), 12, next);
    lanes.barriers(next);
    expect(next).toEqual([]);
    expect(lanes.waitingCount).toBe(2);
    expect(lanes.stats.refused).toBe(0);
    lanes.release(next);
    expect(next).toEqual([]);
    // Record 1 is durable: still refused, record 2 goes to the log and the lane needs a new barrier.
    task.taken[0]!.ticket.durable();
    lanes.release(next);
    lanes.barriers(next);
    const [fresh] = barrierOf(next);
    expect(values(next)).toEqual([2]);
    expect(next[next.length - 1]!.headers![Header.barrier]).toBe(fresh);
    expect(fresh).not.toBe(old);
    expect(lanes.stats.refused).toBe(1);
    task.refuse = false;
    task.read(old!); // a stale token: still waiting
    lanes.release([]);
    expect(task.taken).toHaveLength(1);
    task.read(fresh!);
    lanes.release([]);
    expect(task.taken.map((t) => t.record.value![0])).toEqual([1, 3]);
  });

  it('a refused record is handed over once its task has room again, in order, without the log', () => {
    const { targets, lanes } = setup();
    const task = handingOver(targets, lanes);
    task.refuse = true;
    const next: OutRecord[] = [];
    lanes.route(rec(0, 2), 11, next);
    lanes.route(rec(0, 3), 12, next);
    task.refuse = false;
    lanes.route(rec(0, 4), 13, next); // behind the held ones, though the task has room now
    lanes.release(next);
    lanes.barriers(next);
    expect(next).toEqual([]);
    expect(task.taken.map((t) => t.record.value![0])).toEqual([1, 2, 3, 4]);
    expect(lanes.waitingCount).toBe(0);
  });

  it('records after ones a stopped task holds wait until those are durable; then they go to the log', () => {
    const { targets, lanes } = setup();
    const task = handingOver(targets, lanes);
    lanes.route(rec(0, 2), 11, []);
    // The task stops (its partition moved) while its last checkpoint still commits.
    targets.delete(0);
    const later: OutRecord[] = [];
    lanes.route(rec(0, 3), 12, later);
    lanes.release(later);
    lanes.barriers(later);
    expect(later).toEqual([]);
    expect(lanes.lowestPending()).toBe(10);
    task.taken[0]!.ticket.durable();
    lanes.release(later);
    expect(later).toEqual([]);
    task.taken[1]!.ticket.durable();
    lanes.release(later);
    lanes.barriers(later);
    expect(values(later)).toEqual([3]);
    expect(barrierOf(later)).toEqual([]);
    expect(lanes.lowestPending()).toBeUndefined();
  });

  it('records after ones a failed task lost are neither appended nor handed to its successor', () => {
    const { targets, lanes, events } = setup();
    const task = handingOver(targets, lanes);
    // The task failed (its checkpoint did not commit); a successor runs the partition here.
    const successor = new FakeTarget();
    targets.set(0, successor);
    const later: OutRecord[] = [];
    lanes.route(rec(0, 2), 11, later);
    lanes.barriers(later);
    expect(later).toEqual([]);
    task.taken[0]!.ticket.lost();
    expect(events).toContain('lost');
    lanes.release(later);
    lanes.barriers(later);
    // Held until the ingress restarts from its committed offset (10), which moves 1 and 2 again.
    expect(later).toEqual([]);
    expect(successor.taken).toEqual([]);
    expect(lanes.lowestPending()).toBe(10);
  });

  it('records waiting for the barrier of a task that went away are appended for its successor', () => {
    const { targets, lanes } = setup();
    targets.set(0, new FakeTarget());
    const out: OutRecord[] = [];
    lanes.route(rec(0, 1), 10, out);
    lanes.barriers(out);
    lanes.route(rec(0, 2), 11, out);
    expect(lanes.lowestPending()).toBe(10);
    targets.delete(0);
    const again: OutRecord[] = [];
    lanes.release(again);
    lanes.barriers(again);
    expect(values(again)).toEqual([1, 2]);
    expect(barrierOf(again)).toEqual([]);
    expect(lanes.lowestPending()).toBeUndefined();
  });

  it('a lost ticket asks for a restart; after close nothing is reported', () => {
    const { targets, lanes, events } = setup();
    const task = handingOver(targets, lanes);
    lanes.route(rec(0, 2), 11, []);
    lanes.route(rec(0, 3), 12, []);
    task.taken[1]!.ticket.durable();
    task.taken[0]!.ticket.lost();
    task.taken[0]!.ticket.durable(); // settled already: ignored
    expect(events.filter((e) => e === 'lost')).toHaveLength(1);
    expect(lanes.lowestPending()).toBe(10);
    lanes.close();
    task.taken[2]!.ticket.lost();
    expect(events.filter((e) => e === 'lost')).toHaveLength(1);
  });
});

describe('the process hand-over budget', () => {
  it('ingress partitions share it: past it a lane holds its records, in order and pending, until settled tickets give room back', () => {
    const budget = new ProcessBudget('CONTINUUM_MAX_HANDED_OVER_RECORDS', 4);
    const one = openLane(budget, 'in|t|0|1');
    const two = openLane(budget, 'in|t|1|1');
    // Each lane handed its first record over: 2 of 4 in use.
    expect(budget.inUse).toBe(2);
    one.lanes.route(rec(0, 1), 1, []);
    two.lanes.route(rec(0, 2), 1, []);
    // The budget is used up: the next records wait in their lane, nothing is appended.
    const out: OutRecord[] = [];
    one.lanes.route(rec(0, 3), 2, out);
    one.lanes.route(rec(0, 4), 3, out);
    one.lanes.barriers(out);
    expect(out).toEqual([]);
    expect(one.task.taken.map((t) => t.record.value![0])).toEqual([0, 1]);
    expect(one.lanes.waitingCount).toBe(2);
    expect(one.lanes.lowestPending()).toBe(0);
    // Still no room: a release keeps them waiting.
    one.lanes.release(out);
    expect(one.lanes.waitingCount).toBe(2);
    // Two tickets of the other partition become durable: the use falls to half, the waiting lane
    // is told, and its records go over in order.
    const before = one.events.length;
    two.task.taken[0]!.ticket.durable();
    two.task.taken[1]!.ticket.durable();
    two.task.taken[1]!.ticket.lost(); // settled already: gives nothing back twice
    expect(budget.inUse).toBe(2);
    expect(one.events.slice(before)).toContain('changed');
    one.lanes.release(out);
    expect(out).toEqual([]);
    expect(one.task.taken.map((t) => t.record.value![0])).toEqual([0, 1, 3, 4]);
    expect(budget.inUse).toBe(4);
  });

  it('room for some of the held records: those go over, the rest keep their order and count', () => {
    const budget = new ProcessBudget('CONTINUUM_MAX_HANDED_OVER_RECORDS', 4);
    const one = openLane(budget, 'in|t|0|1');
    const two = openLane(budget, 'in|t|1|1');
    two.lanes.route(rec(0, 9), 1, []);
    two.lanes.route(rec(0, 9), 2, []); // 4 of 4 in use
    for (let n = 3; n <= 7; n++) one.lanes.route(rec(0, n), n, []);
    expect(one.lanes.waitingCount).toBe(5);
    two.task.taken[0]!.ticket.durable();
    two.task.taken[1]!.ticket.durable(); // 2 of 4: room for two
    one.lanes.release([]);
    expect(one.task.taken.map((t) => t.record.value![0])).toEqual([0, 3, 4]);
    expect(one.lanes.waitingCount).toBe(3);
    expect(one.lanes.lowestPending()).toBe(0);
    for (const t of [...one.task.taken, ...two.task.taken]) t.ticket.durable();
    one.lanes.release([]);
    expect(one.task.taken.map((t) => t.record.value![0])).toEqual([0, 3, 4, 5, 6, 7]);
    expect(one.lanes.waitingCount).toBe(0);
    expect(one.lanes.lowestPending()).toBe(5);
  });

  it('a lane that found no room when it was woken is woken again when there is', () => {
    const budget = new ProcessBudget('CONTINUUM_MAX_HANDED_OVER_RECORDS', 2);
    const one = openLane(budget, 'in|t|0|1');
    const two = openLane(budget, 'in|t|1|1');
    one.lanes.route(rec(0, 1), 1, []); // waits: 2 of 2 in use
    expect(one.lanes.waitingCount).toBe(1);
    one.task.taken[0]!.ticket.durable();
    two.task.taken[0]!.ticket.durable(); // room: `one` is told...
    expect(one.events.at(-1)).toBe('changed');
    // ...but the other partition takes the room before `one` comes to release.
    two.lanes.route(rec(0, 2), 1, []);
    two.lanes.route(rec(0, 3), 2, []);
    expect(budget.inUse).toBe(2);
    const before = one.events.length;
    one.lanes.release([]);
    expect(one.lanes.waitingCount).toBe(1);
    two.task.taken[1]!.ticket.durable();
    two.task.taken[2]!.ticket.durable();
    expect(one.events.slice(before)).toContain('changed');
    one.lanes.release([]);
    expect(one.task.taken.map((t) => t.record.value![0])).toEqual([0, 1]);
  });

  it('a ticket settled after its lane closed still gives its unit back', () => {
    const budget = new ProcessBudget('CONTINUUM_MAX_HANDED_OVER_RECORDS', 10);
    const { lanes, task } = openLane(budget, 'in|t|0|1');
    lanes.route(rec(0, 1), 1, []);
    expect(budget.inUse).toBe(2);
    lanes.close();
    task.taken[0]!.ticket.lost();
    task.taken[1]!.ticket.durable();
    expect(budget.inUse).toBe(0);
  });
});

describe('ingress hand-off lanes: settling in time', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('records held behind hand-overs that never settle ask for a restart after maxSettleMs, saying which lanes', () => {
    vi.useFakeTimers();
    const stuck: { partition: number; inFlight: number; held: number }[][] = [];
    const { targets, events, lanes } = settling((l) => void stuck.push(l));
    handingOver(targets, lanes, 3);
    targets.delete(3);
    lanes.route(rec(3, 2), 11, []);
    vi.advanceTimersByTime(999);
    expect(events).not.toContain('lost');
    vi.advanceTimersByTime(1);
    expect(events).toContain('lost');
    expect(stuck).toEqual([[{ partition: 3, inFlight: 1, held: 1 }]]);
  });

  it('no restart when the held records settle in time, and a later hold gets its own full wait', () => {
    vi.useFakeTimers();
    const { targets, events, lanes } = settling();
    const task = handingOver(targets, lanes);
    task.refuse = true;
    lanes.route(rec(0, 2), 11, []);
    vi.advanceTimersByTime(600);
    task.refuse = false;
    task.taken[0]!.ticket.durable();
    lanes.release([]);
    expect(task.taken).toHaveLength(2);
    task.refuse = true;
    vi.advanceTimersByTime(600);
    lanes.route(rec(0, 3), 12, []); // held behind record 2 from here
    vi.advanceTimersByTime(900);
    expect(events).not.toContain('lost');
    vi.advanceTimersByTime(1000);
    expect(events).toContain('lost');
  });
});

describe('pending offsets', () => {
  it('the lowest offset with a record not yet durable, counting records per offset', () => {
    const p = new PendingOffsets();
    p.add(5);
    p.add(5); // two targets of one record
    p.add(7);
    expect(p.lowest()).toBe(5);
    expect(p.count).toBe(3);
    p.remove(5);
    expect(p.lowest()).toBe(5);
    p.remove(5);
    expect(p.lowest()).toBe(7);
    p.remove(7);
    expect(p.lowest()).toBeUndefined();
    expect(p.count).toBe(0);
    for (let i = 0; i < 5000; i++) p.add(100 + i);
    for (let i = 0; i < 4999; i++) p.remove(100 + i);
    expect(p.lowest()).toBe(5099);
  });
});
