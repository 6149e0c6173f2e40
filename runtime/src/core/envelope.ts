// How a message to a function travels in the internal log and how a dead letter is written:
// record key = target address key, value = a small envelope (event time, caller, ingress source)
// and the encoded TypedValue argument. One format for Kafka and the embedded log.
import type { Address, TypedValue } from '@continuum/sdk/protocol';
import { decodeTypedValue, encodeTypedValue } from '@continuum/sdk/protocol';
import type { LogRecord, OutRecord } from '../log/log.js';
import { addressKey, parseAddressKey, partitionOf, type Partitioning } from './address.js';
import type { DeadLetterCode } from './dead-letter-codes.js';
import type { WatermarkMark } from './watermarks.js';

export const Header = {
  caller: 'continuum.caller',
  /** Marker record a checkpoint transaction writes into its own internal partition (value: id). */
  checkpoint: 'continuum.checkpoint',
  /**
   * On records a Kafka ingress moved: the source partition (`ingress|topic|partition`) and the
   * record's offset there. A partition task drops a record whose source offset it already saw,
   * which makes the move exactly-once even when a new ingress owner re-moves records.
   */
  ingressSource: 'continuum.ingress.source',
  ingressOffset: 'continuum.ingress.offset',
  /** Marker a new owner writes into its partition to know where its scan for a checkpoint ends. */
  fence: 'continuum.fence',
  eventTime: 'continuum.event-time',
  /** Dead letters: a human-readable reason and a stable code. */
  reason: 'continuum.dlq.reason',
  code: 'continuum.dlq.code',
  /** Dead letters: where the record came from (`topic/partition@offset`) and its target. */
  source: 'continuum.dlq.source',
  target: 'continuum.dlq.target',
  failedAt: 'continuum.dlq.failed-at',
  typename: 'continuum.dlq.typename',
  /** Watermark marks (records without key and value): the watermark, or `idle`. */
  watermark: 'continuum.watermark',
  /** Watermark marks: the source group (ingress id), the member that sent it, and every member. */
  watermarkGroup: 'continuum.watermark.group',
  watermarkSource: 'continuum.watermark.source',
  watermarkMembers: 'continuum.watermark.members',
  /**
   * Barrier (a record without key and value): an ingress of this process wrote it behind the
   * records it appended to this partition; once the task has taken it, the ingress hands the
   * partition's next records over directly (see core/ingress-handoff.ts). Value: a token.
   */
  barrier: 'continuum.barrier',
} as const;

/** A message addressed to a function, as the partition task handles it. */
export interface Envelope {
  target: Address;
  caller?: Address | undefined;
  argument: TypedValue;
  /** Event time in ms since the epoch. */
  eventTime: number;
  /**
   * Where a Kafka ingress moved it from (`ingress|topic|partition|target index`) and its offset
   * there: a task takes each (source, offset) once.
   */
  source?: { name: string; offset: number } | undefined;
}

/**
 * The value of an internal record: a small binary envelope (format byte, flags, event time,
 * caller, ingress source) followed by the argument's TypedValue bytes. Kafka record headers
 * carried these before; encoding and decoding headers cost the runtime about as much CPU as the
 * rest of the record, so they moved into the value. A value without the format byte is the older
 * form (TypedValue bytes, the rest in headers), still read.
 */
const ENVELOPE_V1 = 0xc1;
const HAS_CALLER = 1;
const HAS_SOURCE = 2;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

