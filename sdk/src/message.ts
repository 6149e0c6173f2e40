// What a function receives (`Message`) and what it sends (`OutgoingMessage`, `EgressMessage`), with typed builders
// for function messages, Kafka, Kinesis, generic and playground egress.
import { address, type Address } from './address.js';
import { SdkError } from './errors.js';
import { encodeKafkaProducerRecord, encodeKinesisEgressRecord } from './protocol/codec.js';
import { KAFKA_PRODUCER_RECORD_TYPENAME, KINESIS_EGRESS_RECORD_TYPENAME } from './protocol/messages.js';
import { parseTypename } from './typename.js';
import { jsonType, types, type Type } from './types.js';

/**
 * A message a function received. Check its type with `is*`, read it with `as*`.
 *
 * @example
 * ```ts
 * if (message.isString()) greet(message.asString());
 * else if (message.is(Order)) place(message.as(Order));
 * ```
 */
export interface Message {
  /** Type name of the value, e.g. `io.statefun.types/string`. */
  readonly typename: string;
  /** Whether the message carries a value at all (the protocol allows "no value"). */
  readonly hasValue: boolean;
  /** The serialized value. */
  readonly rawValue: Uint8Array;
  /**
   * The event time of the message in ms since the epoch (see {@link Context.eventTime}); `undefined` when
   * the runtime does not tell.
   */
  readonly eventTime: number | undefined;
  /**
   * Whether the message is late: its event time is behind the watermark at its position in the log, so
   * event-time timers up to the watermark may already have fired (a window may already be closed).
   */
  readonly isLate: boolean;
  /** How far the event time is behind the watermark, in ms; 0 when the message is not late. */
  readonly lateness: number;
  /** Whether the value's type name is `type.typename`. */
  is(type: Type<unknown>): boolean;
  /** Reads the value as `type`; throws an SdkError (`TYPE_MISMATCH`) if it is of another type or has no value. */
  as<T>(type: Type<T>): T;
  isBool(): boolean;
  asBool(): boolean;
  isInt(): boolean;
  asInt(): number;
  isLong(): boolean;
  asLong(): bigint;
  isFloat(): boolean;
  asFloat(): number;
  isDouble(): boolean;
  asDouble(): number;
  isString(): boolean;
  asString(): string;
}

/** A value with its type name, ready for the wire. */
export interface TypedBytes {
  readonly typename: string;
  readonly value: Uint8Array;
}

/** A message to another function (or to itself), built with {@link messageBuilder}. */
export interface OutgoingMessage {
  readonly target: Address;
  readonly argument: TypedBytes;
}

/** A message to an egress, built with {@link kafkaEgressMessage}, {@link egressMessageBuilder} and friends. */
export interface EgressMessage {
  /** The egress id, `<namespace>/<name>`, as declared in module.yaml. */
  readonly egress: string;
  readonly argument: TypedBytes;
}

/** The target of a message: a function type name plus id, or an {@link Address} (e.g. `ctx.caller`). */
export type MessageTarget =
  | { typename: string; id: string; target?: undefined }
  | { target: Address; typename?: undefined; id?: undefined };

/** Options of {@link messageBuilder}: a target plus a value of type `T`. */
export type MessageBuilderOptions<T> = MessageTarget & { value: T; valueType: Type<T> };

/**
 * Builds a message to a function. `valueType` may be left out for strings.
 *
 * @example
 * ```ts
 * ctx.send(messageBuilder({ typename: 'example/inventory', id: sku, value: { qty: 1 }, valueType: Reserve }));
 * ctx.send(messageBuilder({ target: ctx.caller!, value: 'done' }));   // reply to the caller
 * ```
 */
export function messageBuilder<T>(options: MessageBuilderOptions<T>): OutgoingMessage;
export function messageBuilder(
  options: MessageTarget & { value: string; valueType?: undefined },
): OutgoingMessage;
export function messageBuilder<T>(
  options: MessageTarget & { value: T; valueType?: Type<T> },
): OutgoingMessage {
  const target =
    options.target !== undefined
      ? address(options.target.typename, options.target.id)
      : address(options.typename, options.id);
  return Object.freeze({
    target,
    argument: typedBytes(options.value, options.valueType, `message to ${target.typename}`),
  });
}

function typedBytes<T>(value: T, valueType: Type<T> | undefined, what: string): TypedBytes {
  if (value === undefined || value === null) {
    throw new SdkError('INVALID_ARGUMENT', `${what}: the value is missing`);
  }
  if (valueType === undefined) {
    if (typeof value !== 'string') {
      throw new SdkError(
        'INVALID_ARGUMENT',
        `${what}: give a valueType for ${typeof value} values (only strings have a default type)`,
      );
    }
    return Object.freeze({ typename: types.string.typename, value: types.string.serialize(value) });
  }
  return Object.freeze({ typename: valueType.typename, value: valueType.serialize(value) });
}

/** Options of {@link egressMessageBuilder}. */
export interface EgressMessageOptions<T> {
  /** The egress id, `<namespace>/<name>`, as declared in module.yaml. */
  typename: string;
  value: T;
  valueType: Type<T>;
}

/**
 * Builds a message to any egress: the runtime forwards the typed value to the egress as is.
 *
 * @example
 * ```ts
 * ctx.sendEgress(egressMessageBuilder({ typename: 'example/audit', value: event, valueType: AuditEvent }));
 * ```
 */
