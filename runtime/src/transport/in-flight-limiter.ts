// Caps concurrent calls: up to `maxInFlight` run, up to `maxQueued` more wait in FIFO order, and
// anyone past that is refused at once so the caller backs off instead of piling up promises.

/** Returned by {@link InFlightLimiter.acquire}; call exactly once to free the slot. */
export type Release = () => void;

interface Waiter {
  resolve: (release: Release) => void;
  reject: (err: Error) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  /** `performance.now()` when it started waiting. */
  since: number;
}

/** Thrown by `acquire` when both the slots and the queue are full. */
export class LimiterFullError extends Error {
  constructor(
    readonly maxInFlight: number,
    readonly maxQueued: number,
  ) {
    super(`all ${maxInFlight} in-flight slots are taken and ${maxQueued} callers already wait`);
    this.name = 'LimiterFullError';
  }
}

/** A counting semaphore with a bounded, abortable wait queue. */
export class InFlightLimiter {
  private running = 0;
  private nextId = 0;
  /** When a call last ended, or the first call started after none ran (`performance.now()`). */
  private progressAt = 0;
  // Map keeps insertion order (FIFO) and removes aborted waiters in O(1).
  private readonly waiters = new Map<number, Waiter>();

  constructor(
    readonly maxInFlight: number,
    readonly maxQueued: number,
  ) {
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1)
      throw new RangeError(`maxInFlight must be an integer >= 1, got ${maxInFlight}`);
    if (!Number.isInteger(maxQueued) || maxQueued < 0)
      throw new RangeError(`maxQueued must be an integer >= 0, got ${maxQueued}`);
  }

  /** Calls holding a slot. */
  get inFlight(): number {
    return this.running;
  }

  /** Callers waiting for a slot. */
  get queued(): number {
    return this.waiters.size;
  }

  /** How long the longest waiting caller has waited, in ms (0 when nobody waits). */
  oldestWaitMs(now: number = performance.now()): number {
    const first = this.waiters.values().next();
    return first.done === true ? 0 : Math.max(0, now - first.value.since);
  }

  /** How long calls have been running with none ending, in ms (0 when none runs). */
  noAnswerMs(now: number = performance.now()): number {
    return this.running === 0 ? 0 : Math.max(0, now - this.progressAt);
  }

  /** True when nothing runs and nobody waits. */
  get idle(): boolean {
    return this.running === 0 && this.waiters.size === 0;
  }

  /**
   * Takes a slot, waiting in line if none is free. Rejects with {@link LimiterFullError} when the
   * line is full, or with the signal's reason when it aborts while waiting.
   */
  acquire(signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (this.running < this.maxInFlight && this.waiters.size === 0) {
      if (this.running === 0) this.progressAt = performance.now();
      this.running++;
      return Promise.resolve(this.releaser());
    }
    if (this.waiters.size >= this.maxQueued)
      return Promise.reject(new LimiterFullError(this.maxInFlight, this.maxQueued));
    return new Promise<Release>((resolve, reject) => {
      const id = this.nextId++;
      const waiter: Waiter = { resolve, reject, signal, onAbort: undefined, since: performance.now() };
      if (signal !== undefined) {
        waiter.onAbort = () => {
          this.waiters.delete(id);
          reject(abortError(signal));
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.waiters.set(id, waiter);
    });
  }

  /** Rejects every waiting caller with `err` (used on shutdown); running calls keep their slots. */
  rejectWaiting(err: Error): void {
    for (const [id, waiter] of this.waiters) {
      this.waiters.delete(id);
      this.detach(waiter);
      waiter.reject(err);
    }
  }

  private releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      this.progressAt = performance.now();
      this.handOver();
    };
  }

  private handOver(): void {
    while (this.running < this.maxInFlight) {
      const next = this.waiters.entries().next();
      if (next.done === true) return;
      const [id, waiter] = next.value;
      this.waiters.delete(id);
      this.detach(waiter);
      this.running++;
      waiter.resolve(this.releaser());
    }
  }

  private detach(waiter: Waiter): void {
    if (waiter.signal !== undefined && waiter.onAbort !== undefined) {
      waiter.signal.removeEventListener('abort', waiter.onAbort);
    }
  }
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error
    ? signal.reason
    : new Error('aborted while waiting for an in-flight slot');
}
