// Conversion of the log's out-records to kafkajs messages, grouped by topic for one sendBatch.
import type { Message } from 'kafkajs';
import type { OutRecord } from '../log.js';

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
