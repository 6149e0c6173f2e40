// A min-heap of pending timers by fire time, with removal by id: the in-memory view of a
// partition's delayed messages (committed ones loaded at recovery plus those added since).
import type { StoredTimer } from '../state/state-store.js';

export class TimerQueue {
  private heap: StoredTimer[] = [];
  private readonly byId = new Map<string, StoredTimer>();

  get size(): number {
    return this.byId.size;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Live timers that match `filter`, in no particular order (admin inspection). */
  list(filter: (t: StoredTimer) => boolean): StoredTimer[] {
    return [...this.byId.values()].filter(filter);
  }

  add(t: StoredTimer): void {
    this.byId.set(t.id, t);
    this.heap.push(t);
    this.up(this.heap.length - 1);
  }

  /** Removes a timer; its heap entry is dropped lazily when it reaches the top. */
  remove(id: string): boolean {
    return this.byId.delete(id);
  }

  /** Earliest live fire time, or undefined. */
  peekTime(): number | undefined {
    this.dropDead();
    return this.heap[0]?.fireAt;
  }

  /** Removes and returns the timers due at `now`, earliest first, at most `max`. */
  popDue(now: number, max: number): StoredTimer[] {
    const out: StoredTimer[] = [];
    while (out.length < max) {
      this.dropDead();
      const top = this.heap[0];
      if (top === undefined || top.fireAt > now) break;
      this.pop();
      this.byId.delete(top.id);
      out.push(top);
    }
    return out;
  }

  private dropDead(): void {
    while (this.heap.length > 0 && this.byId.get(this.heap[0]!.id) !== this.heap[0]) this.pop();
  }

  private pop(): void {
    const last = this.heap.pop()!;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.down(0);
    }
  }

  private less(a: StoredTimer, b: StoredTimer): boolean {
    return a.fireAt < b.fireAt || (a.fireAt === b.fireAt && a.id < b.id);
  }

  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}
