// Exact encodings of the built-in primitive types (io.statefun.sdk.types wrappers), i.e. the bytes a
// TypedValue named `io.statefun.types/<name>` carries. Zero values encode to empty bytes, as in proto3.
import { ProtocolError } from '../errors.js';
import { decodeRaw, guardedRead, Types } from './reflection.js';

const EMPTY = (): Uint8Array => new Uint8Array(0);

function fixed(tagByte: number, size: 4 | 8, put: (view: DataView) => void): Uint8Array {
  const out = new Uint8Array(1 + size);
  out[0] = tagByte;
  put(new DataView(out.buffer, 1, size));
  return out;
}

/** `io.statefun.types/bool`: true → `08 01`, false → empty. */
export function encodeBool(v: boolean): Uint8Array {
  return v ? Uint8Array.of(0x08, 0x01) : EMPTY();
}

/** `io.statefun.types/int` (sfixed32): `0D` + 4 bytes little-endian; 0 → empty. */
export function encodeInt(v: number): Uint8Array {
  if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) {
    throw new ProtocolError(
      'PROTOCOL_OUT_OF_RANGE',
      `io.statefun.types/int: ${v} is not a 32-bit signed integer`,
    );
  }
  return v === 0 ? EMPTY() : fixed(0x0d, 4, (d) => d.setInt32(0, v, true));
}

/** `io.statefun.types/long` (sfixed64): `09` + 8 bytes little-endian; 0 → empty. */
export function encodeLong(v: bigint): Uint8Array {
  if (typeof v !== 'bigint' || BigInt.asIntN(64, v) !== v) {
    throw new ProtocolError(
      'PROTOCOL_OUT_OF_RANGE',
      `io.statefun.types/long: ${String(v)} is not a 64-bit signed bigint`,
    );
  }
  return v === 0n ? EMPTY() : fixed(0x09, 8, (d) => d.setBigInt64(0, v, true));
}

/**
 * `io.statefun.types/float`: `0D` + IEEE-754 binary32 little-endian; 0 → empty. The value is rounded to
 * single precision. -0 is written (so its sign survives), as the Java encoder does.
 */
export function encodeFloat(v: number): Uint8Array {
  return Object.is(v, 0) ? EMPTY() : fixed(0x0d, 4, (d) => d.setFloat32(0, v, true));
}

/** `io.statefun.types/double`: `09` + IEEE-754 binary64 little-endian; 0 → empty (-0 is written). */
export function encodeDouble(v: number): Uint8Array {
  return Object.is(v, 0) ? EMPTY() : fixed(0x09, 8, (d) => d.setFloat64(0, v, true));
}

/** `io.statefun.types/string`: `0A` + varint(length) + UTF-8; '' → empty. */
export function encodeString(v: string): Uint8Array {
  if (v === '') return EMPTY();
  const utf8 = Buffer.from(v, 'utf8');
  const out = new Uint8Array(1 + varintSize(utf8.length) + utf8.length);
  out[0] = 0x0a;
  let i = 1;
  let n = utf8.length;
  while (n > 0x7f) {
    out[i++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[i++] = n;
  out.set(utf8, i);
  return out;
}

function varintSize(n: number): number {
  let size = 1;
  while (n > 0x7f) {
    n >>>= 7;
    size++;
  }
  return size;
}

interface Wrapper<T> {
  value: T;
}

/**
 * Decodes `io.statefun.types/bool`; empty bytes → false.
 * @throws {ProtocolError} on bytes that are not a BooleanWrapper.
 */
export function decodeBool(b: Uint8Array): boolean {
  return decodeRaw<Wrapper<boolean>>(Types.booleanWrapper, b, 'io.statefun.types/bool').value;
}

/**
 * Decodes `io.statefun.types/int`; empty bytes → 0.
 * @throws {ProtocolError} on bytes that are not an IntWrapper.
 */
export function decodeInt(b: Uint8Array): number {
  return decodeRaw<Wrapper<number>>(Types.intWrapper, b, 'io.statefun.types/int').value;
}

/**
 * Decodes `io.statefun.types/long` exactly, as a bigint; empty bytes → 0n. Read by hand rather than by
 * reflection because protobufjs may hand out int64 values as lossy numbers.
 * @throws {ProtocolError} on bytes that are not a LongWrapper.
 */
export function decodeLong(b: Uint8Array): bigint {
  return guardedRead(b, 'io.statefun.types/long', (r) => {
    let value = 0n;
    while (r.pos < r.len) {
      const t = r.uint32();
      if (t === 0x09) {
        const at = r.pos;
        r.skip(8); // throws when fewer than 8 bytes are left
        value = new DataView(b.buffer, b.byteOffset + at, 8).getBigInt64(0, true);
      } else {
        r.skipType(t & 7);
      }
    }
    return value;
  });
}

/**
 * Decodes `io.statefun.types/float`; empty bytes → 0.
 * @throws {ProtocolError} on bytes that are not a FloatWrapper.
 */
export function decodeFloat(b: Uint8Array): number {
  return decodeRaw<Wrapper<number>>(Types.floatWrapper, b, 'io.statefun.types/float').value;
}

/**
 * Decodes `io.statefun.types/double`; empty bytes → 0.
 * @throws {ProtocolError} on bytes that are not a DoubleWrapper.
 */
export function decodeDouble(b: Uint8Array): number {
  return decodeRaw<Wrapper<number>>(Types.doubleWrapper, b, 'io.statefun.types/double').value;
}

/**
 * Decodes `io.statefun.types/string`; empty bytes → ''.
 * @throws {ProtocolError} on bytes that are not a StringWrapper.
 */
export function decodeString(b: Uint8Array): string {
  return decodeRaw<Wrapper<string>>(Types.stringWrapper, b, 'io.statefun.types/string').value;
}
