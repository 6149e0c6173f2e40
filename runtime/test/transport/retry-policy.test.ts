import { describe, expect, it } from 'vitest';
import { asyncRetryPolicy, okHttpRetryPolicy, retryPolicyFor } from '../../src/transport/retry-policy.js';

describe('retry policies', () => {
  it('async retries every kind of failure but a permanent 4xx, with 2 ms doubling backoff', () => {
    for (const kind of ['connection', 'timeout', 'invalid-response', 'too-large'] as const) {
      expect(asyncRetryPolicy.retries(kind, 404)).toBe(true);
    }
    const retried = [400, 401, 404, 408, 413, 422, 429, 499, 500, 503].filter((s) =>
      asyncRetryPolicy.retries('status', s),
    );
    expect(retried).toEqual([408, 429, 500, 503]);
    expect([0, 1, 2, 3].map((n) => asyncRetryPolicy.backoffMs(n))).toEqual([2, 4, 8, 16]);
    expect(Number.isFinite(asyncRetryPolicy.backoffMs(10_000))).toBe(true);
  });

  it('okhttp retries IO errors, 408/409/420/429/499 and 5xx only, with 10 ms doubling backoff', () => {
    const retried = [408, 409, 420, 429, 499, 500, 502, 503, 599].filter((s) =>
      okHttpRetryPolicy.retries('status', s),
    );
    expect(retried).toEqual([408, 409, 420, 429, 499, 500, 502, 503, 599]);
    expect([400, 401, 403, 404, 410, 415, 422].some((s) => okHttpRetryPolicy.retries('status', s))).toBe(
      false,
    );
    expect(okHttpRetryPolicy.retries('connection', undefined)).toBe(true);
    expect(okHttpRetryPolicy.retries('timeout', undefined)).toBe(true);
    expect(okHttpRetryPolicy.retries('invalid-response', 200)).toBe(false);
    expect([0, 1, 2].map((n) => okHttpRetryPolicy.backoffMs(n))).toEqual([10, 20, 40]);
  });

  it('picks the policy by transport type', () => {
    expect(retryPolicyFor('async')).toBe(asyncRetryPolicy);
    expect(retryPolicyFor('okhttp')).toBe(okHttpRetryPolicy);
  });
});
