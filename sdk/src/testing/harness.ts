// In-process invocation of a function for unit tests: builds the ToFunction a runtime would send, runs it
// through the real request-reply handler (codecs included), and decodes the effects into typed views.
import { address, fromWireAddress, type Address } from '../address.js';
import { SdkError } from '../errors.js';
import type { StatefulFunction } from '../function.js';
import { createRequestReplyHandler } from '../handler.js';
import { PLAYGROUND_EGRESS, playgroundEgressRecordType, type Message } from '../message.js';
import { MessageImpl } from '../message-impl.js';
import {
  decodeFromFunction,
  decodeKafkaProducerRecord,
  decodeKinesisEgressRecord,
  encodeToFunction,
} from '../protocol/codec.js';
import {
  KAFKA_PRODUCER_RECORD_TYPENAME,
  KINESIS_EGRESS_RECORD_TYPENAME,
  MutationType,
  type InvocationResponse,
  type PersistedValue,
  type ToFunctionInvocation,
  type TypedValue,
} from '../protocol/messages.js';
import type { SpecValue, Specs } from '../spec.js';
import { customType, types, type Type } from '../types.js';

/** One message to deliver in a test, built with {@link testMessage}. */
export interface TestMessage<T> {
  readonly value: T;
  readonly type: Type<T>;
  /** The sender; `undefined` means the message comes from an ingress. */
  readonly caller?: Address | undefined;
  /** The message's event time (ms since the epoch); `undefined` falls back to {@link InvokeOptions.eventTime}. */
  readonly eventTime?: number | undefined;
  /** The watermark at the message; `undefined` falls back to {@link InvokeOptions.watermark}. */
  readonly watermark?: number | undefined;
}

/** Options of {@link testMessage} and {@link testMessageFrom}. */
export interface TestMessageOptions {
  /** The sender; left out, the message comes from an ingress (or the caller of {@link InvokeOptions}). */
  caller?: Address;
  /**
   * The event time of the message in ms since the epoch, as `ctx.eventTime` and `message.eventTime` see it.
   * @example `{ eventTime: Date.parse('2024-05-01T12:00:05Z') }`
   */
  eventTime?: number;
  /**
   * The watermark at the message, as `ctx.watermark` sees it; a message whose event time is behind it is late.
   * @example `{ eventTime: 1_000, watermark: 5_000 }` (a message 4 s late)
   */
  watermark?: number;
}

/**
 * A message to deliver in {@link invoke}.
 *
 * @example
 * ```ts
 * testMessage(types.int, 3, { caller: address('example/user', 'bob') })
 * testMessage(Click, { page: '/' }, { eventTime: 61_000, watermark: 60_000 })
 * ```
 */
export function testMessage<T>(type: Type<T>, value: T, options: TestMessageOptions = {}): TestMessage<T> {
  for (const key of ['eventTime', 'watermark'] as const) {
    const v = options[key];
    if (v !== undefined && (!Number.isSafeInteger(v) || v === 0)) {
      throw new SdkError(
        'INVALID_ARGUMENT',
        `testMessage: ${key} must be a non-zero integer of ms since the epoch (0 means "unknown" on the wire), got ${v}`,
      );
    }
  }
  return Object.freeze({
    value,
    type,
    caller: options.caller,
    eventTime: options.eventTime,
    watermark: options.watermark,
  });
}

/**
 * A message to deliver in {@link invoke} made from one a function sent (e.g. an entry of
 * {@link InvocationResult.sent}): same type name, same bytes. Useful to route messages between functions in a test.
 *
 * @example
 * ```ts
 * const reply = (await invoke(inventory, { id: 'socks', messages: [reserve] })).sent[0]!;
 * await invoke(cart, { id: reply.target.id, messages: [testMessageFrom(reply, { caller: address('example/inventory', 'socks') })] });
 * ```
 */
export function testMessageFrom(message: Message, options: TestMessageOptions = {}): TestMessage<Uint8Array> {
  const raw = customType<Uint8Array>(
    message.typename,
    (b) => b,
    (b) => b,
  );
  const eventTime = options.eventTime ?? message.eventTime;
  return testMessage(raw, message.rawValue, eventTime === undefined ? options : { ...options, eventTime });
}

