// Conversion between the log's records and kafkajs messages: out-records grouped by topic for one
// sendBatch, and fetched messages as log records.
import type { IHeaders, KafkaMessage, Message } from 'kafkajs';
import type { LogRecord, OutRecord } from '../log.js';

/** Kafka headers as the log carries them: the first value of each, as UTF-8 text. */
export function headersOf(h: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (h === undefined) return out;
  for (const [k, v] of Object.entries(h)) {
    const first: unknown = Array.isArray(v) ? v[0] : v;
    if (Buffer.isBuffer(first)) out[k] = first.toString('utf8');
    else if (typeof first === 'string') out[k] = first;
  }
  return out;
}

/**
 * A fetched kafkajs message of `topic`/`partition` as a log record. The value shares the fetch's
 * buffer unless `copy` (for records kept long: a shared slice would keep the whole fetch alive).
 */
export function logRecordOf(topic: string, partition: number, m: KafkaMessage, copy = false): LogRecord {
  const v = m.value;
  return {
    topic,
    partition,
    offset: Number(m.offset),
    key: m.key === null ? null : m.key.toString('utf8'),
    value:
      v === null ? null : copy ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength),
    headers: headersOf(m.headers),
    timestamp: Number(m.timestamp),
  };
}

export function groupByTopic(records: readonly OutRecord[]): { topic: string; messages: Message[] }[] {
  const byTopic = new Map<string, Message[]>();
  for (const r of records) {
    let list = byTopic.get(r.topic);
    if (list === undefined) {
      list = [];
      byTopic.set(r.topic, list);
    }
    const m: Message = {
      key: r.key,
      value: r.value === null ? null : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength),
    };
    if (r.partition !== undefined) m.partition = r.partition;
    if (r.headers !== undefined) m.headers = r.headers;
    if (r.timestamp !== undefined) m.timestamp = String(r.timestamp);
    list.push(m);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}
