// Binary encodings of what the Redis state store keeps per hash field: one blob per address (its
// whole state) and one blob per pending timer. Compact, self-describing by a leading version byte.
//
// Primitives: `varint` = unsigned LEB128 (at most 2^53 - 1); `f64` = IEEE 754 double, little endian;
// `str` = varint byte length + UTF-8 bytes; `bytes` = varint length + raw bytes.
//
// Address blob, version 1:
//   u8 version (= 1)
//   varint count
//   count × { str stateName, str typename, u8 flags (bit 0: expiresAt present), [f64 expiresAt],
//             bytes value }
//
// Timer blob, version 1:
//   u8 version (= 1)
//   u8 flags (bit 0: userToken, bit 1: eventTime present, bit 2: event-time timer)
//   f64 fireAt, [f64 eventTime]
//   str id, str targetKey, str callerKey, str typename, bytes value
//
// Strings are UTF-8: a string that is not well-formed UTF-16 (a lone surrogate) is stored with
// U+FFFD in its place, as protobuf decoding would have produced anyway.
import { ContinuumError } from '../errors.js';
import type { StoredAddress, StoredTimer, StoredValue } from './state-store.js';

/** Version byte of the address blobs this module writes. */
export const ADDRESS_BLOB_VERSION = 1;
/** Version byte of the timer blobs this module writes. */
export const TIMER_BLOB_VERSION = 1;

const EXPIRES_AT = 1;
const USER_TOKEN = 1;
const EVENT_TIME = 2;
const EVENT_TIME_TIMER = 4;

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

/** Writes into a buffer allocated to the exact size computed beforehand. */
class Writer {
  private pos = 0;
  constructor(readonly buf: Buffer) {}

  u8(n: number): void {
    this.buf[this.pos++] = n;
  }

