// Plain TypeScript shapes of the StateFun 3.x request-reply protocol messages
// (io.statefun.sdk.reqreply / io.statefun.sdk.types / io.statefun.sdk.egress).
// Field names are the protobuf names in camelCase; int64 fields are JS numbers.
// The codecs in ./codec.ts turn these into bytes and back; the SDK and the runtime share them.

/** A function address: `namespace/type` is the function type, `id` the instance key. */
export interface Address {
  namespace: string;
  type: string;
  id: string;
}

/** A value with its type name. `hasValue=false` means "no value" (distinct from empty bytes). */
export interface TypedValue {
  typename: string;
  hasValue: boolean;
  value: Uint8Array;
}

/** ToFunction.PersistedValue: a registered state; `stateValue` absent when it holds no value. */
export interface PersistedValue {
  stateName: string;
  stateValue?: TypedValue | undefined;
}

/** ToFunction.Invocation: one message to the target; `caller` absent for ingress messages. */
export interface ToFunctionInvocation {
  caller?: Address | undefined;
  argument: TypedValue;
  /** Extension (field 1000): the message's event time in ms since the epoch; absent when unknown. */
  eventTime?: number | undefined;
  /**
   * Extension (field 1001): the partition's watermark at the message's position in the log, in ms
   * since the epoch; absent while there is none.
   */
  watermark?: number | undefined;
}

/** ToFunction.InvocationBatchRequest. */
export interface InvocationBatchRequest {
  target: Address;
  state: PersistedValue[];
  invocations: ToFunctionInvocation[];
}

/** ToFunction: the request body the runtime POSTs to a function endpoint. */
export interface ToFunction {
  invocation?: InvocationBatchRequest | undefined;
}

export const MutationType = { DELETE: 0, MODIFY: 1 } as const;
export type MutationType = (typeof MutationType)[keyof typeof MutationType];

export interface PersistedValueMutation {
  mutationType: MutationType;
  stateName: string;
  stateValue?: TypedValue | undefined;
}

/** FromFunction.Invocation: an outgoing message. */
export interface OutgoingInvocation {
  target: Address;
  argument: TypedValue;
  /** Extension (field 1000): the event time the message carries; absent = the batch's latest. */
  eventTime?: number | undefined;
}

/** FromFunction.DelayedInvocation: a delayed send, or a cancellation when `isCancellationRequest`. */
export interface DelayedInvocation {
  isCancellationRequest: boolean;
  cancellationToken: string;
  delayInMs: number;
  target?: Address | undefined;
  argument?: TypedValue | undefined;
  /** Extension (field 1000): the event time the delayed message carries; absent = the batch's latest. */
  eventTime?: number | undefined;
  /**
   * Extension (field 1001): an event-time timer, delivered once the watermark reaches `eventTime`
   * (instead of after `delayInMs`).
   */
  atEventTime?: boolean | undefined;
}

export interface EgressMessage {
  egressNamespace: string;
  egressType: string;
  argument: TypedValue;
  /** Extension (field 1000): the record's event time (Kafka timestamp); absent = the batch's latest. */
  eventTime?: number | undefined;
}

export interface InvocationResponse {
  stateMutations: PersistedValueMutation[];
  outgoingMessages: OutgoingInvocation[];
  delayedInvocations: DelayedInvocation[];
  outgoingEgresses: EgressMessage[];
}

export const ExpireMode = { NONE: 0, AFTER_WRITE: 1, AFTER_INVOKE: 2 } as const;
export type ExpireMode = (typeof ExpireMode)[keyof typeof ExpireMode];

export interface ExpirationSpec {
  mode: ExpireMode;
  expireAfterMillis: number;
}

export interface PersistedValueSpec {
  stateName: string;
  expirationSpec?: ExpirationSpec | undefined;
  typeTypename: string;
}

export interface IncompleteInvocationContext {
  missingValues: PersistedValueSpec[];
}

/**
 * FromFunction: the response body. At most one of the two is set; a message with neither
 * (including an empty body) is an empty InvocationResponse.
 */
export interface FromFunction {
  invocationResult?: InvocationResponse | undefined;
  incompleteInvocationContext?: IncompleteInvocationContext | undefined;
}

/** io.statefun.sdk.egress.KafkaProducerRecord */
export interface KafkaProducerRecord {
  key: string;
  valueBytes: Uint8Array;
  topic: string;
}

/** io.statefun.sdk.egress.KinesisEgressRecord */
export interface KinesisEgressRecord {
  partitionKey: string;
  valueBytes: Uint8Array;
  stream: string;
  explicitHashKey: string;
}

export const KAFKA_PRODUCER_RECORD_TYPENAME =
  'type.googleapis.com/io.statefun.sdk.egress.KafkaProducerRecord';
export const KINESIS_EGRESS_RECORD_TYPENAME =
  'type.googleapis.com/io.statefun.sdk.egress.KinesisEgressRecord';

/** Built-in primitive type names (io.statefun.sdk.types wrappers). */
export const PrimitiveTypeName = {
  bool: 'io.statefun.types/bool',
  int: 'io.statefun.types/int',
  long: 'io.statefun.types/long',
  float: 'io.statefun.types/float',
  double: 'io.statefun.types/double',
  string: 'io.statefun.types/string',
} as const;
