// The runtime's error base: every error carries a stable `code`, an optional `cause`, and a
// `retryable` flag that retry loops read instead of guessing from the message.

export interface ContinuumErrorOptions {
  cause?: unknown;
  retryable?: boolean;
}

export class ContinuumError extends Error {
  readonly code: string;
  readonly retryable: boolean;

  constructor(code: string, message: string, options: ContinuumErrorOptions = {}) {
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
