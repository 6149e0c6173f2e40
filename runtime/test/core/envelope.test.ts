import { describe, expect, it } from 'vitest';
import { encodeTypedValue } from '@continuum/sdk/protocol';
import { fromInternalRecord, toInternalRecord, type Envelope } from '../../src/core/envelope.js';
import type { LogRecord, OutRecord } from '../../src/log/log.js';
import { murmur2, partitionForKey } from '../../src/log/partitioner.js';

describe('partitionForKey', () => {
  it("hashes keys as Kafka's default partitioner does (the Java client's murmur2 test vectors)", () => {
    const utf8 = new TextEncoder();
    const vectors: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, hash] of vectors) {
      expect(murmur2(utf8.encode(key))).toBe(hash);
      expect(partitionForKey(key, 1_000_003)).toBe((hash & 0x7fffffff) % 1_000_003);
    }
  });

  it('gives the same partition for long and non-ASCII keys, one after another', () => {
    const utf8 = new TextEncoder();
    const keys = ['k', 'x'.repeat(300), 'ключ-✓-🙂'.repeat(40), 'short', '', 'é'.repeat(1000), 'k'];
    for (const key of keys) {
      expect(partitionForKey(key, 32)).toBe((murmur2(utf8.encode(key)) & 0x7fffffff) % 32);
    }
  });
});

describe('internal records', () => {
  const env: Envelope = {
    target: { namespace: 'shop', type: 'cart', id: 'c-42' },
    argument: { typename: 'shop/add', hasValue: true, value: new Uint8Array([7, 8, 9]) },
    eventTime: 1_765_000_000_123,
    source: { name: 'orders|orders|3|0', offset: 99 },
  };
  const asRead = (out: OutRecord, value: Uint8Array | null = out.value): LogRecord => ({
    topic: out.topic,
    partition: out.partition!,
    offset: 5,
    key: out.key,
    value,
    headers: {},
    timestamp: 1,
  });

  it('decode to the envelope they were made from, whether read back from a log or handed over', () => {
    const out = toInternalRecord('internal', 8, env, 'id');
    const copied = fromInternalRecord(asRead(out, new Uint8Array(out.value!)));
    expect(copied).toEqual({
      ...env,
      caller: undefined,
      argument: { typename: 'shop/add', hasValue: true, value: new Uint8Array([7, 8, 9]) },
    });
    // Handed over within the process, the record keeps the envelope itself.
    expect(out.envelope).toBe(env);
    expect(encodeTypedValue(copied.argument)).toEqual(encodeTypedValue(env.argument));
  });
});
