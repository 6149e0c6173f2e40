// Binary codecs of the request-reply protocol messages (ToFunction, FromFunction, TypedValue) and the egress
// records. Encoding is canonical proto3 (fields in number order, default values left out, like the official
// SDKs); decoding accepts any valid encoding and returns the plain shapes of ./messages.ts.
import protobuf from 'protobufjs/light.js';
import { ProtocolError } from '../errors.js';
import type {
  Address,
  DelayedInvocation,
  EgressMessage,
  ExpirationSpec,
  FromFunction,
  IncompleteInvocationContext,
  InvocationBatchRequest,
  InvocationResponse,
  KafkaProducerRecord,
  KinesisEgressRecord,
  OutgoingInvocation,
  PersistedValue,
  PersistedValueMutation,
  PersistedValueSpec,
  ToFunction,
  ToFunctionInvocation,
  TypedValue,
} from './messages.js';
import { ExpireMode, MutationType } from './messages.js';
import { copyBytes, decodeRaw, int64ToNumber, Types, type Int64Like } from './reflection.js';

type Writer = protobuf.Writer;

// Tags: (field number << 3) | wire type, wire type 0 = varint, 2 = length-delimited.
const LEN = 2;
const tag = (field: number, wireType: number): number => ((field << 3) | wireType) >>> 0;

// ---------------------------------------------------------------------------------------------------
// Encoding

function writeString(w: Writer, field: number, s: string | undefined): void {
  if (s) w.uint32(tag(field, LEN)).string(s);
}

function writeBytes(w: Writer, field: number, b: Uint8Array | undefined): void {
  if (b !== undefined && b.length > 0) w.uint32(tag(field, LEN)).bytes(b);
}

function writeBool(w: Writer, field: number, b: boolean | undefined): void {
  if (b) w.uint32(tag(field, 0)).bool(true);
}

function writeEnum(w: Writer, field: number, v: number | undefined): void {
  if (v) w.uint32(tag(field, 0)).int32(v);
}

function writeInt64(w: Writer, field: number, v: number | undefined, where: string): void {
  if (v === undefined || v === 0) return;
  if (!Number.isSafeInteger(v)) {
    throw new ProtocolError(
      'PROTOCOL_OUT_OF_RANGE',
      `${where}: ${v} is not a safe integer and cannot be an int64`,
    );
  }
  w.uint32(tag(field, 0)).int64(v);
}

/** Writes a submessage field. Present-but-empty submessages are written (as a zero-length field). */
function writeMessage<T>(
  w: Writer,
  field: number,
  value: T | undefined,
  write: (w: Writer, v: T) => void,
): void {
  if (value === undefined || value === null) return;
  w.uint32(tag(field, LEN)).fork();
  write(w, value);
  w.ldelim();
}

function writeAddress(w: Writer, a: Address): void {
  writeString(w, 1, a.namespace);
  writeString(w, 2, a.type);
  writeString(w, 3, a.id);
}

function writeTypedValue(w: Writer, v: TypedValue): void {
  writeString(w, 1, v.typename);
  writeBool(w, 2, v.hasValue);
  writeBytes(w, 3, v.value);
}

function writePersistedValue(w: Writer, v: PersistedValue): void {
  writeString(w, 1, v.stateName);
  writeMessage(w, 2, v.stateValue, writeTypedValue);
}

function writeToFunctionInvocation(w: Writer, v: ToFunctionInvocation): void {
  writeMessage(w, 1, v.caller, writeAddress);
  writeMessage(w, 2, v.argument, writeTypedValue);
  writeInt64(w, 1000, v.eventTime, 'ToFunction.Invocation.event_time');
  writeInt64(w, 1001, v.watermark, 'ToFunction.Invocation.watermark');
}

function writeBatchRequest(w: Writer, v: InvocationBatchRequest): void {
  writeMessage(w, 1, v.target, writeAddress);
  for (const s of v.state) writeMessage(w, 2, s, writePersistedValue);
  for (const i of v.invocations) writeMessage(w, 3, i, writeToFunctionInvocation);
}

