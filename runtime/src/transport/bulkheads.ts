// Bulkheads: one in-flight limiter per function endpoint URL, so a slow or dead endpoint can use up
// only its own share of concurrent calls and wait queue, never the calls of other functions.

import { InFlightLimiter } from './in-flight-limiter.js';

/** Limits of one endpoint's bulkhead. */
export interface BulkheadLimits {
  /** Calls to the endpoint running at once. */
  maxInFlight: number;
  /** Calls allowed to wait for one of its slots; past this, calls are refused (overload). */
  maxQueued: number;
}

/** One endpoint's load, as `/v1/overview` and health show it. */
export interface BulkheadLoad {
  /** The endpoint URL (without user info). */
  url: string;
  inFlight: number;
  queued: number;
  maxInFlight: number;
  /** How long the longest waiting call has waited, in ms. */
  oldestWaitMs: number;
  /** How long calls have been running with none answered, in ms. */
  noAnswerMs: number;
}

/**
 * The bulkheads of a function client, keyed by endpoint URL (after `{function.name}` is
 * substituted, so a URL template serving many function types gives each type its own). Idle
 * bulkheads are forgotten once more than `maxIdle` exist; busy ones are bounded by the calls the
 * partition tasks make (at most one per address), so the map cannot grow without bound.
 */
export class Bulkheads {
  private readonly byUrl = new Map<string, InFlightLimiter>();

  constructor(
    private readonly defaults: BulkheadLimits,
    private readonly maxIdle = 1024,
  ) {}

  /** The bulkhead of `url`, created with `limits` (or the defaults) when it is new. */
  of(url: string, maxInFlight?: number): InFlightLimiter {
    let limiter = this.byUrl.get(url);
    const wanted = maxInFlight ?? this.defaults.maxInFlight;
    if (limiter !== undefined && (limiter.maxInFlight === wanted || !limiter.idle)) return limiter;
    if (limiter === undefined && this.byUrl.size >= this.maxIdle) this.forgetIdle();
    limiter = new InFlightLimiter(wanted, this.defaults.maxQueued);
    this.byUrl.set(url, limiter);
    return limiter;
  }

  /** Totals over every endpoint. */
  get totals(): { inFlight: number; queued: number } {
    let inFlight = 0;
    let queued = 0;
    for (const limiter of this.byUrl.values()) {
      inFlight += limiter.inFlight;
      queued += limiter.queued;
    }
    return { inFlight, queued };
  }

  /** The endpoints with calls running or waiting. */
  busy(): BulkheadLoad[] {
    const now = performance.now();
    const out: BulkheadLoad[] = [];
    for (const [url, limiter] of this.byUrl) if (!limiter.idle) out.push(describe(url, limiter, now));
    return out;
  }

  /** The load of one endpoint's bulkhead. */
  loadOf(url: string): BulkheadLoad | undefined {
    const limiter = this.byUrl.get(url);
    return limiter === undefined ? undefined : describe(url, limiter, performance.now());
  }

  /** Rejects every waiting call (shutdown). */
  rejectWaiting(err: Error): void {
    for (const limiter of this.byUrl.values()) limiter.rejectWaiting(err);
  }

  private forgetIdle(): void {
    for (const [url, limiter] of this.byUrl) {
      if (this.byUrl.size < this.maxIdle) return;
      if (limiter.idle) this.byUrl.delete(url);
    }
  }
}

function describe(url: string, limiter: InFlightLimiter, now: number): BulkheadLoad {
  return {
    url,
    inFlight: limiter.inFlight,
    queued: limiter.queued,
    maxInFlight: limiter.maxInFlight,
    oldestWaitMs: Math.round(limiter.oldestWaitMs(now)),
    noAnswerMs: Math.round(limiter.noAnswerMs(now)),
  };
}
