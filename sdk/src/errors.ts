// The SDK's error classes: one base (`SdkError`) with a stable `code`, a `cause` and a `retryable` flag.
// Codes never change meaning; tests and callers match on them instead of on messages.

/** Stable codes of {@link ProtocolError}: bytes that are not a valid StateFun protocol message. */
export type ProtocolErrorCode =
  /** The bytes are not a protobuf encoding of the expected message. */
  | 'PROTOCOL_MALFORMED'
  /** A submessage the protocol requires (e.g. `InvocationBatchRequest.target`) is missing. */
  | 'PROTOCOL_MISSING_FIELD'
  /** An enum field holds a number the protocol does not define. */
  | 'PROTOCOL_UNKNOWN_ENUM'
  /** A value cannot be represented: an int64 beyond ±2^53, an int out of the int32 range, … */
  | 'PROTOCOL_OUT_OF_RANGE';

/** Stable codes of every {@link SdkError}. */
export type SdkErrorCode =
  | ProtocolErrorCode
  /** A type name, address, spec or option given to the SDK is invalid; fix the calling code. */
  | 'INVALID_ARGUMENT'
  /** A value does not fit its type (wrong typename, fails its schema, cannot be serialized). */
  | 'TYPE_MISMATCH'
  /** The request targets a function type that this service does not serve. */
  | 'UNKNOWN_FUNCTION'
  /** A user function threw (or rejected) while handling an invocation; the runtime retries it. */
  | 'FUNCTION_FAILED'
  /**
   * The function rejected a message as one that can never succeed: it threw a {@link TerminalError},
   * or the message is not a valid value of the type the function reads it as. The runtime does not
   * retry it: the message becomes a dead letter and the address goes on with its next message.
   */
  | 'MESSAGE_REJECTED'
  /** `ctx.reply` for a message that has no caller to answer. */
  | 'NO_CALLER'
  /** The client's request got no reply within its timeout (the reply can be fetched later). */
  | 'REPLY_TIMEOUT'
  /** The request-response ingress refused or failed a request (status and reason in the error). */
  | 'INVOKE_FAILED';

/** Options of an {@link SdkError}. */
export interface SdkErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
  /**
   * Whether retrying the same request may succeed. The runtime retries every failed call anyway;
   * this flag tells callers of the SDK (and the logs) whether a retry is worth it.
   */
  retryable?: boolean;
}

/**
 * Base class of every error the SDK throws on purpose.
 *
 * @example
 * ```ts
 * try { types.int.deserialize(bytes); } catch (e) {
 *   if (e instanceof SdkError && e.code === 'PROTOCOL_MALFORMED') { ... }
 * }
 * ```
 */
export class SdkError extends Error {
  /** Stable machine-readable code. */
  readonly code: SdkErrorCode;
  /** Whether retrying the same request may succeed. */
  readonly retryable: boolean;

  constructor(code: SdkErrorCode, message: string, options: SdkErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/**
 * Thrown by a function to say that a message can never succeed, however often it is retried (an
 * order for an item that does not exist, a request that breaks a business rule). The runtime
 * dead-letters that message at once, with this error's message as the reason, instead of retrying
 * it until the call budget runs out; other messages to the same address go on.
 *
 * Any other error a function throws is taken as transient and retried (the endpoint's transport
 * decides how often and how long). Invalid messages (a value that does not fit the type the
 * function reads it as, e.g. a failed zod schema) are terminal without this class.
 *
 * @example
 * ```ts
 * if (stock < order.quantity) throw new TerminalError(`only ${stock} of ${order.item} left`);
 * ```
 */
export class TerminalError extends SdkError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('MESSAGE_REJECTED', message, { cause: options.cause, retryable: false });
  }
}

/** Bytes that are not a valid StateFun protocol message, or a value the protocol cannot carry. */
export class ProtocolError extends SdkError {
  declare readonly code: ProtocolErrorCode;

  constructor(code: ProtocolErrorCode, message: string, options: SdkErrorOptions = {}) {
    super(code, message, options);
  }
}