function writeMutation(w: Writer, v: PersistedValueMutation): void {
  writeEnum(w, 1, v.mutationType);
  writeString(w, 2, v.stateName);
  writeMessage(w, 3, v.stateValue, writeTypedValue);
}

function writeOutgoing(w: Writer, v: OutgoingInvocation): void {
  writeMessage(w, 1, v.target, writeAddress);
  writeMessage(w, 2, v.argument, writeTypedValue);
  writeInt64(w, 1000, v.eventTime, 'FromFunction.Invocation.event_time');
}

function writeDelayed(w: Writer, v: DelayedInvocation): void {
  // Field numbers 1-3 come before 10-11 on the wire (canonical order is by field number).
  writeInt64(w, 1, v.delayInMs, 'FromFunction.DelayedInvocation.delay_in_ms');
  writeMessage(w, 2, v.target, writeAddress);
  writeMessage(w, 3, v.argument, writeTypedValue);
  writeBool(w, 10, v.isCancellationRequest);
  writeString(w, 11, v.cancellationToken);
  writeInt64(w, 1000, v.eventTime, 'FromFunction.DelayedInvocation.event_time');
  writeBool(w, 1001, v.atEventTime);
}

function writeEgress(w: Writer, v: EgressMessage): void {
  writeString(w, 1, v.egressNamespace);
  writeString(w, 2, v.egressType);
  writeMessage(w, 3, v.argument, writeTypedValue);
  writeInt64(w, 1000, v.eventTime, 'FromFunction.EgressMessage.event_time');
}

function writeInvocationResponse(w: Writer, v: InvocationResponse): void {
  for (const m of v.stateMutations) writeMessage(w, 1, m, writeMutation);
  for (const m of v.outgoingMessages) writeMessage(w, 2, m, writeOutgoing);
  for (const m of v.delayedInvocations) writeMessage(w, 3, m, writeDelayed);
  for (const m of v.outgoingEgresses) writeMessage(w, 4, m, writeEgress);
}

function writeExpirationSpec(w: Writer, v: ExpirationSpec): void {
  writeEnum(w, 1, v.mode);
  writeInt64(w, 2, v.expireAfterMillis, 'FromFunction.ExpirationSpec.expire_after_millis');
}

function writeValueSpec(w: Writer, v: PersistedValueSpec): void {
  writeString(w, 1, v.stateName);
  writeMessage(w, 2, v.expirationSpec, writeExpirationSpec);
  writeString(w, 3, v.typeTypename);
}

function writeIncomplete(w: Writer, v: IncompleteInvocationContext): void {
  for (const s of v.missingValues) writeMessage(w, 1, s, writeValueSpec);
}

function finish<T>(value: T, write: (w: Writer, v: T) => void): Uint8Array {
  const w = protobuf.Writer.create();
  write(w, value);
  return w.finish();
}

/** Serializes a `ToFunction` (the request body the runtime POSTs to a function). */
export function encodeToFunction(m: ToFunction): Uint8Array {
  return finish(m, (w, v) => writeMessage(w, 100, v.invocation, writeBatchRequest));
}

/**
 * Serializes a `FromFunction` (a function's response body). `{}` encodes to empty bytes, which every
 * runtime reads as an empty `InvocationResponse`. Setting both oneof members is a programming error.
 */
export function encodeFromFunction(m: FromFunction): Uint8Array {
  if (m.invocationResult !== undefined && m.incompleteInvocationContext !== undefined) {
    throw new ProtocolError(
      'PROTOCOL_MALFORMED',
      'FromFunction: invocationResult and incompleteInvocationContext are a oneof; set at most one of them',
    );
  }
  return finish(m, (w, v) => {
    writeMessage(w, 100, v.invocationResult, writeInvocationResponse);
    writeMessage(w, 101, v.incompleteInvocationContext, writeIncomplete);
  });
}

/** Serializes a `TypedValue`. */
export function encodeTypedValue(v: TypedValue): Uint8Array {
  return finish(v, writeTypedValue);
}

