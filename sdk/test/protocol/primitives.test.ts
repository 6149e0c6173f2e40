import { describe, expect, it } from 'vitest';
import {
  decodeBool,
  decodeDouble,
  decodeFloat,
  decodeInt,
  decodeLong,
  decodeString,
  encodeBool,
  encodeDouble,
  encodeFloat,
  encodeInt,
  encodeLong,
  encodeString,
  ProtocolError,
} from '@continuum/sdk/protocol';
import { fromHex, hex } from '../helpers.js';

describe('primitive wrapper encodings match the StateFun spec byte for byte', () => {
  it('bool: true is 08 01, false is empty', () => {
    expect(hex(encodeBool(true))).toBe('08 01');
    expect(hex(encodeBool(false))).toBe('');
    expect(decodeBool(fromHex('08 01'))).toBe(true);
    expect(decodeBool(fromHex(''))).toBe(false);
  });

  it('int is sfixed32: 0D + 4 bytes little-endian, zero is empty', () => {
    expect(hex(encodeInt(0))).toBe('');
    expect(hex(encodeInt(1))).toBe('0d 01 00 00 00');
    expect(hex(encodeInt(-1))).toBe('0d ff ff ff ff');
    expect(hex(encodeInt(0x12345678))).toBe('0d 78 56 34 12');
    expect(hex(encodeInt(2147483647))).toBe('0d ff ff ff 7f');
    expect(hex(encodeInt(-2147483648))).toBe('0d 00 00 00 80');
    expect(decodeInt(fromHex('0d 78 56 34 12'))).toBe(0x12345678);
    expect(decodeInt(fromHex('0d 00 00 00 80'))).toBe(-2147483648);
    expect(decodeInt(fromHex(''))).toBe(0);
  });

  it('long is sfixed64: 09 + 8 bytes little-endian, zero is empty, exact as bigint', () => {
    expect(hex(encodeLong(0n))).toBe('');
    expect(hex(encodeLong(1n))).toBe('09 01 00 00 00 00 00 00 00');
    expect(hex(encodeLong(-1n))).toBe('09 ff ff ff ff ff ff ff ff');
    expect(hex(encodeLong(9223372036854775807n))).toBe('09 ff ff ff ff ff ff ff 7f');
    expect(hex(encodeLong(-9223372036854775808n))).toBe('09 00 00 00 00 00 00 00 80');
    expect(hex(encodeLong(0x0102030405060708n))).toBe('09 08 07 06 05 04 03 02 01');
    expect(decodeLong(fromHex('09 ff ff ff ff ff ff ff 7f'))).toBe(9223372036854775807n);
    expect(decodeLong(fromHex('09 00 00 00 00 00 00 00 80'))).toBe(-9223372036854775808n);
    expect(decodeLong(fromHex('09 08 07 06 05 04 03 02 01'))).toBe(0x0102030405060708n);
    expect(decodeLong(fromHex(''))).toBe(0n);
  });

  it('float is IEEE-754 binary32: 0D + 4 bytes little-endian, zero is empty', () => {
    expect(hex(encodeFloat(0))).toBe('');
    expect(hex(encodeFloat(1.5))).toBe('0d 00 00 c0 3f');
    expect(hex(encodeFloat(-2))).toBe('0d 00 00 00 c0');
    expect(decodeFloat(fromHex('0d 00 00 c0 3f'))).toBe(1.5);
    expect(decodeFloat(fromHex(''))).toBe(0);
  });

  it('double is IEEE-754 binary64: 09 + 8 bytes little-endian, zero is empty', () => {
    expect(hex(encodeDouble(0))).toBe('');
    expect(hex(encodeDouble(1.5))).toBe('09 00 00 00 00 00 00 f8 3f');
    expect(hex(encodeDouble(0.1))).toBe('09 9a 99 99 99 99 99 b9 3f');
    expect(decodeDouble(fromHex('09 9a 99 99 99 99 99 b9 3f'))).toBe(0.1);
    expect(decodeDouble(fromHex(''))).toBe(0);
  });

  it('string is 0A + varint length + UTF-8, the empty string is empty', () => {
    expect(hex(encodeString(''))).toBe('');
    expect(hex(encodeString('hi'))).toBe('0a 02 68 69');
    expect(hex(encodeString('é'))).toBe('0a 02 c3 a9');
    const long = 'x'.repeat(200);
    expect(hex(encodeString(long).subarray(0, 3))).toBe('0a c8 01');
    expect(encodeString(long)).toHaveLength(203);
    expect(decodeString(encodeString(long))).toBe(long);
    expect(decodeString(fromHex('0a 02 c3 a9'))).toBe('é');
    expect(decodeString(fromHex(''))).toBe('');
  });

  it('decoders accept zero values written explicitly, as other protobuf encoders may', () => {
    expect(decodeBool(fromHex('08 00'))).toBe(false);
    expect(decodeInt(fromHex('0d 00 00 00 00'))).toBe(0);
    expect(decodeLong(fromHex('09 00 00 00 00 00 00 00 00'))).toBe(0n);
    expect(decodeString(fromHex('0a 00'))).toBe('');
  });

  it('keeps the sign of negative zero and round-trips NaN and infinities', () => {
    expect(Object.is(decodeDouble(encodeDouble(-0)), -0)).toBe(true);
    expect(Object.is(decodeFloat(encodeFloat(-0)), -0)).toBe(true);
    expect(decodeDouble(encodeDouble(Number.NaN))).toBeNaN();
    expect(decodeFloat(encodeFloat(Number.POSITIVE_INFINITY))).toBe(Number.POSITIVE_INFINITY);
  });

  it('rejects values the wire type cannot hold instead of truncating them', () => {
    for (const bad of [1.5, 2147483648, -2147483649, Number.NaN]) {
      expect(() => encodeInt(bad)).toThrow(ProtocolError);
    }
    expect(() => encodeLong(2n ** 63n)).toThrow(ProtocolError);
    expect(() => encodeLong(-(2n ** 63n) - 1n)).toThrow(ProtocolError);
  });

  it('throws a ProtocolError with code PROTOCOL_MALFORMED on undecodable bytes', () => {
    const truncated = fromHex('0d 01 02');
    expect(() => decodeInt(truncated)).toThrow(ProtocolError);
    try {
      decodeLong(fromHex('09 01'));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ProtocolError);
      expect((e as ProtocolError).code).toBe('PROTOCOL_MALFORMED');
      expect((e as ProtocolError).message).toContain('io.statefun.types/long');
    }
    expect(() => decodeString(fromHex('0a 05 61'))).toThrow(ProtocolError);
  });
});
