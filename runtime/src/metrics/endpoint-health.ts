// Endpoint health: makes failing and stalled function endpoints visible within seconds, in the logs
// (one WARN line per endpoint at the first failure, then at most one per interval with the count)
// and as problems that turn the runtime's health to degraded, long before a call budget runs out.
import type { Logger } from '../logger.js';
import type { BulkheadLoad } from '../transport/bulkheads.js';
import type { AttemptEvent, CallEvent } from '../observers.js';

/** Options of {@link EndpointHealth}; every field is optional. */
export interface EndpointHealthOptions {
  /** A failed attempt keeps its endpoint degraded this long unless a call succeeds. @defaultValue 30000 */
  windowMs?: number;
  /** Repeated WARN lines of one endpoint come at most this often. @defaultValue 10000 */
  warnEveryMs?: number;
  /** A call waiting this long for a bulkhead slot, or in-flight calls with no answer this long, is a problem. @defaultValue 5000 */
  stallMs?: number;
  /** Endpoints tracked at once; beyond it the least recently failing is forgotten. @defaultValue 256 */
  maxEndpoints?: number;
  /** @defaultValue Date.now */
  now?: () => number;
}

/** One endpoint whose recent attempts fail, as the overview reports it. */
export interface FailingEndpoint {
  url: string;
  /** Failed attempts since the last success (or since the process started). */
  failedAttempts: number;
  /** When the first of them failed (ISO). */
  since: string;
  /** The last failure: its HTTP status if a response arrived, and what went wrong. */
  lastStatus: number | undefined;
  lastError: string;
  lastAt: string;
}

interface Track {
  failedAttempts: number;
  firstAt: number;
  lastAt: number;
  lastStatus: number | undefined;
  lastError: string;
  /** WARN bookkeeping: when the last line went out and the failures since. */
  warnedAt: number;
  sinceWarn: number;
  /** Bulkhead WARN lines: when the last went out. */
  waitWarnedAt: number;
}

const maxMessage = 300;

/**
 * Tracks attempts per endpoint URL. Fed by the function client's callbacks; costs nothing while
 * calls succeed (no timer: everything happens on the events themselves or when health is read).
 */
export class EndpointHealth {
  private readonly tracks = new Map<string, Track>();
  private readonly windowMs: number;
  private readonly warnEveryMs: number;
  private readonly stallMs: number;
  private readonly maxEndpoints: number;
  private readonly now: () => number;

  constructor(
    private readonly log: Logger,
    opts: EndpointHealthOptions = {},
  ) {
    this.windowMs = opts.windowMs ?? 30_000;
    this.warnEveryMs = opts.warnEveryMs ?? 10_000;
    this.stallMs = opts.stallMs ?? 5000;
    this.maxEndpoints = opts.maxEndpoints ?? 256;
    this.now = opts.now ?? Date.now;
  }

  /** After every HTTP attempt. */
  attempted(e: AttemptEvent): void {
    if (e.failure === undefined) {
      // The common case, on every call: one map lookup, no clock read.
      if (this.tracks.size === 0) return;
      const track = this.tracks.get(e.url);
      if (track === undefined || track.failedAttempts === 0) return;
      const now = this.now();
      this.log.info('calls to a function endpoint succeed again', {
        endpoint: e.url,
        failedAttempts: track.failedAttempts,
        failingForMs: now - track.firstAt,
      });
      track.failedAttempts = 0;
      track.sinceWarn = 0;
      return;
    }
    const now = this.now();
    const track = this.trackOf(e.url, now);
    if (track.failedAttempts === 0) {
      track.firstAt = now;
      track.warnedAt = -Infinity;
    }
    track.failedAttempts++;
    track.sinceWarn++;
    track.lastAt = now;
    track.lastStatus = e.failure.status;
    track.lastError = e.failure.message.slice(0, maxMessage);
    // Most recently failing last, so forgetOldest() drops the longest quiet endpoint.
    this.tracks.delete(e.url);
    this.tracks.set(e.url, track);
    if (now - track.warnedAt >= this.warnEveryMs) {
      const first = track.failedAttempts === track.sinceWarn && track.warnedAt === -Infinity;
      this.log.warn(first ? 'calls to a function endpoint fail' : 'calls to a function endpoint still fail', {
        endpoint: e.url,
        function: `${e.address.namespace}/${e.address.type}`,
        status: e.failure.status,
        error: track.lastError,
        code: e.failure.code,
        failedAttempts: track.failedAttempts,
        sinceLastLine: track.sinceWarn,
        willRetry: e.willRetry,
      });
      track.warnedAt = now;
      track.sinceWarn = 0;
    }
  }