/** Serializes a `KafkaProducerRecord` (the argument of a Kafka egress message). */
export function encodeKafkaProducerRecord(r: KafkaProducerRecord): Uint8Array {
  return finish(r, (w, v) => {
    writeString(w, 1, v.key);
    writeBytes(w, 2, v.valueBytes);
    writeString(w, 3, v.topic);
  });
}

/** Serializes a `KinesisEgressRecord` (the argument of a Kinesis egress message). */
export function encodeKinesisEgressRecord(r: KinesisEgressRecord): Uint8Array {
  return finish(r, (w, v) => {
    writeString(w, 1, v.partitionKey);
    writeBytes(w, 2, v.valueBytes);
    writeString(w, 3, v.stream);
    writeString(w, 4, v.explicitHashKey);
  });
}

// ---------------------------------------------------------------------------------------------------
// Decoding. protobufjs fills absent scalars from prototype defaults; absent submessages read as null.

type Opt<T> = T | null | undefined;

interface RawAddress {
  namespace: string;
  type: string;
  id: string;
}
interface RawTypedValue {
  typename: string;
  hasValue: boolean;
  value: Uint8Array;
}
interface RawPersistedValue {
  stateName: string;
  stateValue: Opt<RawTypedValue>;
}
interface RawToFnInvocation {
  caller: Opt<RawAddress>;
  argument: Opt<RawTypedValue>;
  eventTime: Int64Like;
  watermark: Int64Like;
}
interface RawBatch {
  target: Opt<RawAddress>;
  state: RawPersistedValue[];
  invocations: RawToFnInvocation[];
}
interface RawToFunction {
  invocation: Opt<RawBatch>;
}
interface RawMutation {
  mutationType: number;
  stateName: string;
  stateValue: Opt<RawTypedValue>;
}
interface RawOutgoing {
  target: Opt<RawAddress>;
  argument: Opt<RawTypedValue>;
  eventTime: Int64Like;
}
interface RawDelayed {
  isCancellationRequest: boolean;
  cancellationToken: string;
  delayInMs: Int64Like;
  target: Opt<RawAddress>;
  argument: Opt<RawTypedValue>;
  eventTime: Int64Like;
  atEventTime: boolean;
}
interface RawEgress {
  egressNamespace: string;
  egressType: string;
  argument: Opt<RawTypedValue>;
  eventTime: Int64Like;
}
interface RawInvocationResponse {
  stateMutations: RawMutation[];
  outgoingMessages: RawOutgoing[];
  delayedInvocations: RawDelayed[];
  outgoingEgresses: RawEgress[];
}
interface RawExpirationSpec {
  mode: number;
  expireAfterMillis: Int64Like;
}
interface RawValueSpec {
  stateName: string;
  expirationSpec: Opt<RawExpirationSpec>;
  typeTypename: string;
}
interface RawIncomplete {
  missingValues: RawValueSpec[];
}
interface RawFromFunction {
  invocationResult: Opt<RawInvocationResponse>;
  incompleteInvocationContext: Opt<RawIncomplete>;
}
interface RawKafkaRecord {
  key: string;
  valueBytes: Uint8Array;
  topic: string;
}
interface RawKinesisRecord {
  partitionKey: string;
  valueBytes: Uint8Array;
  stream: string;
  explicitHashKey: string;
}

const present = <T>(v: Opt<T>): v is T => v !== null && v !== undefined;

function missing(where: string): ProtocolError {
  return new ProtocolError('PROTOCOL_MISSING_FIELD', `${where} is missing; the sender must set it`);
}

function address(r: RawAddress): Address {
  return { namespace: r.namespace, type: r.type, id: r.id };
}

function requiredAddress(r: Opt<RawAddress>, where: string): Address {
  if (!present(r)) throw missing(where);
  return address(r);
}

function typedValue(r: RawTypedValue): TypedValue {
  return { typename: r.typename, hasValue: r.hasValue, value: copyBytes(r.value) };
}

/** A missing TypedValue argument reads as "no value": proto3 cannot tell it apart from an empty one. */
function argumentOrEmpty(r: Opt<RawTypedValue>): TypedValue {
  return present(r) ? typedValue(r) : { typename: '', hasValue: false, value: new Uint8Array(0) };
}

