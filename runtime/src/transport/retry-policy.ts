// Which failed attempts a transport retries and how long it waits before the next one, matching
// StateFun's two transports (spec §2.4). The call budget caps both in the client, not here.
import type { AttemptFailureKind } from './function-client.js';
import type { TransportConfig } from '../module/types.js';

/** A transport flavour's retry rules. */
export interface RetryPolicy {
  /** Whether a failure of this kind (and status) is retried at all. */
  retries(kind: AttemptFailureKind, status: number | undefined): boolean;
  /** Backoff before retry number `retry` (0 for the retry after the first attempt), uncapped. */
  backoffMs(retry: number): number;
}

/** okhttp retries these statuses besides every 5xx. */
const okHttpRetriedStatuses: ReadonlySet<number> = new Set([408, 409, 420, 429, 499]);

// Past 2^20 the delay exceeds any sane budget; clamping keeps the arithmetic finite.
const maxExponent = 20;

/** async transport: every failure is retried; 2 ms · 2^retry. */
export const asyncRetryPolicy: RetryPolicy = {
  retries: () => true,
  backoffMs: (retry) => 2 * 2 ** Math.min(retry, maxExponent),
};

/** okhttp transport: IO errors and some statuses; everything else fails at once. 10 ms doubling. */
export const okHttpRetryPolicy: RetryPolicy = {
  retries(kind, status) {
    switch (kind) {
      case 'connection':
      case 'timeout':
        return true;
      case 'status':
        return status !== undefined && (status >= 500 || okHttpRetriedStatuses.has(status));
      case 'invalid-response':
      case 'too-large':
        return false;
    }
  },
  backoffMs: (retry) => 10 * 2 ** Math.min(retry, maxExponent),
};

/** The policy of a transport type. */
export function retryPolicyFor(type: TransportConfig['type']): RetryPolicy {
  return type === 'okhttp' ? okHttpRetryPolicy : asyncRetryPolicy;
}