  varint(n: number): void {
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.pos++] = n;
  }

  f64(n: number): void {
    this.pos = this.buf.writeDoubleLE(n, this.pos);
  }

  str(s: string, byteLength: number): void {
    this.varint(byteLength);
    this.pos += this.buf.write(s, this.pos, byteLength, 'utf8');
  }

  bytes(b: Uint8Array): void {
    this.varint(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  done(): Buffer {
    if (this.pos !== this.buf.length)
      throw new Error(`blob size mismatch: wrote ${this.pos} of ${this.buf.length}`);
    return this.buf;
  }
}

/** Says which blob is being decoded, for error messages. */
export type BlobLocation = string;

function corrupt(where: BlobLocation, what: string): ContinuumError {
  return new ContinuumError(
    'STATE_CORRUPT',
    `${where}: ${what}. The stored blob was not written by a compatible Continuum version or was ` +
      'modified outside Continuum; restore the partition from a backup or delete the field to drop it.',
  );
}

class Reader {
  private pos = 0;
  constructor(
    private readonly buf: Uint8Array,
    private readonly where: BlobLocation,
  ) {}

  private need(n: number): void {
    if (this.pos + n > this.buf.length)
      throw corrupt(
        this.where,
        `blob ends at byte ${this.buf.length}, ${n} more bytes expected at ${this.pos}`,
      );
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (;;) {
      const b = this.u8();
      result += (b & 0x7f) * scale;
      if (result > Number.MAX_SAFE_INTEGER)
        throw corrupt(this.where, `varint at byte ${this.pos} is too large`);
      if ((b & 0x80) === 0) return result;
      scale *= 0x80;
    }
  }

  f64(): number {
    this.need(8);
    const view = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8);
    this.pos += 8;
    return view.getFloat64(0, true);
  }

  str(): string {
    const n = this.varint();
    this.need(n);
    const s = Buffer.from(this.buf.buffer, this.buf.byteOffset + this.pos, n).toString('utf8');
    this.pos += n;
    return s;
  }

  /** A copy, so that decoded values do not pin the (possibly large) reply buffer. */
  bytes(): Uint8Array {
    const n = this.varint();
    this.need(n);
    const out = new Uint8Array(n);
    out.set(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }

  end(): void {
    if (this.pos !== this.buf.length)
      throw corrupt(this.where, `${this.buf.length - this.pos} unexpected bytes after the end of the blob`);
  }
}

/** Encodes an address's whole state (the states of a {@link StoredAddress} or an address delta). */
export function encodeAddress(states: Readonly<Record<string, StoredValue>>): Buffer {
  const entries = Object.entries(states);
  const lengths: number[] = [];
  let size = 1 + varintSize(entries.length);
  for (const [name, v] of entries) {
    const nameLen = Buffer.byteLength(name, 'utf8');
    const typeLen = Buffer.byteLength(v.typename, 'utf8');
    lengths.push(nameLen, typeLen);
    size += varintSize(nameLen) + nameLen + varintSize(typeLen) + typeLen + 1;
    if (v.expiresAt !== undefined) size += 8;
    size += varintSize(v.value.length) + v.value.length;
  }
  const w = new Writer(Buffer.allocUnsafe(size));
  w.u8(ADDRESS_BLOB_VERSION);
  w.varint(entries.length);
  let i = 0;
  for (const [name, v] of entries) {
    w.str(name, lengths[i++]!);
    w.str(v.typename, lengths[i++]!);
    w.u8(v.expiresAt === undefined ? 0 : EXPIRES_AT);
    if (v.expiresAt !== undefined) w.f64(v.expiresAt);
    w.bytes(v.value);
  }
  return w.done();
}

/** Decodes an address blob; `where` names it (partition, address) in errors. */
export function decodeAddress(blob: Uint8Array, where: BlobLocation): StoredAddress {
  const r = new Reader(blob, where);
  const version = r.u8();
  if (version !== ADDRESS_BLOB_VERSION)
    throw corrupt(
      where,
      `address blob has version ${version}, this runtime reads version ${ADDRESS_BLOB_VERSION}`,
    );
  const count = r.varint();
  const entries: [string, StoredValue][] = [];
  for (let i = 0; i < count; i++) {
    const name = r.str();
    const typename = r.str();
    const flags = r.u8();
    if ((flags & ~EXPIRES_AT) !== 0)
      throw corrupt(where, `state ${JSON.stringify(name)} has unknown flags ${flags}`);
    const expiresAt = (flags & EXPIRES_AT) !== 0 ? r.f64() : undefined;
    const value = r.bytes();
    entries.push([name, expiresAt === undefined ? { typename, value } : { typename, value, expiresAt }]);
  }
  r.end();
  // fromEntries defines own properties, so a state named "__proto__" stays an ordinary entry.
  return { states: Object.fromEntries(entries) };
}

/** Encodes every field of a pending timer. */
export function encodeTimer(t: StoredTimer): Buffer {
  const idLen = Buffer.byteLength(t.id, 'utf8');
  const targetLen = Buffer.byteLength(t.targetKey, 'utf8');
  const callerLen = Buffer.byteLength(t.callerKey, 'utf8');
  const typeLen = Buffer.byteLength(t.typename, 'utf8');
  const size =
    2 +
    8 +
    (t.eventTime === undefined ? 0 : 8) +
    varintSize(idLen) +
    idLen +
    varintSize(targetLen) +
    targetLen +
    varintSize(callerLen) +
    callerLen +
    varintSize(typeLen) +
    typeLen +
    varintSize(t.value.length) +
    t.value.length;
  const w = new Writer(Buffer.allocUnsafe(size));
  w.u8(TIMER_BLOB_VERSION);
  w.u8(
    (t.userToken ? USER_TOKEN : 0) |
      (t.eventTime === undefined ? 0 : EVENT_TIME) |
      (t.kind === 'event-time' ? EVENT_TIME_TIMER : 0),
  );
  w.f64(t.fireAt);
  if (t.eventTime !== undefined) w.f64(t.eventTime);
  w.str(t.id, idLen);
  w.str(t.targetKey, targetLen);
  w.str(t.callerKey, callerLen);
  w.str(t.typename, typeLen);
  w.bytes(t.value);
  return w.done();
}

/** Decodes a timer blob; `where` names it (partition, timer id) in errors. */
export function decodeTimer(blob: Uint8Array, where: BlobLocation): StoredTimer {
  const r = new Reader(blob, where);
  const version = r.u8();
  if (version !== TIMER_BLOB_VERSION)
    throw corrupt(
      where,
      `timer blob has version ${version}, this runtime reads version ${TIMER_BLOB_VERSION}`,
    );
  const flags = r.u8();
  if ((flags & ~(USER_TOKEN | EVENT_TIME | EVENT_TIME_TIMER)) !== 0)
    throw corrupt(where, `timer has unknown flags ${flags}`);
  const fireAt = r.f64();
  const eventTime = (flags & EVENT_TIME) !== 0 ? r.f64() : undefined;
  const id = r.str();
  const targetKey = r.str();
  const callerKey = r.str();
  const typename = r.str();
  const value = r.bytes();
  r.end();
  const timer: StoredTimer = {
    id,
    fireAt,
    targetKey,
    callerKey,
    typename,
    value,
    userToken: (flags & USER_TOKEN) !== 0,
  };
  if (eventTime !== undefined) timer.eventTime = eventTime;
  if ((flags & EVENT_TIME_TIMER) !== 0) timer.kind = 'event-time';
  return timer;
}