function persistedValue(r: RawPersistedValue): PersistedValue {
  const out: PersistedValue = { stateName: r.stateName };
  if (present(r.stateValue)) out.stateValue = typedValue(r.stateValue);
  return out;
}

/** An extension int64 (event time, watermark): 0 means "not set", so it reads as absent. */
function optionalInt64(v: Int64Like, where: string): number | undefined {
  const n = int64ToNumber(v, where);
  return n === 0 ? undefined : n;
}

function toFnInvocation(r: RawToFnInvocation): ToFunctionInvocation {
  const out: ToFunctionInvocation = { argument: argumentOrEmpty(r.argument) };
  if (present(r.caller)) out.caller = address(r.caller);
  const eventTime = optionalInt64(r.eventTime, 'ToFunction.Invocation.event_time');
  if (eventTime !== undefined) out.eventTime = eventTime;
  const watermark = optionalInt64(r.watermark, 'ToFunction.Invocation.watermark');
  if (watermark !== undefined) out.watermark = watermark;
  return out;
}

function enumValue<T extends number>(v: number, allowed: Record<string, T>, where: string): T {
  for (const a of Object.values(allowed)) if (a === v) return a;
  throw new ProtocolError(
    'PROTOCOL_UNKNOWN_ENUM',
    `${where}: ${v} is not one of ${Object.entries(allowed)
      .map(([k, n]) => `${k}=${n}`)
      .join(', ')}`,
  );
}

function mutation(r: RawMutation): PersistedValueMutation {
  const out: PersistedValueMutation = {
    mutationType: enumValue(
      r.mutationType,
      MutationType,
      'FromFunction.PersistedValueMutation.mutation_type',
    ),
    stateName: r.stateName,
  };
  if (present(r.stateValue)) out.stateValue = typedValue(r.stateValue);
  return out;
}

function outgoing(r: RawOutgoing): OutgoingInvocation {
  const out: OutgoingInvocation = {
    target: requiredAddress(r.target, 'FromFunction.Invocation.target'),
    argument: argumentOrEmpty(r.argument),
  };
  const eventTime = optionalInt64(r.eventTime, 'FromFunction.Invocation.event_time');
  if (eventTime !== undefined) out.eventTime = eventTime;
  return out;
}

function delayed(r: RawDelayed): DelayedInvocation {
  const out: DelayedInvocation = {
    isCancellationRequest: r.isCancellationRequest,
    cancellationToken: r.cancellationToken,
    delayInMs: int64ToNumber(r.delayInMs, 'FromFunction.DelayedInvocation.delay_in_ms'),
  };
  if (present(r.target)) out.target = address(r.target);
  if (present(r.argument)) out.argument = typedValue(r.argument);
  const eventTime = optionalInt64(r.eventTime, 'FromFunction.DelayedInvocation.event_time');
  if (eventTime !== undefined) out.eventTime = eventTime;
  if (r.atEventTime) out.atEventTime = true;
  return out;
}

function egress(r: RawEgress): EgressMessage {
  const out: EgressMessage = {
    egressNamespace: r.egressNamespace,
    egressType: r.egressType,
    argument: argumentOrEmpty(r.argument),
  };
  const eventTime = optionalInt64(r.eventTime, 'FromFunction.EgressMessage.event_time');
  if (eventTime !== undefined) out.eventTime = eventTime;
  return out;
}

function valueSpec(r: RawValueSpec): PersistedValueSpec {
  const out: PersistedValueSpec = { stateName: r.stateName, typeTypename: r.typeTypename };
  if (present(r.expirationSpec)) {
    out.expirationSpec = {
      mode: enumValue(r.expirationSpec.mode, ExpireMode, 'FromFunction.ExpirationSpec.mode'),
      expireAfterMillis: int64ToNumber(
        r.expirationSpec.expireAfterMillis,
        'FromFunction.ExpirationSpec.expire_after_millis',
      ),
    };
  }
  return out;
}

