// Process-wide budgets: limits that the partition tasks (and ingress partitions) of one process
// share, so that what the process holds in memory is bounded per process, not per partition —
// a process that owns 32 partitions holds no more than one that owns 8.

/**
 * A count of units in use against a process-wide limit. Takers that were refused (or paused
 * themselves) register a waiter, called once when the use falls to half the limit.
 */
export class ProcessBudget {
  private used = 0;
  private readonly waiters = new Set<() => void>();

  constructor(
    /** Names the setting in errors and logs, e.g. `CONTINUUM_MAX_HANDED_OVER_RECORDS`. */
    readonly name: string,
    readonly limit: number,
  ) {
    if (!Number.isSafeInteger(limit) || limit < 1)
      throw new RangeError(`${name} must be a positive integer, not ${String(limit)}`);
  }

  get inUse(): number {
    return this.used;
  }

  /** True when `n` more fit (nothing is taken). */
  hasRoom(n = 1): boolean {
    return this.used + n <= this.limit;
  }

  /** Takes `n` units if they fit; false (nothing taken) if not. */
  tryTake(n = 1): boolean {
    if (this.used + n > this.limit) return false;
    this.used += n;
    return true;
  }

  /** Takes `n` units even past the limit (input already in memory that must be accounted for). */
  take(n: number): void {
    this.used += n;
  }

  /** Gives `n` units back; waiters run once the use is at half the limit or below. */
  release(n = 1): void {
    if (n <= 0) return;
    this.used = Math.max(0, this.used - n);
    if (this.waiters.size > 0 && this.used <= this.limit / 2) {
      const waiting = [...this.waiters];
      this.waiters.clear();
      for (const w of waiting) w();
    }
  }

  /**
   * Calls `waiter` once when the use falls to half the limit (one entry per waiter function:
   * bounded by the number of takers).
   */
  whenRoom(waiter: () => void): void {
    this.waiters.add(waiter);
  }

  /** Forgets a waiter (its taker stopped). */
  forget(waiter: () => void): void {
    this.waiters.delete(waiter);
  }
}

/**
 * Addresses whose state the partition tasks of a process keep in memory, all tasks together.
 * Each task counts its cached addresses here and, after each checkpoint, evicts its idle,
 * committed ones (least recently used first) while the process is over the limit.
 */
export class StateCacheBudget {
  private cached = 0;

  constructor(readonly limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 1)
      throw new RangeError(`the process state cache must hold at least 1 address, not ${String(limit)}`);
  }

  get size(): number {
    return this.cached;
  }

  /** Addresses over the limit (0 when within). */
  get excess(): number {
    return Math.max(0, this.cached - this.limit);
  }

  added(n = 1): void {
    this.cached += n;
  }

  removed(n = 1): void {
    this.cached = Math.max(0, this.cached - n);
  }
}
