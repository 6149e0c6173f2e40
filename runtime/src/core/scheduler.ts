// When the partition task's deferred work runs: timers, checkpoints, retries and the next turn of
// the event loop go through this seam, so tests can drive them on fake time. Real by default.

/** Cancels a scheduled callback; calling it after the callback ran does nothing. */
export type Cancel = () => void;

export interface Scheduler {
  /** Runs `fn` once after `ms` milliseconds. */
  after(ms: number, fn: () => void): Cancel;
  /** Runs `fn` once on the next turn of the event loop, after pending I/O callbacks. */
  soon(fn: () => void): Cancel;
}

/** The longest delay `setTimeout` honours; longer ones are clamped (and re-armed by the caller). */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export const realScheduler: Scheduler = {
  after(ms, fn) {
    const t = setTimeout(fn, Math.min(Math.max(0, ms), MAX_TIMEOUT_MS));
    return () => clearTimeout(t);
  },
  soon(fn) {
    const t = setImmediate(fn);
    return () => clearImmediate(t);
  },
};