/** Initial state for {@link invoke}: any subset of the function's states. */
export type InitialState<S extends Specs> = { [K in keyof S]?: SpecValue<S[K]> | undefined };

/** The final state after {@link invoke}: every declared state, `undefined` when empty. */
export type FinalState<S extends Specs> = { [K in keyof S]: SpecValue<S[K]> | undefined };

/** Options of {@link invoke}. */
export interface InvokeOptions<S extends Specs> {
  /**
   * The id of the invoked instance.
   * @defaultValue 'test-id'
   */
  id?: string;
  /**
   * The state before the batch.
   * @example `{ seen: 2 }`
   */
  state?: InitialState<S>;
  /**
   * The messages of the batch, in order. A plain string is a `types.string` message.
   * @example `['alice', testMessage(types.int, 3)]`
   */
  messages: readonly (string | TestMessage<unknown>)[];
  /**
   * The caller of every message that does not name its own; default: none (as if from an ingress).
   * @example `{ caller: address('example/user', 'bob') }`
   */
  caller?: Address;
  /**
   * The event time of every message that does not name its own; default: none (unknown).
   * @example `{ eventTime: Date.parse('2024-05-01T12:00:00Z') }`
   */
  eventTime?: number;
  /**
   * The watermark at every message that does not name its own; default: none.
   * @example `{ watermark: Date.parse('2024-05-01T12:00:00Z') }`
   */
  watermark?: number;
}

/** A message the function sent, readable like a received {@link Message}. */
export interface SentMessage extends Message {
  readonly target: Address;
}

/** A delayed message the function sent. */
export interface DelayedMessage extends SentMessage {
  readonly delayMs: number;
  /** `undefined` when sent without a cancellation token. */
  readonly cancellationToken: string | undefined;
}

/** An event-time timer the function set with `ctx.sendAtEventTime`. */
export interface EventTimeTimer extends SentMessage {
  /** When it fires: once the watermark reaches this time (ms since the epoch); also its event time. */
  readonly time: number;
  /** `undefined` when set without a cancellation token. */
  readonly cancellationToken: string | undefined;
}

/** A Kafka record sent to an egress. */
export interface KafkaRecord {
  readonly topic: string;
  /** `undefined` for a record without a key. */
  readonly key: string | undefined;
  readonly value: Uint8Array;
  /** The value as UTF-8. */
  valueAsString(): string;
  /** The value deserialized with `type`. */
  valueAs<T>(type: Type<T>): T;
}

/** A Kinesis record sent to an egress. */
export interface KinesisRecord {
  readonly stream: string;
  readonly partitionKey: string;
  /** `undefined` when not set. */
  readonly explicitHashKey: string | undefined;
  readonly value: Uint8Array;
  valueAsString(): string;
  valueAs<T>(type: Type<T>): T;
}

/** A payload sent to the playground egress (`playgroundEgressMessage`). */
export interface PlaygroundEgressRecord {
  /** The topic it is served under (`GET :port/<topic>`). */
  readonly topic: string;
  /** The payload exactly as `GET :port/<topic>` answers it. */
  readonly payload: string;
}

/** An egress message the function sent. */
export interface SentEgress extends Message {
  /** The egress id, `<namespace>/<name>`. */
  readonly egress: string;
  /** The Kafka record; throws if this is not a Kafka egress record. */
  asKafkaRecord(): KafkaRecord;
  /** The Kinesis record; throws if this is not a Kinesis egress record. */
  asKinesisRecord(): KinesisRecord;
  /** The playground egress record; throws if this is not one (see `playgroundEgressMessage`). */
  asPlaygroundEgress(): PlaygroundEgressRecord;
}