/**
 * Parses a `ToFunction`. A message without `invocation` reads as `{}`.
 * @throws {ProtocolError} on bytes that are not a valid `ToFunction`, or a batch without a target.
 */
export function decodeToFunction(bytes: Uint8Array): ToFunction {
  const raw = decodeRaw<RawToFunction>(Types.toFunction, bytes, 'ToFunction');
  if (!present(raw.invocation)) return {};
  const b = raw.invocation;
  return {
    invocation: {
      target: requiredAddress(b.target, 'ToFunction.invocation.target'),
      state: b.state.map(persistedValue),
      invocations: b.invocations.map(toFnInvocation),
    },
  };
}

/** Options of {@link decodeToFunctionInSteps}. */
export interface StepwiseDecodeOptions {
  /** Invocations decoded between two calls of `pause`. */
  step: number;
  /** Called between steps (e.g. to yield to the event loop). */
  pause: () => Promise<void>;
}

/**
 * How many invocations a ToFunction carries, from a scan of its wire format without decoding
 * it; undefined when the bytes are not a simple valid encoding (decode them to learn why).
 */
export function countInvocations(bytes: Uint8Array): number | undefined {
  const batch = batchRange(bytes);
  if (batch === undefined) return undefined;
  if (batch === null) return 0;
  let count = 0;
  const valid = forEachField(bytes, batch.start, batch.end, (f) => {
    if (f.field === 3) count++;
  });
  return valid ? count : undefined;
}

/**
 * Like {@link decodeToFunction}, but decodes the invocations `step` at a time and awaits `pause`
 * between steps, so a huge batch does not hold the event loop for its whole decoding.
 * @throws {ProtocolError} as decodeToFunction.
 */
export async function decodeToFunctionInSteps(
  bytes: Uint8Array,
  options: StepwiseDecodeOptions,
): Promise<ToFunction> {
  const batch = batchRange(bytes);
  const fields = batch ? scanFields(bytes, batch.start, batch.end) : undefined;
  // Anything but one plain batch field: the one-shot decoder handles (and explains) it.
  if (batch === undefined || batch === null || fields === undefined) return decodeToFunction(bytes);
  const rest = fields.filter((f) => f.field !== 3);
  const head = new Uint8Array(rest.reduce((n, f) => n + (f.end - f.start), 0));
  let at = 0;
  for (const f of rest) {
    head.set(bytes.subarray(f.start, f.end), at);
    at += f.end - f.start;
  }
  const raw = decodeRaw<RawBatch>(Types.invocationBatch, head, 'ToFunction.invocation');
  const target = requiredAddress(raw.target, 'ToFunction.invocation.target');
  const state = raw.state.map(persistedValue);
  const invocations: ToFunctionInvocation[] = [];
  let sinceStep = 0;
  for (const f of fields) {
    if (f.field !== 3) continue;
    if (sinceStep++ >= options.step) {
      sinceStep = 1;
      await options.pause();
    }
    const invocation = decodeRaw<RawToFnInvocation>(
      Types.toFunctionInvocation,
      bytes.subarray(f.valueStart, f.end),
      'ToFunction.Invocation',
    );
    invocations.push(toFnInvocation(invocation));
  }
  return { invocation: { target, state, invocations } };
}

interface ScannedField {
  field: number;
  /** From the tag to the end of the value. */
  start: number;
  valueStart: number;
  end: number;
}

/** The value range of the one `invocation` field (100) of a ToFunction; null when absent. */
function batchRange(bytes: Uint8Array): { start: number; end: number } | null | undefined {
  const fields = scanFields(bytes, 0, bytes.length);
  if (fields === undefined) return undefined;
  const batches = fields.filter((f) => f.field === 100);
  if (batches.length > 1 || batches.some((f) => f.valueStart === f.start)) return undefined;
  const [only] = batches;
  return only === undefined ? null : { start: only.valueStart, end: only.end };
}

