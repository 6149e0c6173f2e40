// The protobufjs reflection types of the protocol, built once at module load from the checked-in
// descriptor (generated from sdk/proto), and the guarded decode that turns protobufjs failures into ProtocolErrors.
import protobuf from 'protobufjs/light.js';
import { ProtocolError } from '../errors.js';
import { descriptor } from './generated/descriptor.js';

const root = protobuf.Root.fromJSON(descriptor);
root.resolveAll();

function lookup(name: string): protobuf.Type {
  return root.lookupType(name);
}

/** Every message type the codecs use, resolved once. */
export const Types = {
  toFunction: lookup('io.statefun.sdk.reqreply.ToFunction'),
  invocationBatch: lookup('io.statefun.sdk.reqreply.ToFunction.InvocationBatchRequest'),
  toFunctionInvocation: lookup('io.statefun.sdk.reqreply.ToFunction.Invocation'),
  fromFunction: lookup('io.statefun.sdk.reqreply.FromFunction'),
  typedValue: lookup('io.statefun.sdk.reqreply.TypedValue'),
  address: lookup('io.statefun.sdk.reqreply.Address'),
  kafkaProducerRecord: lookup('io.statefun.sdk.egress.KafkaProducerRecord'),
  kinesisEgressRecord: lookup('io.statefun.sdk.egress.KinesisEgressRecord'),
  booleanWrapper: lookup('io.statefun.sdk.types.BooleanWrapper'),
  intWrapper: lookup('io.statefun.sdk.types.IntWrapper'),
  longWrapper: lookup('io.statefun.sdk.types.LongWrapper'),
  floatWrapper: lookup('io.statefun.sdk.types.FloatWrapper'),
  doubleWrapper: lookup('io.statefun.sdk.types.DoubleWrapper'),
  stringWrapper: lookup('io.statefun.sdk.types.StringWrapper'),
} as const;

/**
 * A protobufjs int64 as decoded: a `Long` when protobufjs found the `long` package, else a number (which
 * protobufjs computes exactly for safe integers). Which one depends on how the host loaded protobufjs.
 */
export type Int64Like = number | { low: number; high: number; toNumber(): number };

/**
 * Runs `read` over a protobufjs Reader on `bytes`, turning every failure into a ProtocolError naming `what`.
 * The base Reader is used on purpose: the Buffer-specialised one silently truncates strings that run past
 * the end of the input instead of failing.
 */
export function guardedRead<T>(bytes: Uint8Array, what: string, read: (reader: protobuf.Reader) => T): T {
  if (!(bytes instanceof Uint8Array)) {
    throw new ProtocolError(
      'PROTOCOL_MALFORMED',
      `${what}: expected a Uint8Array to decode, got ${typeof bytes}`,
    );
  }
  try {
    return read(new protobuf.Reader(bytes));
  } catch (cause) {
    if (cause instanceof ProtocolError) throw cause;
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new ProtocolError(
      'PROTOCOL_MALFORMED',
      `${what}: the ${bytes.byteLength} bytes are not a valid protobuf encoding (${reason})`,
      { cause },
    );
  }
}

/**
 * Decodes `bytes` as `type` and returns the protobufjs message viewed as `Raw` (a structural description
 * of the decoded fields that the caller normalises into a plain shape right away).
 */
export function decodeRaw<Raw>(type: protobuf.Type, bytes: Uint8Array, what: string): Raw {
  return guardedRead(bytes, what, (reader) => type.decode(reader) as unknown as Raw);
}

/** Converts a decoded int64 to a number, rejecting values a JS number cannot hold exactly. */
export function int64ToNumber(v: Int64Like, where: string): number {
  const n = typeof v === 'number' ? v : v.toNumber();
  if (!Number.isSafeInteger(n)) {
    throw new ProtocolError(
      'PROTOCOL_OUT_OF_RANGE',
      `${where}: the int64 value is beyond ±2^53-1 and cannot be a number`,
    );
  }
  return n;
}

/** Copies decoded bytes into a fresh Uint8Array, so results never alias (and keep alive) the input buffer. */
export function copyBytes(b: Uint8Array | null | undefined): Uint8Array {
  return b === null || b === undefined || b.length === 0 ? new Uint8Array(0) : new Uint8Array(b);
}
