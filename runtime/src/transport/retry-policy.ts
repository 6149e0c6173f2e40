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

/**
 * True for a status that says the request itself is wrong and can never succeed as sent: every
 * 4xx except 408 (request timeout) and 429 (too many requests). Retrying those only blocks the
 * address behind a message that is bound to fail.
 */
export function isPermanentStatus(status: number | undefined): boolean {
  return status !== undefined && status >= 400 && status <= 499 && status !== 408 && status !== 429;
}

/**
 * async transport: every failure is retried with 2 ms · 2^retry, except a permanent 4xx (see
 * {@link isPermanentStatus}), which ends the call at once. (StateFun's async transport also
 * retries those until the call budget runs out; that spends minutes on a 404 or a message the
 * function rejected.)
 */
export const asyncRetryPolicy: RetryPolicy = {
  retries: (kind, status) => !(kind === 'status' && isPermanentStatus(status)),
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