  /** After every call; a call that waited long for its bulkhead is worth a (rate-limited) line. */
  called(e: CallEvent): void {
    if (e.queuedMs >= this.stallMs) this.waited(e.url, Math.round(e.queuedMs), undefined);
  }

  /** A call found every slot of its endpoint's bulkhead taken and had to wait. */
  queued(load: BulkheadLoad): void {
    if (load.oldestWaitMs >= this.stallMs) this.waited(load.url, load.oldestWaitMs, load);
  }

  /** Endpoints whose attempts failed within the window and have not succeeded since. */
  failing(): FailingEndpoint[] {
    const now = this.now();
    const out: FailingEndpoint[] = [];
    for (const [url, t] of this.tracks) {
      if (t.failedAttempts === 0 || now - t.lastAt > this.windowMs) continue;
      out.push({
        url,
        failedAttempts: t.failedAttempts,
        since: new Date(t.firstAt).toISOString(),
        lastStatus: t.lastStatus,
        lastError: t.lastError,
        lastAt: new Date(t.lastAt).toISOString(),
      });
    }
    return out;
  }

  /**
   * Health problems, one line each: endpoints failing now, and endpoints whose calls wait behind
   * their bulkhead or get no answer (`loads` from the function client).
   */
  problems(loads: readonly BulkheadLoad[] = []): string[] {
    const out: string[] = [];
    for (const f of this.failing()) {
      const what = f.lastStatus === undefined ? f.lastError : `HTTP ${f.lastStatus}: ${f.lastError}`;
      out.push(
        `calls to ${f.url} fail: ${f.failedAttempts} failed attempt${f.failedAttempts === 1 ? '' : 's'} since ${f.since} (last: ${what})`,
      );
    }
    for (const l of loads) {
      if (l.oldestWaitMs >= this.stallMs) {
        out.push(
          `calls to ${l.url} wait behind its bulkhead: ${l.queued} queued, ${l.inFlight}/${l.maxInFlight} in flight, ` +
            `the oldest waiting ${seconds(l.oldestWaitMs)}`,
        );
      } else if (l.inFlight > 0 && l.noAnswerMs >= this.stallMs) {
        out.push(
          `calls to ${l.url} get no answer: ${l.inFlight} in flight, none answered for ${seconds(l.noAnswerMs)}`,
        );
      }
    }
    return out;
  }

  private waited(url: string, waitedMs: number, load: BulkheadLoad | undefined): void {
    const now = this.now();
    const track = this.trackOf(url, now);
    if (now - track.waitWarnedAt < this.warnEveryMs) return;
    track.waitWarnedAt = now;
    this.log.warn('calls to a function endpoint wait behind its bulkhead', {
      endpoint: url,
      waitedMs,
      ...(load === undefined
        ? {}
        : { queued: load.queued, inFlight: load.inFlight, maxInFlight: load.maxInFlight }),
    });
  }

  private trackOf(url: string, now: number): Track {
    let track = this.tracks.get(url);
    if (track === undefined) {
      if (this.tracks.size >= this.maxEndpoints) this.forgetOldest();
      track = {
        failedAttempts: 0,
        firstAt: now,
        lastAt: now,
        lastStatus: undefined,
        lastError: '',
        warnedAt: -Infinity,
        sinceWarn: 0,
        waitWarnedAt: -Infinity,
      };
      this.tracks.set(url, track);
    }
    return track;
  }

  private forgetOldest(): void {
    const oldest = this.tracks.keys().next();
    if (oldest.done !== true) this.tracks.delete(oldest.value);
  }
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}
