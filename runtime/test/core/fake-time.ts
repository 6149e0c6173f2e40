// Fake time for tests of the core: a clock and a Scheduler whose delays run only when the test
// advances the clock, so a test shows that something did not happen by moving past its time
// instead of sleeping. `soon` callbacks run on the real event loop unless `manualSoon` is set.
import type { Cancel, Scheduler } from '../../src/core/scheduler.js';

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
}

export class FakeTime implements Scheduler {
  private current: number;
  private seq = 0;
  private timers: Pending[] = [];
  private soonQueue: Pending[] = [];

  constructor(
    start = 1_000_000,
    private readonly opts: { manualSoon?: boolean } = {},
  ) {
    this.current = start;
  }

  readonly now = (): number => this.current;

  after(ms: number, fn: () => void): Cancel {
    const entry: Pending = { at: this.current + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.push(entry);
    return () => {
      this.timers = this.timers.filter((t) => t !== entry);
    };
  }

  soon(fn: () => void): Cancel {
    if (this.opts.manualSoon !== true) {
      const t = setImmediate(fn);
      return () => clearImmediate(t);
    }
    const entry: Pending = { at: this.current, seq: this.seq++, fn };
    this.soonQueue.push(entry);
    return () => {
      this.soonQueue = this.soonQueue.filter((t) => t !== entry);
    };
  }

  /** Delayed callbacks waiting for the clock. */
  get pendingTimers(): number {
    return this.timers.length;
  }

  /** `soon` callbacks waiting (manualSoon only). */
  get pendingSoon(): number {
    return this.soonQueue.length;
  }

  /** Runs the queued `soon` callbacks (and those they queue), at most `max` of them. */
  runSoon(max = 10_000): number {
    let n = 0;
    while (this.soonQueue.length > 0 && n < max) {
      this.soonQueue.shift()!.fn();
      n++;
    }
    return n;
  }

  /**
   * Moves the clock forward by `ms`, running every delayed callback that falls due on the way, in
   * time order, with the clock at its due time; promises settle between callbacks.
   */
  async advance(ms: number): Promise<void> {
    const end = this.current + ms;
    for (let guard = 0; guard < 100_000; guard++) {
      await settle();
      this.runSoon();
      const next = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (next === undefined) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.current = Math.max(this.current, next.at);
      next.fn();
    }
    this.current = end;
    await settle();
    this.runSoon();
  }
}

/** Lets pending promise callbacks and I/O callbacks of the real event loop run. */
export async function settle(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((r) => setImmediate(r));
}
