// How a message to a function travels in the internal log and how a dead letter is written:
// record key = target address key, value = the encoded TypedValue argument, headers = caller,
// event time and provenance. One format for Kafka and the embedded log.
import type { Address, TypedValue } from '@continuum/sdk/protocol';
import { decodeTypedValue, encodeTypedValue } from '@continuum/sdk/protocol';
import type { LogRecord, OutRecord } from '../log/log.js';
import { addressKey, parseAddressKey, partitionOf } from './address.js';
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
} as const;

/** A message addressed to a function, as the partition task handles it. */
export interface Envelope {
  target: Address;
  caller?: Address | undefined;
  argument: TypedValue;
  /** Event time in ms since the epoch. */
  eventTime: number;
}

export function toInternalRecord(internalTopic: string, partitions: number, env: Envelope): OutRecord {
  const headers: Record<string, string> = { [Header.eventTime]: String(env.eventTime) };
  if (env.caller !== undefined) headers[Header.caller] = addressKey(env.caller);
  return {
    topic: internalTopic,
    partition: partitionOf(env.target, partitions),
    key: addressKey(env.target),
    value: encodeTypedValue(env.argument),
    headers,
    // No timestamp of its own: the broker's retention goes by record timestamps, and event times
    // can be days or years old (a backfill). The event time travels in its header.
  };
}

/** Decodes an internal-log record; throws (ContinuumError/ProtocolError) when it is malformed. */
export function fromInternalRecord(record: LogRecord): Envelope {
  if (record.key === null) throw new TypeError('record has no key (no target address)');
  const target = parseAddressKey(record.key);
  if (record.value === null) throw new TypeError('record has no value');
  const argument = decodeTypedValue(record.value);
  const callerKey = record.headers[Header.caller];
  const et = Number(record.headers[Header.eventTime]);
  return {
    target,
    caller: callerKey === undefined ? undefined : parseAddressKey(callerKey),
    argument,
    // The event time goes into an int64 of the protocol: only whole numbers.
    eventTime: Number.isSafeInteger(et) ? et : record.timestamp,
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
  /** Stable code, e.g. FUNCTION_CALL_FAILED, RECORD_UNDECODABLE. */
  code: string;
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
