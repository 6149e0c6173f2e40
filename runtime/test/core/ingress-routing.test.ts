// The ingress router on its own: what one ingress record becomes (a message per target, or a dead
// letter with its code), without a log or a broker.
import { describe, expect, it } from 'vitest';
import { partitionOf } from '../../src/core/address.js';
import { fromInternalRecord, Header } from '../../src/core/envelope.js';
import { routeIngressRecord, type IngressRouting } from '../../src/core/ingress-routing.js';
import type { LogRecord } from '../../src/log/log.js';
import type { KafkaIngressTopic } from '../../src/module/types.js';
import type { RuntimeObserver } from '../../src/observers.js';

const route: KafkaIngressTopic = {
  topic: 'clicks',
  valueType: 'example/Click',
  targets: ['example/counter', 'example/audit'],
};
const routing: IngressRouting = {
  internalTopic: 'internal',
  partitions: 8,
  partitioning: 'address',
  deadLetterTopic: 'dlq',
  ingressId: 'example/in',
};
const now = 1_700_000_000_000;

function record(over: Partial<LogRecord> = {}): LogRecord {
  return {
    topic: 'clicks',
    partition: 3,
    offset: 41,
    key: 'user-7',
    value: new TextEncoder().encode('{"at": "2024-05-01T00:00:00Z"}'),
    headers: {},
    timestamp: 1_690_000_000_000,
    ...over,
  };
}

describe('routeIngressRecord', () => {
  it('makes one internal message per target, keyed and partitioned by the target address', () => {
    const routed = routeIngressRecord(record(), route, routing, now);
    expect(routed.deadLetter).toBe(false);
    expect(routed.eventTime).toBe(1_690_000_000_000);
    expect(routed.records).toHaveLength(2);
    const targets = [
      { namespace: 'example', type: 'counter', id: 'user-7' },
      { namespace: 'example', type: 'audit', id: 'user-7' },
    ];
    routed.records.forEach((out, index) => {
      const target = targets[index]!;
      expect(out.topic).toBe('internal');
      expect(out.partition).toBe(partitionOf(target, 8, 'address'));
      const env = fromInternalRecord({
        ...out,
        partition: out.partition!,
        offset: 0,
        headers: {},
        timestamp: 0,
      });
      expect(env.target).toEqual(target);
      expect(env.caller).toBeUndefined();
      expect(env.argument.typename).toBe('example/Click');
      expect(Buffer.from(env.argument.value).toString()).toBe('{"at": "2024-05-01T00:00:00Z"}');
      expect(env.eventTime).toBe(1_690_000_000_000);
      // One source sequence per target: targets sharing a partition are not taken for a re-move.
      expect(env.source).toEqual({ name: `example/in|clicks|3|${index}`, offset: 41 });
    });
  });

  it('reads the event time from a JSON field when the ingress says so', () => {
    const routed = routeIngressRecord(
      record(),
      route,
      { ...routing, extractor: { type: 'json-field', field: 'at' } },
      now,
    );
    expect(routed.eventTime).toBe(Date.parse('2024-05-01T00:00:00Z'));
  });

  it.each([
    ['INGRESS_TOPIC_UNKNOWN', 'topic clicks has no routing', record(), undefined, routing],
    ['INGRESS_KEY_MISSING', 'no key', record({ key: null }), route, routing],
    ['INGRESS_VALUE_MISSING', 'no value', record({ value: null }), route, routing],
    [
      'INGRESS_EVENT_TIME_INVALID',
      'event-time field "missing" is missing',
      record(),
      route,
      { ...routing, extractor: { type: 'json-field' as const, field: 'missing' } },
    ],
  ])('dead-letters %s with the reason and the record as it was', (code, reason, input, r, opts) => {
    let moving = 0;
    const observer: RuntimeObserver = {
      moving: () => {
        moving++;
        return undefined;
      },
    };
    const routed = routeIngressRecord(input, r, { ...opts, observer }, now);
    expect(routed.deadLetter).toBe(true);
    expect(routed.records).toHaveLength(1);
    const letter = routed.records[0]!;
    expect(letter.topic).toBe('dlq');
    expect(letter.key).toBe(input.key);
    expect(letter.value).toBe(input.value);
    expect(letter.headers?.[Header.code]).toBe(code);
    expect(letter.headers?.[Header.reason]).toContain('ingress example/in: ');
    expect(letter.headers?.[Header.reason]).toContain(reason);
    expect(letter.headers?.[Header.source]).toBe('clicks/3@41');
    // Only records that are moved are observed.
    expect(moving).toBe(0);
  });

  it("adds the observer's headers to every internal record and hands back its observation", () => {
    const seen: string[] = [];
    const observation = { headers: { traceparent: '00-abc-def-01' } };
    const observer: RuntimeObserver = {
      moving: (source, r, targets) => {
        seen.push(`${source} ${r.offset} ${targets.map((t) => t.type).join(',')}`);
        return observation;
      },
    };
    const routed = routeIngressRecord(record(), route, { ...routing, observer }, now);
    expect(seen).toEqual(['kafka:example/in 41 counter,audit']);
    expect(routed.observation).toBe(observation);
    for (const out of routed.records) expect(out.headers?.traceparent).toBe('00-abc-def-01');
  });
});