function encodeEnvelopeValue(env: Envelope): Uint8Array {
  const argument = encodeTypedValue(env.argument);
  const caller = env.caller === undefined ? undefined : utf8.encode(addressKey(env.caller));
  const source = env.source === undefined ? undefined : utf8.encode(env.source.name);
  const size =
    2 +
    8 +
    (caller === undefined ? 0 : 2 + caller.length) +
    (source === undefined ? 0 : 2 + source.length + 8);
  const out = new Uint8Array(size + argument.length);
  const view = new DataView(out.buffer);
  out[0] = ENVELOPE_V1;
  out[1] = (caller === undefined ? 0 : HAS_CALLER) | (source === undefined ? 0 : HAS_SOURCE);
  view.setFloat64(2, env.eventTime, true);
  let at = 10;
  const text = (bytes: Uint8Array): void => {
    if (bytes.length > 0xffff) throw new TypeError('address or source name too long for an internal record');
    view.setUint16(at, bytes.length, true);
    out.set(bytes, at + 2);
    at += 2 + bytes.length;
  };
  if (caller !== undefined) text(caller);
  if (source !== undefined) {
    text(source);
    view.setFloat64(at, env.source!.offset, true);
    at += 8;
  }
  out.set(argument, at);
  return out;
}

interface DecodedValue {
  eventTime: number;
  caller: string | undefined;
  source: { name: string; offset: number } | undefined;
  argument: Uint8Array;
}

function decodeEnvelopeValue(value: Uint8Array): DecodedValue | undefined {
  if (value.length < 10 || value[0] !== ENVELOPE_V1) return undefined;
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const flags = value[1]!;
  const eventTime = view.getFloat64(2, true);
  let at = 10;
  const text = (): string => {
    const length = view.getUint16(at, true);
    if (at + 2 + length > value.length) throw new TypeError('internal record envelope is truncated');
    const s = fromUtf8.decode(value.subarray(at + 2, at + 2 + length));
    at += 2 + length;
    return s;
  };
  const caller = (flags & HAS_CALLER) !== 0 ? text() : undefined;
  let source: DecodedValue['source'];
  if ((flags & HAS_SOURCE) !== 0) {
    const name = text();
    source = { name, offset: view.getFloat64(at, true) };
    at += 8;
  }
  if (at > value.length) throw new TypeError('internal record envelope is truncated');
  return { eventTime, caller, source, argument: value.subarray(at) };
}

/** The argument's TypedValue bytes of an internal record's value (dead letters carry these). */
export function argumentBytes(value: Uint8Array): Uint8Array {
  try {
    return decodeEnvelopeValue(value)?.argument ?? value;
  } catch {
    return value;
  }
}

/**
 * An internal record with the envelope it was encoded from: a task of this process that an ingress
 * hands it to (core/ingress-handoff.ts) takes the envelope instead of decoding the bytes again.
 */
export interface EncodedRecord extends OutRecord {
  envelope: Envelope;
}

export function toInternalRecord(
  internalTopic: string,
  partitions: number,
  env: Envelope,
  partitioning: Partitioning,
): EncodedRecord {
  return {
    topic: internalTopic,
    partition: partitionOf(env.target, partitions, partitioning),
    key: addressKey(env.target),
    value: encodeEnvelopeValue(env),
    envelope: env,
    // No timestamp of its own: the broker's retention goes by record timestamps, and event times
    // can be days or years old (a backfill). The event time travels in the envelope.
  };
}

/** Decodes an internal-log record; throws (ContinuumError/ProtocolError) when it is malformed. */
export function fromInternalRecord(record: LogRecord): Envelope {
  if (record.key === null) throw new TypeError('record has no key (no target address)');
  const target = parseAddressKey(record.key);
  if (record.value === null) throw new TypeError('record has no value');
  const decoded = decodeEnvelopeValue(record.value);
  if (decoded !== undefined) {
    return {
      target,
      caller: decoded.caller === undefined ? undefined : parseAddressKey(decoded.caller),
      argument: decodeTypedValue(decoded.argument),
      eventTime: Number.isSafeInteger(decoded.eventTime) ? decoded.eventTime : record.timestamp,
      source: decoded.source,
    };
  }
  // The older form: TypedValue bytes, the rest in headers.
  const argument = decodeTypedValue(record.value);
  const callerKey = record.headers[Header.caller];
  const et = Number(record.headers[Header.eventTime]);
  const sourceName = record.headers[Header.ingressSource];
  const sourceOffset = Number(record.headers[Header.ingressOffset]);
  return {
    target,
    caller: callerKey === undefined ? undefined : parseAddressKey(callerKey),
    argument,
    // The event time goes into an int64 of the protocol: only whole numbers.
    eventTime: Number.isSafeInteger(et) ? et : record.timestamp,
    source:
      sourceName === undefined || !Number.isFinite(sourceOffset)
        ? undefined
        : { name: sourceName, offset: sourceOffset },
  };
}

