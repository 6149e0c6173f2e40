// A Produce request (versions 3 to 7, record batches of magic 2, no compression) encoded in one pass
// into one buffer. kafkajs builds it from a new encoder per record, per header and per partition,
// sorts each partition's timestamps as strings to find the first and the last, and turns every
// varlong into BigInt arithmetic; at tens of thousands of egress records a second that was the
// largest part of the runtime's Kafka client time. The bytes are the same as kafkajs' (a unit test
// compares them); kafkajs-patch.ts puts this in place of its encoder for uncompressed requests.

/** kafkajs' 64-bit integer wrapper (`kafkajs/src/utils/long.js`). */
interface LongLike {
  value: bigint;
}

export type Int64Input = LongLike | bigint | number | string;

/** A message as kafkajs hands it to its Produce request. */
export interface ProduceMessage {
  key?: Buffer | string | null | undefined;
  value: Buffer | string | null;
  headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined> | undefined;
  timestamp?: string | number | null | undefined;
}

export interface ProducePartitionData {
  partition: number;
  firstSequence?: number | undefined;
  messages: ProduceMessage[];
}

export interface ProduceTopicData {
  topic: string;
  partitions: ProducePartitionData[];
}

export interface ProduceRequestArgs {
  acks: number;
  timeout: number;
  transactionalId?: string | null | undefined;
  producerId?: Int64Input | undefined;
  producerEpoch?: number | undefined;
  topicData: ProduceTopicData[];
}

const MAGIC_BYTE = 2;
const TRANSACTIONAL = 16;

/** The request body (after the request header) that kafkajs' Produce v3 request encodes. */
export function encodeProduceRequest(args: ProduceRequestArgs, now: number = Date.now()): Buffer {
  const w = new Writer(estimate(args.topicData));
  w.string(args.transactionalId ?? null);
  w.int16(args.acks);
  w.int32(args.timeout);
  w.int32(args.topicData.length);
  const transactional = args.transactionalId != null;
  const producerId = int64Of(args.producerId ?? -1);
  const producerEpoch = args.producerEpoch ?? 0;
  for (const { topic, partitions } of args.topicData) {
    w.string(topic);
    w.int32(partitions.length);
    for (const p of partitions) {
      w.int32(p.partition);
      const sizeAt = w.reserve(4);
      const start = w.offset;
      writeRecordBatch(w, p, transactional, producerId, producerEpoch, now);
      w.buf.writeInt32BE(w.offset - start, sizeAt);
    }
  }
  return w.done();
}

function writeRecordBatch(
  w: Writer,
  p: ProducePartitionData,
  transactional: boolean,
  producerId: bigint,
  producerEpoch: number,
  now: number,
): void {
  const messages = p.messages;
  // The first and the last of the timestamps given; messages without one are stamped `now`.
  let first = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const m of messages) {
    if (m.timestamp == null) continue;
    const t = Number(m.timestamp);
    if (t < first) first = t;
    if (t > max) max = t;
  }
  if (first === Number.POSITIVE_INFINITY) first = max = now;

  w.int64(0n); // first offset (the broker assigns)
  const lengthAt = w.reserve(4);
  const batchStart = w.offset;
  w.int32(0); // partition leader epoch
  w.int8(MAGIC_BYTE);
  const crcAt = w.reserve(4);
  const crcFrom = w.offset;
  w.int16(transactional ? TRANSACTIONAL : 0); // attributes: no compression, create time
  w.int32(messages.length - 1); // last offset delta
  w.int64(BigInt(first));
  w.int64(BigInt(max));
  w.int64(producerId);
  w.int16(producerEpoch);
  w.int32(p.firstSequence ?? 0);
  w.int32(messages.length);
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    const stamp = m.timestamp == null || m.timestamp === '' || m.timestamp === 0 ? now : Number(m.timestamp);
    writeRecord(w, m, i, stamp - first);
  }
  w.buf.writeUInt32BE(crc32c(w.buf, crcFrom, w.offset), crcAt);
  w.buf.writeInt32BE(w.offset - batchStart, lengthAt);
}

function writeRecord(w: Writer, m: ProduceMessage, offsetDelta: number, timestampDelta: number): void {
  const key = bytesOf(m.key);
  const value = bytesOf(m.value);
  const headers = headersOf(m.headers);
  const delta = Number.isFinite(timestampDelta) ? timestampDelta : 0;
  let body =
    1 + sizeOfVarLong(delta) + sizeOfVarInt(offsetDelta) + sizeOfVarBytes(key) + sizeOfVarBytes(value);
  body += sizeOfVarInt(headers.length / 2);
  for (let i = 0; i < headers.length; i += 2) {
    body += sizeOfVarBytes(headers[i]!) + sizeOfVarBytes(headers[i + 1]!);
  }
  w.ensure(body + 5);
  w.varInt(body);
  w.int8(0); // record attributes
  w.varLong(delta);
  w.varInt(offsetDelta);
  w.varBytes(key);
  w.varBytes(value);
  w.varInt(headers.length / 2);
  for (let i = 0; i < headers.length; i += 2) {
    w.varBytes(headers[i]!);
    w.varBytes(headers[i + 1]!);
  }
}

