// The request-response figures of /v1/overview: the rate over the last 10 s, p50/p99 over the
// last minute, totals by outcome, pending requests; the memory of recent requests is bounded.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RECENT_LIMIT, RequestMetrics } from '../../src/request-reply/request-metrics.js';

describe('request-response summary', () => {
  it('counts the rate over the last 10 s, latency over the last minute, and totals by outcome', () => {
    let now = 1_000_000;
    const metrics = new RequestMetrics(
      new Registry(),
      () => 3,
      () => now,
    );
    expect(metrics.summary()).toMatchObject({
      rate: 0,
      p50Ms: undefined,
      p99Ms: undefined,
      total: 0,
      pending: 3,
    });
    // 30 s ago: 100 slow requests; now: 50 fast ones and a timeout.
    now -= 30_000;
    for (let i = 0; i < 100; i++) metrics.ended('a', 'reply', 900);
    now += 30_000;
    for (let i = 0; i < 50; i++) metrics.ended('a', 'reply', 10 + i);
    metrics.ended('a', 'timeout', 5000);
    metrics.ended('a', 'rejected', 1);
    metrics.retried('a');
    const s = metrics.summary();
    expect(s.rate).toBe(5.2);
    expect(s.total).toBe(152);
    expect(s).toMatchObject({ replies: 150, timeouts: 1, rejected: 1, failed: 0, retried: 1, pending: 3 });
    expect(s.p50Ms).toBe(900);
    expect(s.p99Ms).toBe(900);
    // Two minutes later nothing is recent: no rate, no percentiles; totals stay.
    now += 120_000;
    expect(metrics.summary()).toMatchObject({ rate: 0, p50Ms: undefined, p99Ms: undefined, total: 152 });
  });

  it('remembers at most RECENT_LIMIT requests, and the rate of a full ring is over the span it covers', () => {
    let now = 0;
    const metrics = new RequestMetrics(
      new Registry(),
      () => 0,
      () => now,
    );
    // 3 × RECENT_LIMIT requests over 3 s: 1 per (1000 / RECENT_LIMIT) ms.
    for (let i = 0; i < 3 * RECENT_LIMIT; i++) {
      now = Math.floor((i * 1000) / RECENT_LIMIT);
      metrics.ended('a', 'reply', 5);
    }
    const s = metrics.summary();
    expect(s.total).toBe(3 * RECENT_LIMIT);
    // The ring holds the last second's requests: about RECENT_LIMIT per second.
    expect(s.rate).toBeGreaterThan(RECENT_LIMIT * 0.95);
    expect(s.rate).toBeLessThan(RECENT_LIMIT * 1.05);
  });
});