export function egressMessageBuilder<T>(options: EgressMessageOptions<T>): EgressMessage {
  parseTypename(options.typename, 'egress message');
  return Object.freeze({
    egress: options.typename,
    argument: typedBytes(options.value, options.valueType, `egress message to ${options.typename}`),
  });
}

/** A record value: a string (UTF-8), raw bytes, or any value with its `valueType`. */
export type RecordValue<T> =
  { value: string | Uint8Array; valueType?: undefined } | { value: T; valueType: Type<T> };

const utf8Encoder = new TextEncoder();

function recordBytes<T>(v: RecordValue<T>, what: string): Uint8Array {
  if (v.valueType !== undefined) return v.valueType.serialize(v.value);
  if (typeof v.value === 'string') return utf8Encoder.encode(v.value);
  if (v.value instanceof Uint8Array) return v.value;
  throw new SdkError(
    'INVALID_ARGUMENT',
    `${what}: the value must be a string or a Uint8Array, or come with a valueType`,
  );
}

function nonEmpty(s: unknown, what: string): string {
  if (typeof s !== 'string' || s === '')
    throw new SdkError('INVALID_ARGUMENT', `${what} must be a non-empty string`);
  return s;
}

/** Options of {@link kafkaEgressMessage}. */
export type KafkaEgressOptions<T> = {
  /** The Kafka egress id, `<namespace>/<name>`, as declared in module.yaml. */
  typename: string;
  /** The Kafka topic to write to. */
  topic: string;
  /** The record key (UTF-8). Left out or empty: a record without a key. */
  key?: string;
} & RecordValue<T>;

/**
 * Builds a record for a Kafka egress (`io.statefun.kafka.v1/egress`). Strings are written as UTF-8 and
 * bytes as they are; other values need a `valueType`, whose serialization becomes the record value.
 *
 * @example
 * ```ts
 * ctx.sendEgress(kafkaEgressMessage({ typename: 'example/greets', topic: 'greetings', key: ctx.self.id, value: `Hello ${name}!` }));
 * ```
 */
export function kafkaEgressMessage<T>(options: KafkaEgressOptions<T>): EgressMessage {
  parseTypename(options.typename, 'Kafka egress message');
  const topic = nonEmpty(options.topic, `Kafka egress message to ${options.typename}: topic`);
  const valueBytes = recordBytes<T>(options, `Kafka egress message to ${options.typename}`);
  return Object.freeze({
    egress: options.typename,
    argument: Object.freeze({
      typename: KAFKA_PRODUCER_RECORD_TYPENAME,
      value: encodeKafkaProducerRecord({ key: options.key ?? '', valueBytes, topic }),
    }),
  });
}

/** Options of {@link kinesisEgressMessage}. */
export type KinesisEgressOptions<T> = {
  /** The Kinesis egress id, `<namespace>/<name>`, as declared in module.yaml. */
  typename: string;
  stream: string;
  partitionKey: string;
  /** Optional explicit hash key. */
  explicitHashKey?: string;
} & RecordValue<T>;

/**
 * Builds a record for a Kinesis egress (`io.statefun.kinesis.v1/egress`).
 *
 * @example
 * ```ts
 * ctx.sendEgress(kinesisEgressMessage({ typename: 'example/events', stream: 'events', partitionKey: ctx.self.id, value: 'hi' }));
 * ```
 */
export function kinesisEgressMessage<T>(options: KinesisEgressOptions<T>): EgressMessage {
  parseTypename(options.typename, 'Kinesis egress message');
  const what = `Kinesis egress message to ${options.typename}`;
  return Object.freeze({
    egress: options.typename,
    argument: Object.freeze({
      typename: KINESIS_EGRESS_RECORD_TYPENAME,
      value: encodeKinesisEgressRecord({
        partitionKey: nonEmpty(options.partitionKey, `${what}: partitionKey`),
        valueBytes: recordBytes<T>(options, what),
        stream: nonEmpty(options.stream, `${what}: stream`),
        explicitHashKey: options.explicitHashKey ?? '',
      }),
    }),
  });
}

/** The egress id of the playground egress (`io.statefun.playground.v1/egress`). */
export const PLAYGROUND_EGRESS = 'io.statefun.playground/egress';

/** The record type of the playground egress: JSON `{ "topic": …, "payload": … }`. */
export const playgroundEgressRecordType: Type<{ topic: string; payload: string }> = jsonType<{
  topic: string;
  payload: string;
}>('io.statefun.playground/EgressRecord');

/**
 * Builds a record for the playground egress (`io.statefun.playground.v1/egress`, egress id
 * `io.statefun.playground/egress`), which serves each topic's payloads at `GET :port/<topic>`.
 *
 * @example
 * ```ts
 * ctx.sendEgress(playgroundEgressMessage({ topic: 'greetings', payload: `Hello ${name}!` }));
 * ```
 */
export function playgroundEgressMessage(options: { topic: string; payload: string }): EgressMessage {
  nonEmpty(options.topic, 'playground egress message: topic');
  if (typeof options.payload !== 'string') {
    throw new SdkError(
      'INVALID_ARGUMENT',
      'playground egress message: the payload must be a string (JSON.stringify objects)',
    );
  }
  return egressMessageBuilder({
    typename: PLAYGROUND_EGRESS,
    value: { topic: options.topic, payload: options.payload },
    valueType: playgroundEgressRecordType,
  });
}
