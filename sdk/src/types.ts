// Value types: how a value of a TypeScript type becomes the bytes of a TypedValue and back.
// Built-in primitives with the exact StateFun encodings, JSON types validated with zod, protobuf and custom types.
import type { z } from 'zod';
import { echo } from './echo.js';
import { SdkError } from './errors.js';
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
} from './protocol/primitives.js';
import { PrimitiveTypeName } from './protocol/messages.js';
import { parseTypename } from './typename.js';

/**
 * A value type: a type name of the form `<namespace>/<name>` plus a serializer. Every message and every
 * stored state carries the type name of its value; the runtime checks that a state keeps its type.
 *
 * @example
 * ```ts
 * const celsius: Type<number> = customType('example/Celsius', (c) => types.double.serialize(c), (b) => types.double.deserialize(b));
 * ```
 */
export interface Type<T> {
  /** The type name, `<namespace>/<name>`, e.g. `io.statefun.types/int`. */
  readonly typename: string;
  /** Turns a value into bytes. Throws an {@link SdkError} (`TYPE_MISMATCH`) when the value is not valid. */
  serialize(value: T): Uint8Array;
  /** Turns bytes back into a value. Throws an {@link SdkError} when the bytes are not a valid value. */
  deserialize(bytes: Uint8Array): T;
}

/** The value type of a {@link Type}. */
export type TypeOf<X> = X extends Type<infer T> ? T : never;

function wrapErrors<T>(typename: string, op: 'serialize' | 'deserialize', f: () => T): T {
  try {
    return f();
  } catch (cause) {
    if (cause instanceof SdkError && cause.code === 'TYPE_MISMATCH') throw cause;
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new SdkError('TYPE_MISMATCH', `cannot ${op} a value of type ${typename}: ${echo(reason)}`, {
      cause,
    });
  }
}

function primitive<T>(
  typename: string,
  encode: (v: T) => Uint8Array,
  decode: (b: Uint8Array) => T,
  check: (v: unknown) => boolean,
  expected: string,
): Type<T> {
  return Object.freeze({
    typename,
    serialize(value: T): Uint8Array {
      if (!check(value)) {
        throw new SdkError(
          'TYPE_MISMATCH',
          `a value of type ${typename} must be ${expected}, got ${describe(value)}`,
        );
      }
      return wrapErrors(typename, 'serialize', () => encode(value));
    },
    deserialize(bytes: Uint8Array): T {
      return wrapErrors(typename, 'deserialize', () => decode(bytes));
    },
  });
}

function describe(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (value === null || typeof value !== 'object') return String(value);
  return Object.prototype.toString.call(value);
}

const isInt32 = (v: unknown): boolean =>
  typeof v === 'number' && Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff;
const isInt64 = (v: unknown): boolean => typeof v === 'bigint' && BigInt.asIntN(64, v) === v;

/**
 * The built-in primitive types, encoded exactly as every StateFun SDK encodes them (protobuf wrapper messages
 * of `io.statefun.sdk.types`), so values interoperate with functions written with the official SDKs.
 *
 * | type | TypeScript | type name | wire |
 * |---|---|---|---|
 * | `types.bool` | `boolean` | `io.statefun.types/bool` | bool |
 * | `types.int` | `number` (int32) | `io.statefun.types/int` | sfixed32 |
 * | `types.long` | `bigint` (int64) | `io.statefun.types/long` | sfixed64 |
 * | `types.float` | `number` (rounded to float32) | `io.statefun.types/float` | float |
 * | `types.double` | `number` | `io.statefun.types/double` | double |
 * | `types.string` | `string` | `io.statefun.types/string` | string |
 *
 * @example
 * ```ts
 * const counter = statefulFunction({
 *   typename: 'example/counter',
 *   specs: { count: valueSpec(types.long) },
 *   handler(ctx) { ctx.storage.count = (ctx.storage.count ?? 0n) + 1n; },
 * });
 * ```
 */
export const types: {
  readonly bool: Type<boolean>;
  readonly int: Type<number>;
  readonly long: Type<bigint>;
  readonly float: Type<number>;
  readonly double: Type<number>;
  readonly string: Type<string>;
} = Object.freeze({
  bool: primitive(PrimitiveTypeName.bool, encodeBool, decodeBool, (v) => typeof v === 'boolean', 'a boolean'),
  int: primitive(PrimitiveTypeName.int, encodeInt, decodeInt, isInt32, 'an integer in the int32 range'),
  long: primitive(PrimitiveTypeName.long, encodeLong, decodeLong, isInt64, 'a bigint in the int64 range'),
  float: primitive(
    PrimitiveTypeName.float,
    encodeFloat,
    decodeFloat,
    (v) => typeof v === 'number',
    'a number',
  ),
  double: primitive(
    PrimitiveTypeName.double,
    encodeDouble,
    decodeDouble,
    (v) => typeof v === 'number',
    'a number',
  ),
  string: primitive(
    PrimitiveTypeName.string,
    encodeString,
    decodeString,
    (v) => typeof v === 'string',
    'a string',
  ),
});

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

