// The port between the runtime core and remote function endpoints: one call = one ToFunction out,
// one FromFunction back, with retries inside. Also owns the errors such a call can end with.
import type { Address, FromFunction, ToFunction } from '@continuum/sdk/protocol';
import { ContinuumError, type ErrorCode } from '../errors.js';

/**
 * The endpoint a function type resolved to, as the function router found it. Opaque to the core,
 * which hands it from the router to the client unread: the client the runtime is assembled with
 * defines its shape (the HTTP client: the endpoint's module.yaml entry).
 */
export type EndpointRef = object;

/** One invocation batch to send to a remote function; `E` is the client's endpoint reference. */
export interface FunctionCall<E extends EndpointRef = EndpointRef> {
  /** The endpoint the function type resolved to (for HTTP: its `transport` governs timeouts, retries and TLS). */
  endpoint: E;
  /** The endpoint URL with `{function.name}` already substituted. */
  url: string;
  /** The target address, for error messages and metrics. */
  address: Address;
  /** Must carry `invocation` with at least one invocation. */
  request: ToFunction;
  /**
   * Aborting gives up the call, including its retries and any wait for an in-flight slot. One
   * signal may govern many calls (the partition tasks pass one for all of theirs).
   */
  signal?: AbortSignal;
}

/**
 * Sends invocation batches to remote functions. Implementations retry within the endpoint's call
 * budget and reject with a {@link FunctionCallError} once they give up.
 */
export interface FunctionClient {
  /**
   * Resolves with the function's response. A response with neither oneof set (including an empty
   * HTTP body) is returned as an empty `invocationResult`, so callers see exactly one of the two.
   */
  invoke(call: FunctionCall): Promise<FromFunction>;
  /** Stops taking calls and releases connections; calls still running are given up. */
  close(): Promise<void>;
}

/** Stable codes of the errors a call ends with. */
export const FunctionCallErrorCode = {
  /** Every attempt failed until the call budget (`transport.call`) ran out. */
  callFailed: 'FUNCTION_CALL_FAILED',
  /** A status that is not retried (a 4xx other than 408/429; okhttp: also others) ended the call at once. */
  statusRejected: 'FUNCTION_STATUS_REJECTED',
  /** HTTP 404: the endpoint does not serve the function type (wrong URL or type not registered). */
  notFound: 'FUNCTION_NOT_FOUND',
  /**
   * HTTP 422: the function said this message can never succeed (the SDK's `TerminalError`, or a
   * message that is not of the type the function expects). Sent alone, so only it is dead-lettered.
   */
  messageRejected: 'FUNCTION_MESSAGE_REJECTED',
  /** okhttp transport: a 2xx body that is not a FromFunction ended the call at once. */
  responseInvalid: 'FUNCTION_RESPONSE_INVALID',
  /** okhttp transport: a response body over `payload_max_bytes` ended the call at once. */
  responseTooLarge: 'FUNCTION_RESPONSE_TOO_LARGE',
  /** The caller's AbortSignal fired. */
  aborted: 'FUNCTION_CALL_ABORTED',
  /** The client had no in-flight slot and its wait queue was full: back off and try again. */
  overloaded: 'FUNCTION_CLIENT_OVERLOADED',
  /** The client was closed before the call completed. */
  closed: 'FUNCTION_CLIENT_CLOSED',
  /** The call can never succeed as given: bad URL, empty request, unreadable TLS files. */
  requestInvalid: 'FUNCTION_REQUEST_INVALID',
} as const;
export type FunctionCallErrorCode = (typeof FunctionCallErrorCode)[keyof typeof FunctionCallErrorCode];

/** What went wrong in one HTTP attempt. */
export type AttemptFailureKind =
  /** A non-2xx status. */
  | 'status'
  /** Connect refused/timed out, TLS handshake failed, connection reset or closed mid-response. */
  | 'connection'
  /** No (complete) response in time: the okhttp read timeout, or the call budget ran out mid-attempt. */
  | 'timeout'
  /** A 2xx response whose body is not a FromFunction (or whose content-encoding is broken). */
  | 'invalid-response'
  /** A response body over `payload_max_bytes`. */
  | 'too-large';

const attemptCodes: Record<AttemptFailureKind, ErrorCode> = {
  status: 'FUNCTION_HTTP_STATUS',
  connection: 'FUNCTION_CONNECTION_FAILED',
  timeout: 'FUNCTION_ATTEMPT_TIMEOUT',
  'invalid-response': 'FUNCTION_RESPONSE_INVALID',
  'too-large': 'FUNCTION_RESPONSE_TOO_LARGE',
};

/**
 * The failure of one HTTP attempt. `retryable` says whether the endpoint's transport retries it
 * (async: always; okhttp: connection errors, timeouts and 408/409/420/429/499/5xx).
 */
export class FunctionAttemptError extends ContinuumError {
  readonly kind: AttemptFailureKind;
  /** The HTTP status when a response arrived. */
  readonly status: number | undefined;

  constructor(
    kind: AttemptFailureKind,
    message: string,
    options: { status?: number | undefined; cause?: unknown; retryable: boolean },
  ) {
    super(attemptCodes[kind], message, options);
    this.kind = kind;
    this.status = options.status;
  }
}

/** Details carried by every {@link FunctionCallError}. */
export interface FunctionCallErrorDetails {
  address?: Address | undefined;
  /** The URL without user info. */
  url?: string | undefined;
  /** HTTP attempts made (0 when the call never reached the network). */
  attempts: number;
  /** Time from getting an in-flight slot to giving up. */
  elapsedMs: number;
  /** The failure of the last attempt, also the error's `cause` when there is no other. */
  lastFailure?: FunctionAttemptError | undefined;
  cause?: unknown;
  retryable: boolean;
}

/**
 * A call that ended without a usable response. `retryable` is false when the transport already
 * retried for the whole call budget or the failure is permanent: the caller should dead-letter
 * the batch rather than loop. It is true for overload and shutdown, where the call never ran to
 * its end and may be tried again later (by this process or a new owner).
 */
export class FunctionCallError extends ContinuumError {
  declare readonly code: FunctionCallErrorCode;
  readonly address: Address | undefined;
  readonly url: string | undefined;
  readonly attempts: number;
  readonly elapsedMs: number;
  readonly lastFailure: FunctionAttemptError | undefined;

  /**
   * True when the failure may lie with one message of the batch rather than with the endpoint
   * (HTTP 400, 413, 422): a batch of several messages is worth sending again one by one, so only
   * the message at fault ends as a dead letter.
   */
  get perMessage(): boolean {
    const status = this.lastFailure?.status;
    return (
      !this.retryable &&
      this.lastFailure?.kind === 'status' &&
      (status === 400 || status === 413 || status === 422)
    );
  }

  constructor(code: FunctionCallErrorCode, message: string, details: FunctionCallErrorDetails) {
    super(code, message, { cause: details.cause ?? details.lastFailure, retryable: details.retryable });
    this.address = details.address;
    this.url = details.url;
    this.attempts = details.attempts;
    this.elapsedMs = details.elapsedMs;
    this.lastFailure = details.lastFailure;
  }
}

/** `namespace/type/id`, the form addresses take in messages. */
export function formatAddress(address: Address): string {
  return `${address.namespace}/${address.type}/${address.id}`;
}
