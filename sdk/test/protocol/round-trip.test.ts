import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeBool,
  decodeDouble,
  decodeFloat,
  decodeFromFunction,
  decodeInt,
  decodeKafkaProducerRecord,
  decodeKinesisEgressRecord,
  decodeLong,
  decodeString,
  decodeToFunction,
  decodeTypedValue,
  encodeBool,
  encodeDouble,
  encodeFloat,
  encodeFromFunction,
  encodeInt,
  encodeKafkaProducerRecord,
  encodeKinesisEgressRecord,
  encodeLong,
  encodeString,
  encodeToFunction,
  encodeTypedValue,
  ProtocolError,
} from '@continuum/sdk/protocol';
import { fromFunction, kafkaRecord, kinesisRecord, toFunction, typedValue } from './arbitraries.js';

describe('every message survives an encode/decode round trip', () => {
  it('ToFunction', () => {
    fc.assert(
      fc.property(toFunction, (m) => {
        expect(decodeToFunction(encodeToFunction(m))).toEqual(m);
      }),
    );
  });

  it('FromFunction', () => {
    fc.assert(
      fc.property(fromFunction, (m) => {
        expect(decodeFromFunction(encodeFromFunction(m))).toEqual(m);
      }),
    );
  });

  it('TypedValue', () => {
    fc.assert(
      fc.property(typedValue, (v) => {
        expect(decodeTypedValue(encodeTypedValue(v))).toEqual(v);
      }),
    );
  });

  it('KafkaProducerRecord and KinesisEgressRecord', () => {
    fc.assert(
      fc.property(kafkaRecord, (r) => {
        expect(decodeKafkaProducerRecord(encodeKafkaProducerRecord(r))).toEqual(r);
      }),
    );
    fc.assert(
      fc.property(kinesisRecord, (r) => {
        expect(decodeKinesisEgressRecord(encodeKinesisEgressRecord(r))).toEqual(r);
      }),
    );
  });

  it('encoding is deterministic: decode then encode gives the same bytes', () => {
    fc.assert(
      fc.property(fromFunction, (m) => {
        const bytes = encodeFromFunction(m);
        expect(encodeFromFunction(decodeFromFunction(bytes))).toEqual(bytes);
      }),
    );
  });
});

describe('every primitive survives an encode/decode round trip', () => {
  it('bool, int, long, string', () => {
    fc.assert(
      fc.property(fc.boolean(), (v) => {
        expect(decodeBool(encodeBool(v))).toBe(v);
      }),
    );
    fc.assert(
      fc.property(fc.integer(), (v) => {
        expect(decodeInt(encodeInt(v))).toBe(v);
      }),
    );
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (v) => {
        expect(decodeLong(encodeLong(v))).toBe(v);
      }),
    );
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (v) => {
        expect(decodeString(encodeString(v))).toBe(v);
      }),
    );
  });

  it('double exactly, float after rounding to single precision', () => {
    fc.assert(
      fc.property(fc.double(), (v) => {
        expect(Object.is(decodeDouble(encodeDouble(v)), v)).toBe(true);
      }),
    );
    fc.assert(
      fc.property(fc.float(), (v) => {
        expect(Object.is(decodeFloat(encodeFloat(v)), v)).toBe(true);
      }),
    );
    fc.assert(
      fc.property(fc.double({ noNaN: true }), (v) => {
        expect(decodeFloat(encodeFloat(v))).toBe(Math.fround(v));
      }),
    );
  });
});

describe('decoders never throw anything but a ProtocolError', () => {
  it('on arbitrary bytes', () => {
    const decoders = [
      decodeToFunction,
      decodeFromFunction,
      decodeTypedValue,
      decodeKafkaProducerRecord,
      decodeInt,
      decodeLong,
      decodeString,
    ];
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 128 }), (b) => {
        for (const decode of decoders) {
          try {
            decode(b);
          } catch (e) {
            expect(e).toBeInstanceOf(ProtocolError);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });
});