/**
 * A JSON type: values travel as UTF-8 JSON under your type name, and are validated with the zod schema
 * both when written (sent, stored) and when read. Use a schema without transforms: what is validated on
 * write is what is stored.
 *
 * @param typename `<namespace>/<name>`, e.g. `example/Order`.
 * @param schema the zod schema of the value. Without a schema the value is not validated (type `T`, default `unknown`).
 *
 * @example
 * ```ts
 * const Order = jsonType('example/Order', z.object({ id: z.string(), qty: z.number().int() }));
 * type Order = TypeOf<typeof Order>;   // { id: string; qty: number }
 * ```
 */
export function jsonType<S extends z.ZodType>(typename: string, schema: S): Type<z.output<S>>;
export function jsonType<T = unknown>(typename: string): Type<T>;
export function jsonType(typename: string, schema?: z.ZodType): Type<unknown> {
  parseTypename(typename, 'jsonType');
  const validate = (value: unknown, op: 'serialize' | 'deserialize'): unknown => {
    if (schema === undefined) return value;
    const result = schema.safeParse(value);
    if (!result.success) {
      const issues = result.error.issues
        .map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`)
        .join('; ');
      throw new SdkError(
        'TYPE_MISMATCH',
        `cannot ${op} a value of type ${typename}: it does not match the schema (${echo(issues)})`,
        {
          cause: result.error,
        },
      );
    }
    return result.data;
  };
  return Object.freeze({
    typename,
    serialize(value: unknown): Uint8Array {
      validate(value, 'serialize');
      const json = wrapErrors(typename, 'serialize', () => JSON.stringify(value));
      if (json === undefined) {
        throw new SdkError(
          'TYPE_MISMATCH',
          `cannot serialize a value of type ${typename}: ${describe(value)} has no JSON form`,
        );
      }
      return utf8Encoder.encode(json);
    },
    deserialize(bytes: Uint8Array): unknown {
      const parsed = wrapErrors(
        typename,
        'deserialize',
        () => JSON.parse(utf8Decoder.decode(bytes)) as unknown,
      );
      return validate(parsed, 'deserialize');
    },
  });
}

/** A protobufjs message class (static code) or reflected `Type`: `encode(m).finish()` and `decode(bytes)`. */
export interface ProtobufjsCodec<T> {
  encode(message: NoInfer<T>): { finish(): Uint8Array };
  decode(bytes: Uint8Array): T;
}

/** A google-protobuf generated class: instances have `serializeBinary()`, the class `deserializeBinary(bytes)`. */
export interface GoogleProtobufClass<T extends { serializeBinary(): Uint8Array }> {
  deserializeBinary(bytes: Uint8Array): T;
}

/**
 * A protobuf message type, named `type.googleapis.com/<fullName>` as in every StateFun SDK.
 *
 * @param fullName the message's full protobuf name, e.g. `com.example.Greeting`.
 * @param codec a protobufjs generated class / reflected Type, or a google-protobuf generated class.
 *
 * @example
 * ```ts
 * import { Greeting } from './generated/greeting.js'; // protobufjs static code
 * const GreetingType = protobufType('com.example.Greeting', Greeting);
 * ```
 */
export function protobufType<T>(fullName: string, codec: ProtobufjsCodec<T>): Type<T>;
export function protobufType<T extends { serializeBinary(): Uint8Array }>(
  fullName: string,
  codec: GoogleProtobufClass<T>,
): Type<T>;
export function protobufType<T>(
  fullName: string,
  codec: ProtobufjsCodec<T> | GoogleProtobufClass<T & { serializeBinary(): Uint8Array }>,
): Type<T> {
  if (typeof fullName !== 'string' || fullName === '' || fullName.includes('/')) {
    throw new SdkError(
      'INVALID_ARGUMENT',
      `protobufType: "${String(fullName)}" is not a protobuf full name such as "com.example.Greeting"`,
    );
  }
  const typename = `type.googleapis.com/${fullName.replace(/^\./, '')}`;
  if ('deserializeBinary' in codec) {
    return customType<T>(
      typename,
      (v) => (v as T & { serializeBinary(): Uint8Array }).serializeBinary(),
      (b) => codec.deserializeBinary(b),
    );
  }
  return customType<T>(
    typename,
    (v) => codec.encode(v).finish(),
    (b) => codec.decode(b),
  );
}

/**
 * A type with your own serializer. Errors thrown by `serialize`/`deserialize` surface as
 * {@link SdkError}s with code `TYPE_MISMATCH`.
 *
 * @example
 * ```ts
 * const Point = customType<{ x: number; y: number }>(
 *   'example/Point',
 *   (p) => Buffer.from(`${p.x},${p.y}`),
 *   (b) => { const [x, y] = Buffer.from(b).toString().split(',').map(Number); return { x: x!, y: y! }; },
 * );
 * ```
 */
export function customType<T>(
  typename: string,
  serialize: (value: T) => Uint8Array,
  deserialize: (bytes: Uint8Array) => T,
): Type<T> {
  parseTypename(typename, 'customType');
  return Object.freeze({
    typename,
    serialize: (value: T) => wrapErrors(typename, 'serialize', () => serialize(value)),
    deserialize: (bytes: Uint8Array) => wrapErrors(typename, 'deserialize', () => deserialize(bytes)),
  });
}
