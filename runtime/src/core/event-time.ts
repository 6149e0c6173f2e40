// Reading a record's event time: its own timestamp (Kafka record time, the ingress time for the
// playground) or a JSON field of its value. Pure; the ingresses and the ingress router use it.
import type { EventTimeExtractor } from '../module/types.js';

export type ExtractedTime = { ok: true; eventTime: number } | { ok: false; reason: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The event time of a record. `timestamp` is the record's own time (Kafka timestamp, or the ingress
 * time for the playground); a missing one (≤ 0) falls back to `now`.
 */
export function extractEventTime(
  extractor: EventTimeExtractor,
  value: Uint8Array | null,
  timestamp: number,
  now: number,
): ExtractedTime {
  if (extractor.type !== 'json-field') {
    return { ok: true, eventTime: Number.isSafeInteger(timestamp) && timestamp > 0 ? timestamp : now };
  }
  const field = extractor.field;
  if (value === null) return { ok: false, reason: `no value to read event-time field "${field}" from` };
  let node: unknown;
  try {
    node = JSON.parse(utf8.decode(value));
  } catch {
    return { ok: false, reason: `the value is not UTF-8 JSON, so it has no event-time field "${field}"` };
  }
  for (const part of field.split('.')) {
    node =
      node !== null && typeof node === 'object' && !Array.isArray(node)
        ? (node as Record<string, unknown>)[part]
        : undefined;
  }
  let time: number;
  if (typeof node === 'number') time = Math.floor(node);
  else if (typeof node === 'string') time = Date.parse(node);
  else
    return {
      ok: false,
      reason: `event-time field "${field}" is ${node === undefined ? 'missing' : `a ${typeof node}`}; expected ms since the epoch or ISO-8601 text`,
    };
  if (!Number.isSafeInteger(time) || time <= 0) {
    return {
      ok: false,
      reason: `event-time field "${field}" holds ${JSON.stringify(node)}, not a time after the epoch`,
    };
  }
  return { ok: true, eventTime: time };
}