/** What one batch did. */
export interface InvocationResult<S extends Specs> {
  /** Every declared state after the batch. */
  readonly state: FinalState<S>;
  /** The states the batch wrote or deleted, in spec order. */
  readonly stateChanges: readonly { readonly name: keyof S & string; readonly kind: 'modify' | 'delete' }[];
  /** Messages to functions, in the order sent. */
  readonly sent: readonly SentMessage[];
  /** Delayed messages (processing time), in the order sent. */
  readonly delayed: readonly DelayedMessage[];
  /** Event-time timers (`ctx.sendAtEventTime`), in the order set. */
  readonly timers: readonly EventTimeTimer[];
  /** Tokens of the delayed messages and timers the function cancelled, in order. */
  readonly cancellations: readonly string[];
  /** Egress messages, in the order sent. */
  readonly egress: readonly SentEgress[];
  /** The response exactly as it would go over the wire (decoded). */
  readonly response: InvocationResponse;
}

const utf8 = new TextDecoder();

class MessageView extends MessageImpl {
  constructor(value: TypedValue, eventTime: number | undefined, extra: object) {
    super(value, { eventTime });
    Object.assign(this, extra);
  }
}

function view<T extends object>(value: TypedValue, eventTime: number | undefined, extra: T): Message & T {
  return Object.freeze(new MessageView(value, eventTime, extra)) as unknown as Message & T;
}

function kafkaView(bytes: Uint8Array): KafkaRecord {
  const r = decodeKafkaProducerRecord(bytes);
  return Object.freeze({
    topic: r.topic,
    key: r.key === '' ? undefined : r.key,
    value: r.valueBytes,
    valueAsString: () => utf8.decode(r.valueBytes),
    valueAs: <T>(type: Type<T>) => type.deserialize(r.valueBytes),
  });
}

function kinesisView(bytes: Uint8Array): KinesisRecord {
  const r = decodeKinesisEgressRecord(bytes);
  return Object.freeze({
    stream: r.stream,
    partitionKey: r.partitionKey,
    explicitHashKey: r.explicitHashKey === '' ? undefined : r.explicitHashKey,
    value: r.valueBytes,
    valueAsString: () => utf8.decode(r.valueBytes),
    valueAs: <T>(type: Type<T>) => type.deserialize(r.valueBytes),
  });
}

function playgroundView(value: TypedValue, egress: string): PlaygroundEgressRecord {
  if (egress !== PLAYGROUND_EGRESS) {
    throw new SdkError('TYPE_MISMATCH', `the egress message to ${egress} is not for ${PLAYGROUND_EGRESS}`);
  }
  const record = playgroundEgressRecordType.deserialize(
    recordOf(value, playgroundEgressRecordType.typename, egress),
  );
  return Object.freeze({ topic: record.topic, payload: record.payload });
}

function recordOf(value: TypedValue, expected: string, egress: string): Uint8Array {
  if (value.typename !== expected) {
    throw new SdkError(
      'TYPE_MISMATCH',
      `the egress message to ${egress} is of type ${value.typename}, not ${expected}`,
    );
  }
  return value.value;
}

/**
 * Invokes `fn` in-process with one batch of messages, as the runtime would (state negotiation aside: every
 * declared state is attached), and returns what the batch did. No HTTP, no runtime.
 *
 * @throws {SdkError} `FUNCTION_FAILED` (with the original error as `cause`) when the function throws.
 *
 * @example
 * ```ts
 * const result = await invoke(greeter, { id: 'alice', state: { seen: 1 }, messages: ['Alice'] });
 * expect(result.state.seen).toBe(2);
 * expect(result.egress[0]!.asKafkaRecord().valueAsString()).toBe('Hello Alice, visit #2');
 * ```
 */