/** A key, value or header part as bytes, or null; anything but a Buffer is written as its text. */
function bytesOf(v: Buffer | string | null | undefined): Buffer | null {
  if (v == null) return null;
  return Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'utf8');
}

/** Header keys and values, flattened key, value, key, value (array values give one header each). */
function headersOf(headers: ProduceMessage['headers']): (Buffer | null)[] {
  const out: (Buffer | null)[] = [];
  if (headers == null) return out;
  for (const key of Object.keys(headers)) {
    const v = headers[key];
    const k = Buffer.from(key, 'utf8');
    if (Array.isArray(v)) {
      for (const each of v) out.push(k, bytesOf(each));
    } else {
      out.push(k, bytesOf(v));
    }
  }
  return out;
}

function int64Of(v: Int64Input): bigint {
  if (typeof v === 'bigint') return BigInt.asIntN(64, v);
  if (typeof v === 'object' && v !== null && typeof v.value === 'bigint') return BigInt.asIntN(64, v.value);
  return BigInt.asIntN(64, BigInt(v as number | string));
}

function zigZag32(v: number): number {
  return ((v << 1) ^ (v >> 31)) >>> 0;
}

function sizeOfVarInt(v: number): number {
  let z = zigZag32(v);
  let n = 1;
  while (z >= 0x80) {
    n++;
    z >>>= 7;
  }
  return n;
}

/** Zig-zag of a safe integer, as a non-negative number (exact below 2^53). */
function zigZag64(v: number): number {
  return v >= 0 ? v * 2 : -v * 2 - 1;
}

function sizeOfVarLong(v: number): number {
  let z = zigZag64(v);
  let n = 1;
  while (z >= 0x80) {
    n++;
    z = Math.floor(z / 128);
  }
  return n;
}

function sizeOfVarBytes(b: Buffer | null): number {
  return b === null ? 1 : sizeOfVarInt(b.length) + b.length;
}

function estimate(topicData: readonly ProduceTopicData[]): number {
  let n = 256;
  for (const t of topicData) {
    for (const p of t.partitions) {
      n += 128;
      for (const m of p.messages) {
        n += 32 + (m.value == null ? 0 : typeof m.value === 'string' ? m.value.length * 3 : m.value.length);
        if (m.key != null) n += typeof m.key === 'string' ? m.key.length * 3 : m.key.length;
      }
    }
  }
  return n;
}

/** A growable big-endian writer over one buffer. */
class Writer {
  buf: Buffer;
  offset = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  ensure(n: number): void {
    if (this.offset + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.offset + n) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.buf.copy(grown, 0, 0, this.offset);
    this.buf = grown;
  }

  reserve(n: number): number {
    this.ensure(n);
    const at = this.offset;
    this.offset += n;
    return at;
  }

  int8(v: number): void {
    this.ensure(1);
    this.buf[this.offset++] = v & 0xff;
  }

  int16(v: number): void {
    this.ensure(2);
    this.offset = this.buf.writeInt16BE(v, this.offset);
  }

  int32(v: number): void {
    this.ensure(4);
    this.offset = this.buf.writeInt32BE(v, this.offset);
  }

  int64(v: bigint): void {
    this.ensure(8);
    this.offset = this.buf.writeBigInt64BE(v, this.offset);
  }

  /** A nullable string with an int16 length. */
  string(v: string | null): void {
    if (v === null) {
      this.int16(-1);
      return;
    }
    const n = Buffer.byteLength(v, 'utf8');
    this.int16(n);
    this.ensure(n);
    this.offset += this.buf.write(v, this.offset, n, 'utf8');
  }

  varInt(v: number): void {
    this.ensure(5);
    let z = zigZag32(v);
    while (z >= 0x80) {
      this.buf[this.offset++] = (z & 0x7f) | 0x80;
      z >>>= 7;
    }
    this.buf[this.offset++] = z;
  }

  varLong(v: number): void {
    this.ensure(10);
    let z = zigZag64(v);
    while (z >= 0x80) {
      this.buf[this.offset++] = (z % 128) | 0x80;
      z = Math.floor(z / 128);
    }
    this.buf[this.offset++] = z;
  }

  varBytes(b: Buffer | null): void {
    if (b === null) {
      this.varInt(-1);
      return;
    }
    this.varInt(b.length);
    this.ensure(b.length);
    b.copy(this.buf, this.offset);
    this.offset += b.length;
  }

  done(): Buffer {
    return this.buf.subarray(0, this.offset);
  }
}

const CRC32C_TABLE = ((): Int32Array => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** CRC-32C (Castagnoli) of `buf[from, to)`, as Kafka's record batches carry it. */
export function crc32c(buf: Uint8Array, from = 0, to = buf.length): number {
  let crc = -1;
  for (let i = from; i < to; i++) crc = CRC32C_TABLE[(crc ^ buf[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}
