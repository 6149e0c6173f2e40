// The Produce request the Kafka adapter sends is byte for byte the one kafkajs would have encoded
// (kafkajs' own modules loaded beside the patched ones), for the shapes of messages it is given.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import '../../src/log/kafka/kafkajs-patch.js';
import {
  crc32c,
  encodeProduceRequest,
  type ProduceRequestArgs,
} from '../../src/log/kafka/produce-encoder.js';

const require = createRequire(import.meta.url);

/** Loads kafkajs' own version of a module the patch replaced, leaving the patched one in place. */
function kafkajsOwn<T>(id: string): T {
  const path = require.resolve(id);
  const cache = require.cache as Record<string, unknown>;
  const patched = cache[path];
  delete cache[path];
  try {
    return require(path) as T;
  } finally {
    cache[path] = patched;
  }
}

type Request = { apiVersion: number; encode: () => Promise<{ buffer: Buffer }> };
type ProduceRequest = (args: ProduceRequestArgs & { compression?: number }) => Request;
const theirs = kafkajsOwn<ProduceRequest>('kafkajs/src/protocol/requests/produce/v3/request.js');
const ours = require('kafkajs/src/protocol/requests/produce/v3/request.js') as ProduceRequest;
const Long = require('kafkajs/src/utils/long.js') as { fromValue(v: unknown): { value: bigint } };

const T0 = 1_765_000_000_000;

function args(over: Partial<ProduceRequestArgs> = {}): ProduceRequestArgs {
  return {
    acks: -1,
    timeout: 30_000,
    transactionalId: 'bench.group.7',
    producerId: Long.fromValue(4_711),
    producerEpoch: 3,
    topicData: [
      {
        topic: 'egress',
        partitions: [
          {
            partition: 0,
            firstSequence: 12,
            messages: [
              { key: 'user-1', value: Buffer.from([1, 2, 3]), timestamp: String(T0 + 5) },
              { key: null, value: Buffer.alloc(0), timestamp: String(T0) },
              {
                key: 'ключ',
                value: 'text value ✓',
                headers: { trace: 'abc', 'content-type': 'x/y' },
                timestamp: String(T0 + 70_000),
              },
            ],
          },
          {
            partition: 5,
            messages: [
              {
                key: Buffer.from('k'),
                value: null,
                headers: { h: ['a', 'b'], b: Buffer.from([0, 255]) },
                timestamp: String(T0 - 1),
              },
            ],
          },
        ],
      },
      {
        topic: 'other-topic',
        partitions: [
          {
            partition: 2,
            firstSequence: 0,
            messages: Array.from({ length: 300 }, (_, i) => ({
              key: `key-${i % 17}`,
              value: Buffer.alloc(i % 200, i),
              timestamp: String(T0 + i * 1_000_003),
            })),
          },
        ],
      },
    ],
    ...over,
  };
}

async function bytes(make: ProduceRequest, a: ProduceRequestArgs): Promise<Buffer> {
  return Buffer.from((await make(a).encode()).buffer);
}

describe('Produce request encoding', () => {
  it('writes the bytes kafkajs writes, for transactional batches with keys, headers and timestamps', async () => {
    const a = args();
    expect(ours).not.toBe(theirs);
    const expected = await bytes(theirs, a);
    expect(await bytes(ours, a)).toEqual(expected);
    expect(encodeProduceRequest(a)).toEqual(expected);
  });

  it('writes the bytes kafkajs writes without a transaction, producer id or epoch', async () => {
    const a = args({ transactionalId: null, producerId: undefined, producerEpoch: undefined });
    expect(await bytes(ours, a)).toEqual(await bytes(theirs, a));
  });

  it('stamps messages without a timestamp with the same clock as kafkajs', async () => {
    const a = args();
    const now = Date.now;
    Date.now = () => T0 + 123;
    try {
      a.topicData[0]!.partitions[0]!.messages.push({ key: 'late', value: Buffer.from('x') });
      a.topicData[0]!.partitions[1]!.messages = [{ key: 'only', value: Buffer.from('y') }];
      expect(await bytes(ours, a)).toEqual(await bytes(theirs, a));
    } finally {
      Date.now = now;
    }
  });

  it('answers with the versions kafkajs asks for (v4 to v7 are v3 with another number)', async () => {
    const v7 = require('kafkajs/src/protocol/requests/produce/v7/request.js') as ProduceRequest;
    const request = v7(args());
    expect(request.apiVersion).toBe(7);
    expect(Buffer.from((await request.encode()).buffer)).toEqual(await bytes(theirs, args()));
  });

  it('frames every request as kafkajs does (size, api key and version, correlation id, client id)', async () => {
    type Frame = (a: {
      correlationId: number;
      clientId: string | null;
      request: unknown;
    }) => Promise<{ buffer: Buffer }>;
    const theirFrame = kafkajsOwn<Frame>('kafkajs/src/protocol/request.js');
    const ourFrame = require('kafkajs/src/protocol/request.js') as Frame;
    expect(ourFrame).not.toBe(theirFrame);
    const request = { apiKey: 0, apiVersion: 7, encode: () => ours(args()).encode() };
    for (const clientId of ['continuum-ä', null]) {
      const a = { correlationId: 987_654, clientId, request };
      expect(Buffer.from((await ourFrame(a)).buffer)).toEqual(Buffer.from((await theirFrame(a)).buffer));
    }
  });

  it('computes CRC-32C as Kafka does (the check value of "123456789")', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  });
});
