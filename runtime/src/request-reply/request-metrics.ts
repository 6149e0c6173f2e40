// Prometheus series of the request-response ingress: requests by outcome, their latency, retries
// with a known idempotency key, what became of committed replies, and requests waiting now.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { CompleteResult } from './reply-store.js';
import type { RequestObserver, RequestOutcome } from './request-server.js';

/** The request-response figures of `/v1/overview` (the dashboard's card). */
export interface RequestsSummary {
  /** Requests answered per second over the last {@link RATE_WINDOW_MS} (any outcome). */
  rate: number;
  /** Latency of the requests of the last {@link LATENCY_WINDOW_MS} (at most {@link RECENT_LIMIT}), ms; undefined without any. */
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  /** Since the process started. */
  total: number;
  replies: number;
  /** Answered 202 (no reply within the request's timeout; the reply is at the results URL). */
  timeouts: number;
  rejected: number;
  failed: number;
  retried: number;
  duplicateReplies: number;
  /** Requests waiting for their reply in this process now. */
  pending: number;
}

/** Requests remembered for the rate and the percentiles (a ring: the oldest make way). */
export const RECENT_LIMIT = 4096;
export const RATE_WINDOW_MS = 10_000;
export const LATENCY_WINDOW_MS = 60_000;

export class RequestMetrics implements RequestObserver {
  private readonly requests: Counter<'ingress' | 'outcome'>;
  private readonly latency: Histogram<'ingress' | 'outcome'>;
  private readonly retries: Counter<'ingress'>;
  private readonly replies: Counter<'result'>;
  /** Totals for the dashboard card. */
  readonly totals = { reply: 0, timeout: 0, rejected: 0, failed: 0, retried: 0, duplicateReplies: 0 };

  /** End times and durations of the latest requests, a ring of {@link RECENT_LIMIT}. */
  private readonly recentAt = new Float64Array(RECENT_LIMIT);
  private readonly recentMs = new Float64Array(RECENT_LIMIT);
  private recentCount = 0;

  constructor(
    registry: Registry,
    private readonly pending: () => number,
    private readonly clock: () => number = Date.now,
  ) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'continuum_http_requests_total',
      help: 'Requests to the request-response HTTP ingress by outcome: reply (200), timeout (202 with the results URL), rejected (4xx), failed (5xx).',
      labelNames: ['ingress', 'outcome'],
      registers,
    });
    this.latency = new Histogram({
      name: 'continuum_http_request_duration_seconds',
      help: 'Time from a request arriving to its answer (reply or 202), by outcome.',
      labelNames: ['ingress', 'outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.retries = new Counter({
      name: 'continuum_http_request_retries_total',
      help: 'Requests whose Idempotency-Key was already bound to a request (client retries).',
      labelNames: ['ingress'],
      registers,
    });
    this.replies = new Counter({
      name: 'continuum_replies_total',
      help: 'Committed replies by what became of them: stored, same (stored before), duplicate and gone (dead-lettered).',
      labelNames: ['result'],
      registers,
    });
    new Gauge({
      name: 'continuum_http_requests_pending',
      help: 'Requests waiting for their reply in this process.',
      registers,
      collect() {
        this.set(pending());
      },
    });
  }

  ended(ingress: string, outcome: RequestOutcome, durationMs: number): void {
    this.requests.inc({ ingress, outcome });
    this.latency.observe({ ingress, outcome }, durationMs / 1000);
    this.totals[outcome]++;
    const slot = this.recentCount % RECENT_LIMIT;
    this.recentAt[slot] = this.clock();
    this.recentMs[slot] = durationMs;
    this.recentCount++;
  }

  /** Rate, recent latency percentiles, totals and pending requests, for `/v1/overview`. */
  summary(): RequestsSummary {
    const now = this.clock();
    const kept = Math.min(this.recentCount, RECENT_LIMIT);
    let inRateWindow = 0;
    let oldestInRateWindow = now;
    const latencies: number[] = [];
    for (let i = 0; i < kept; i++) {
      const age = now - this.recentAt[i]!;
      if (age <= RATE_WINDOW_MS) {
        inRateWindow++;
        oldestInRateWindow = Math.min(oldestInRateWindow, this.recentAt[i]!);
      }
      if (age <= LATENCY_WINDOW_MS) latencies.push(this.recentMs[i]!);
    }
    // A full ring within the window: the rate over the span the ring covers.
    const span =
      this.recentCount > RECENT_LIMIT && inRateWindow === RECENT_LIMIT
        ? Math.max(1, now - oldestInRateWindow)
        : RATE_WINDOW_MS;
    latencies.sort((a, b) => a - b);
    const pct = (q: number): number | undefined =>
      latencies.length === 0
        ? undefined
        : Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!);
    const t = this.totals;
    return {
      rate: Math.round((inRateWindow * 1000 * 100) / span) / 100,
      p50Ms: pct(0.5),
      p99Ms: pct(0.99),
      total: t.reply + t.timeout + t.rejected + t.failed,
      replies: t.reply,
      timeouts: t.timeout,
      rejected: t.rejected,
      failed: t.failed,
      retried: t.retried,
      duplicateReplies: t.duplicateReplies,
      pending: this.pending(),
    };
  }

  retried(ingress: string): void {
    this.retries.inc({ ingress });
    this.totals.retried++;
  }

  replyStored(result: CompleteResult): void {
    this.replies.inc({ result });
    if (result === 'duplicate') this.totals.duplicateReplies++;
  }
}
