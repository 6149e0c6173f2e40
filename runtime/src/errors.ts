// The runtime's error base: every error carries a stable `code`, an optional `cause`, and a
// `retryable` flag that retry loops read instead of guessing from the message.

import type { ErrorCode } from './error-codes.js';

export { errorCodes, isErrorCode } from './error-codes.js';
export type { ErrorCode } from './error-codes.js';

export interface ContinuumErrorOptions {
  cause?: unknown;
  retryable?: boolean;
}

export class ContinuumError extends Error {
  /** Stable: one of {@link errorCodes}. */
  readonly code: ErrorCode;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: ContinuumErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** True when `err` is a ContinuumError that says it may be retried. */
export function isRetryable(err: unknown): boolean {
  return err instanceof ContinuumError && err.retryable;
}

/**
 * An error and the errors it wraps, outermost first: kafkajs keeps the one it retried as
 * `originalError`, everything else as `cause`. At most `max` links (chains can be cyclic).
 */
export function* causeChain(err: unknown, max = 8): Generator<object> {
  let e: unknown = err;
  for (let i = 0; i < max && typeof e === 'object' && e !== null; i++) {
    yield e;
    const o = e as { cause?: unknown; originalError?: unknown };
    e = o.originalError ?? o.cause;
  }
}
