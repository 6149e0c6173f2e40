// What metrics, tracing and the request-reply feed watch: the observer interfaces of the runtime,
// its partition tasks and the function client, with the events they receive. The runtime, the
// tasks and the client call them; nothing here depends on how they are implemented.
import type { Address, FromFunction, TypedValue } from '@continuum/sdk/protocol';
import type { LogRecord, OutRecord } from './log/log.js';
import type { FunctionAttemptError, FunctionCallError } from './transport/function-client.js';

// ---- the partition tasks ----

/**
 * Watches a partition task for metrics and tracing. Callbacks run on the task's hot path: they
 * must be cheap and must not throw.
 */
export interface TaskObserver {
  /** A batch is about to go to its function (again after a negotiation round or an overload). */
  batchStarted?(batch: ObservedBatch): BatchObservation | undefined;
  /** A message or an effect went to the dead-letter topic with this code. */
  deadLettered?(partition: number, code: string): void;
  /** A message found its address in memory (`hit`) or needs its state loaded from the store. */
  stateLookup?(partition: number, hit: boolean): void;
  /**
   * A checkpoint's log transaction committed: its records are durable and visible to
   * read_committed readers. Its state delta is promoted in the store next; `checkpointed` follows.
   */
  committed?(checkpoint: ObservedCheckpoint): void;
  /** A checkpoint committed and its state is promoted. */
  checkpointed?(checkpoint: ObservedCheckpoint): void;
}

/** A batch on its way to a function, as an observer sees it. */
export interface ObservedBatch {
  partition: number;
  functionType: string;
  address: Address;
  /** Invocations in the batch. */
  size: number;
  /** 0 for the first send; counts state-negotiation rounds. */
  round: number;
  /** Headers of the batch's log records, in order (trace context travels in them). */
  headers: readonly Readonly<Record<string, string>>[];
}

/** What an observer keeps for one batch. */
export interface BatchObservation {
  /** Wraps the function call (tracing makes its span current so the HTTP request carries it). */
  around?<T>(call: () => Promise<T>): Promise<T>;
  /** The call settled: a response, or an error (retryable errors are sent again later). */
  ended?(end: { latencyMs: number; response: FromFunction | undefined; error: unknown }): void;
  /** Headers added to every record the response produces. */
  recordHeaders?: Readonly<Record<string, string>> | undefined;
}

/** A committed checkpoint, as an observer sees it. */
export interface ObservedCheckpoint {
  partition: number;
  durationMs: number;
  /** Everything it committed: internal messages, egress and dead-letter records. */
  records: readonly OutRecord[];
  /** Records, state writes and timer changes it carried. */
  changes: number;
}

// ---- the runtime ----

/** A message for a function from outside (ingress, CLI, admin API). */
export interface IngressMessage {
  target: Address;
  argument: TypedValue;
  /** The caller the function sees (a waiting HTTP request's reply address); none by default. */
  caller?: Address | undefined;
  eventTime?: number | undefined;
  /** W3C `traceparent` of the sender (an HTTP request's): the message's trace continues it. */
  traceparent?: string | undefined;
}

/** Watches a runtime: its partition tasks and the messages it takes from outside. */
export interface RuntimeObserver extends TaskObserver {
  /** Messages from `source` (admin, playground, replay, ...) are about to be appended. */
  sending?(source: string, messages: readonly IngressMessage[]): SendObservation | undefined;
  /**
   * A Kafka ingress (`source`, e.g. `kafka:example/clicks`) is about to move `record` into the
   * internal log as a message to each of `targets`. Called for records that are not dead-lettered.
   */
  moving?(source: string, record: LogRecord, targets: readonly Address[]): MoveObservation | undefined;
}

/** What an observer keeps for one ingress record being moved. */
export interface MoveObservation {
  /** Headers added to each internal record the ingress record becomes (trace context). */
  headers?: Readonly<Record<string, string>> | undefined;
  /** The transaction that moves it committed (`error` undefined) or failed. */
  ended?(error: unknown): void;
}

/** What an observer keeps for one `send`. */
export interface SendObservation {
  /** Headers added to each message's record (trace context), by index. */
  headers?: readonly (Readonly<Record<string, string>> | undefined)[] | undefined;
  /** The append resolved (`error` undefined) or failed. */
  ended?(error: unknown): void;
}

// ---- the function client ----

/** Reported after every HTTP attempt, successful or not. */
export interface AttemptEvent {
  address: Address;
  /** Endpoint URL without user info. */
  url: string;
  /** 1-based attempt number within the call. */
  attempt: number;
  durationMs: number;
  /** The HTTP status, when a response arrived. */
  status: number | undefined;
  /** Undefined on success. */
  failure: FunctionAttemptError | undefined;
  /** True when another attempt follows after `backoffMs`. */
  willRetry: boolean;
  backoffMs: number;
}

/** Reported once per call when it settles. */
export interface CallEvent {
  address: Address;
  url: string;
  attempts: number;
  /** Time spent waiting for an in-flight slot. */
  queuedMs: number;
  /** Time from getting a slot to settling (what the call budget limits). */
  durationMs: number;
  /** Undefined on success. */
  error: FunctionCallError | undefined;
}