export async function invoke<S extends Specs>(
  fn: StatefulFunction<S>,
  options: InvokeOptions<S>,
): Promise<InvocationResult<S>> {
  const self = address(fn.typename, options.id ?? 'test-id');
  const specs = fn.specs as Specs;
  const initial = (options.state ?? {}) as Record<string, unknown>;
  for (const name of Object.keys(initial)) {
    if (!Object.hasOwn(specs, name)) {
      throw new SdkError(
        'INVALID_ARGUMENT',
        `invoke: state.${name} is not declared in the specs of ${fn.typename}`,
      );
    }
  }

  const state: PersistedValue[] = Object.entries(specs).map(([name, spec]) => {
    const value = initial[name];
    if (value === undefined || value === null) return { stateName: name };
    return {
      stateName: name,
      stateValue: { typename: spec.type.typename, hasValue: true, value: spec.type.serialize(value) },
    };
  });
  const invocations: ToFunctionInvocation[] = options.messages.map((m) => {
    const input: TestMessage<unknown> = typeof m === 'string' ? testMessage(types.string, m) : m;
    const caller = input.caller ?? options.caller;
    const invocation: ToFunctionInvocation = {
      argument: { typename: input.type.typename, hasValue: true, value: input.type.serialize(input.value) },
    };
    if (caller !== undefined)
      invocation.caller = { namespace: caller.namespace, type: caller.type, id: caller.id };
    const eventTime = input.eventTime ?? options.eventTime;
    const watermark = input.watermark ?? options.watermark;
    if (eventTime !== undefined) invocation.eventTime = eventTime;
    if (watermark !== undefined) invocation.watermark = watermark;
    return invocation;
  });

  const handler = createRequestReplyHandler([fn]);
  const request = encodeToFunction({
    invocation: { target: { namespace: self.namespace, type: self.type, id: self.id }, state, invocations },
  });
  const reply = decodeFromFunction(await handler.handle(request));
  const response = reply.invocationResult;
  if (response === undefined) {
    throw new SdkError(
      'INVALID_ARGUMENT',
      `invoke: ${fn.typename} asked for states although all were attached`,
    );
  }

  const finalState: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const before = state.find((s) => s.stateName === name)?.stateValue;
    finalState[name] = before === undefined ? undefined : spec.type.deserialize(before.value);
  }
  const stateChanges: { name: keyof S & string; kind: 'modify' | 'delete' }[] = [];
  for (const m of response.stateMutations) {
    const spec = specs[m.stateName];
    if (spec === undefined)
      throw new SdkError('INVALID_ARGUMENT', `invoke: mutation of undeclared state ${m.stateName}`);
    const modify = m.mutationType === MutationType.MODIFY;
    finalState[m.stateName] =
      modify && m.stateValue !== undefined ? spec.type.deserialize(m.stateValue.value) : undefined;
    stateChanges.push({ name: m.stateName, kind: modify ? 'modify' : 'delete' });
  }

  const sent = response.outgoingMessages.map((m) =>
    view(m.argument, m.eventTime, { target: fromWireAddress(m.target) }),
  );
  const delayed: DelayedMessage[] = [];
  const timers: EventTimeTimer[] = [];
  const cancellations: string[] = [];
  for (const d of response.delayedInvocations) {
    if (d.isCancellationRequest) {
      cancellations.push(d.cancellationToken);
    } else if (d.target !== undefined && d.argument !== undefined) {
      const cancellationToken = d.cancellationToken === '' ? undefined : d.cancellationToken;
      const target = fromWireAddress(d.target);
      if (d.atEventTime === true && d.eventTime !== undefined) {
        timers.push(view(d.argument, d.eventTime, { target, time: d.eventTime, cancellationToken }));
      } else {
        delayed.push(view(d.argument, d.eventTime, { target, delayMs: d.delayInMs, cancellationToken }));
      }
    }
  }
  const egress = response.outgoingEgresses.map((e) => {
    const id = `${e.egressNamespace}/${e.egressType}`;
    return view(e.argument, e.eventTime, {
      egress: id,
      asKafkaRecord: () => kafkaView(recordOf(e.argument, KAFKA_PRODUCER_RECORD_TYPENAME, id)),
      asKinesisRecord: () => kinesisView(recordOf(e.argument, KINESIS_EGRESS_RECORD_TYPENAME, id)),
      asPlaygroundEgress: () => playgroundView(e.argument, id),
    });
  });

  return Object.freeze({
    state: Object.freeze(finalState) as FinalState<S>,
    stateChanges: Object.freeze(stateChanges),
    sent: Object.freeze(sent),
    delayed: Object.freeze(delayed),
    timers: Object.freeze(timers),
    cancellations: Object.freeze(cancellations),
    egress: Object.freeze(egress),
    response,
  });
}