/** The fields of a message in `bytes[start, end)`; undefined on anything malformed or a group. */
function scanFields(bytes: Uint8Array, start: number, end: number): ScannedField[] | undefined {
  const out: ScannedField[] = [];
  return forEachField(bytes, start, end, (f) => out.push(f)) ? out : undefined;
}

/** Calls `visit` for each field of the message in `bytes[start, end)`; false when malformed. */
function forEachField(
  bytes: Uint8Array,
  start: number,
  end: number,
  visit: (field: ScannedField) => void,
): boolean {
  let at = start;
  const varint = (): number | undefined => {
    let value = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      const byte = bytes[at++];
      if (byte === undefined || at > end) return undefined;
      if (shift < 53) value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
    }
    return undefined;
  };
  while (at < end) {
    const fieldStart = at;
    const key = varint();
    if (key === undefined) return false;
    const field = Math.floor(key / 8);
    const wireType = key % 8;
    let valueStart = fieldStart;
    if (wireType === 0) {
      if (varint() === undefined) return false;
    } else if (wireType === 1) at += 8;
    else if (wireType === 5) at += 4;
    else if (wireType === LEN) {
      const length = varint();
      if (length === undefined) return false;
      valueStart = at;
      at += length;
    } else return false;
    if (at > end || field === 0) return false;
    visit({ field, start: fieldStart, valueStart, end: at });
  }
  return true;
}

/**
 * Parses a `FromFunction`. Empty bytes, or a message with neither oneof member set, read as `{}`:
 * an empty InvocationResponse (no effects).
 * @throws {ProtocolError} on bytes that are not a valid `FromFunction`, unknown enum values, int64 values
 * beyond ±2^53, outgoing messages without a target, or both oneof members set.
 */
export function decodeFromFunction(bytes: Uint8Array): FromFunction {
  const raw = decodeRaw<RawFromFunction>(Types.fromFunction, bytes, 'FromFunction');
  if (present(raw.invocationResult) && present(raw.incompleteInvocationContext)) {
    throw new ProtocolError(
      'PROTOCOL_MALFORMED',
      'FromFunction: both invocation_result and incomplete_invocation_context are set; a response carries one',
    );
  }
  if (present(raw.invocationResult)) {
    const r = raw.invocationResult;
    return {
      invocationResult: {
        stateMutations: r.stateMutations.map(mutation),
        outgoingMessages: r.outgoingMessages.map(outgoing),
        delayedInvocations: r.delayedInvocations.map(delayed),
        outgoingEgresses: r.outgoingEgresses.map(egress),
      },
    };
  }
  if (present(raw.incompleteInvocationContext)) {
    return {
      incompleteInvocationContext: {
        missingValues: raw.incompleteInvocationContext.missingValues.map(valueSpec),
      },
    };
  }
  return {};
}

/**
 * Parses a `TypedValue`.
 * @throws {ProtocolError} on bytes that are not a valid `TypedValue`.
 */
export function decodeTypedValue(bytes: Uint8Array): TypedValue {
  return typedValue(decodeRaw<RawTypedValue>(Types.typedValue, bytes, 'TypedValue'));
}

/**
 * Parses a `KafkaProducerRecord`.
 * @throws {ProtocolError} on bytes that are not a valid `KafkaProducerRecord`.
 */
export function decodeKafkaProducerRecord(bytes: Uint8Array): KafkaProducerRecord {
  const r = decodeRaw<RawKafkaRecord>(Types.kafkaProducerRecord, bytes, 'KafkaProducerRecord');
  return { key: r.key, valueBytes: copyBytes(r.valueBytes), topic: r.topic };
}

/**
 * Parses a `KinesisEgressRecord`.
 * @throws {ProtocolError} on bytes that are not a valid `KinesisEgressRecord`.
 */
export function decodeKinesisEgressRecord(bytes: Uint8Array): KinesisEgressRecord {
  const r = decodeRaw<RawKinesisRecord>(Types.kinesisEgressRecord, bytes, 'KinesisEgressRecord');
  return {
    partitionKey: r.partitionKey,
    valueBytes: copyBytes(r.valueBytes),
    stream: r.stream,
    explicitHashKey: r.explicitHashKey,
  };
}