/**
 * The marks a source writes after its records: one per internal partition, in the same append or
 * transaction as the records, so every partition sees the mark after the data it covers.
 */
export function watermarkRecords(
  internalTopic: string,
  partitions: number,
  mark: WatermarkMark,
  now: number,
): OutRecord[] {
  const headers = {
    [Header.watermark]: mark.watermark === 'idle' ? 'idle' : String(mark.watermark),
    [Header.watermarkGroup]: mark.group,
    [Header.watermarkSource]: mark.source,
    [Header.watermarkMembers]: mark.members,
  };
  const out: OutRecord[] = [];
  for (let partition = 0; partition < partitions; partition++) {
    out.push({ topic: internalTopic, partition, key: null, value: null, headers, timestamp: now });
  }
  return out;
}

/** The barrier record an ingress writes into `partition` before handing its records over. */
export function barrierRecord(
  internalTopic: string,
  partition: number,
  token: string,
  now: number,
): OutRecord {
  return {
    topic: internalTopic,
    partition,
    key: null,
    value: null,
    headers: { [Header.barrier]: token },
    timestamp: now,
  };
}

/**
 * The mark a record carries, undefined for an ordinary record. A record with the watermark header
 * but malformed fields reads as `'invalid'`.
 */
export function watermarkOf(record: LogRecord): WatermarkMark | 'invalid' | undefined {
  const text = record.headers[Header.watermark];
  if (text === undefined) return undefined;
  const group = record.headers[Header.watermarkGroup];
  const source = record.headers[Header.watermarkSource];
  const members = record.headers[Header.watermarkMembers];
  if (group === undefined || source === undefined || members === undefined) return 'invalid';
  if (text === 'idle') return { group, source, members, watermark: 'idle' };
  const watermark = Number(text);
  return Number.isSafeInteger(watermark) ? { group, source, members, watermark } : 'invalid';
}

export interface DeadLetter {
  /** Stable code from the catalogue, e.g. FUNCTION_CALL_FAILED, RECORD_UNDECODABLE. */
  code: DeadLetterCode;
  reason: string;
  /** `topic/partition@offset` of the record that failed, when it came from a log. */
  source?: string | undefined;
  target?: Address | undefined;
  caller?: Address | undefined;
  /** The key and value as they were (the raw record for undecodable input). */
  key: string | null;
  value: Uint8Array | null;
  typename?: string | undefined;
  eventTime?: number | undefined;
}

export function deadLetterRecord(topic: string, dl: DeadLetter, now: number): OutRecord {
  const headers: Record<string, string> = {
    [Header.code]: dl.code,
    [Header.reason]: dl.reason,
    [Header.failedAt]: new Date(now).toISOString(),
  };
  if (dl.source !== undefined) headers[Header.source] = dl.source;
  if (dl.target !== undefined) headers[Header.target] = addressKey(dl.target);
  if (dl.caller !== undefined) headers[Header.caller] = addressKey(dl.caller);
  if (dl.typename !== undefined) headers[Header.typename] = dl.typename;
  if (dl.eventTime !== undefined) headers[Header.eventTime] = String(dl.eventTime);
  return { topic, key: dl.key, value: dl.value, headers, timestamp: now };
}

export function sourceOf(r: LogRecord): string {
  return `${r.topic}/${r.partition}@${r.offset}`;
}
