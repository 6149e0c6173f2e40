// Prometheus series of the request-response ingress: requests by outcome, their latency, retries
// with a known idempotency key, what became of committed replies, and requests waiting now.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { CompleteResult } from './reply-store.js';
import type { RequestObserver, RequestOutcome } from './request-server.js';

export class RequestMetrics implements RequestObserver {
  private readonly requests: Counter<'ingress' | 'outcome'>;
  private readonly latency: Histogram<'ingress' | 'outcome'>;
  private readonly retries: Counter<'ingress'>;
  private readonly replies: Counter<'result'>;
  /** Totals for the dashboard card. */
  readonly totals = { reply: 0, timeout: 0, rejected: 0, failed: 0, retried: 0, duplicateReplies: 0 };

  constructor(registry: Registry, pending: () => number) {
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
