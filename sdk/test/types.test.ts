import protobuf from 'protobufjs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  customType,
  jsonType,
  protobufType,
  SdkError,
  statefulFunction,
  types,
  valueSpec,
  type Context,
  type Storage,
  type Type,
  type TypeOf,
} from '@continuum/sdk';
import { hex } from './helpers.js';

const codeOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(SdkError);
    return (e as SdkError).code;
  }
  throw new Error('expected an SdkError');
};

describe('built-in types', () => {
  it('carry the StateFun type names and encodings', () => {
    expect(types.int.typename).toBe('io.statefun.types/int');
    expect(hex(types.int.serialize(1))).toBe('0d 01 00 00 00');
    expect(types.long.typename).toBe('io.statefun.types/long');
    expect(types.long.deserialize(types.long.serialize(-5n))).toBe(-5n);
    expect(types.string.deserialize(types.string.serialize('é'))).toBe('é');
    expect(types.bool.deserialize(new Uint8Array(0))).toBe(false);
  });

  it('reject values of the wrong JavaScript type with TYPE_MISMATCH', () => {
    expect(codeOf(() => types.int.serialize(1.5))).toBe('TYPE_MISMATCH');
    expect(codeOf(() => types.int.serialize('1' as never))).toBe('TYPE_MISMATCH');
    expect(codeOf(() => types.long.serialize(1 as never))).toBe('TYPE_MISMATCH');
    expect(codeOf(() => types.string.serialize(undefined as never))).toBe('TYPE_MISMATCH');
    expect(codeOf(() => types.int.deserialize(new Uint8Array([0x0d, 1])))).toBe('TYPE_MISMATCH');
  });
});

describe('jsonType', () => {
  const Order = jsonType('example/Order', z.object({ id: z.string(), qty: z.number().int().positive() }));

  it('writes UTF-8 JSON and reads it back', () => {
    const bytes = Order.serialize({ id: 'o1', qty: 2 });
    expect(new TextDecoder().decode(bytes)).toBe('{"id":"o1","qty":2}');
    expect(Order.deserialize(bytes)).toEqual({ id: 'o1', qty: 2 });
  });

  it('validates on write, naming the failing path', () => {
    expect(() => Order.serialize({ id: 'o1', qty: -1 })).toThrow(/example\/Order.*qty/);
    expect(codeOf(() => Order.serialize({ id: 'o1', qty: 0.5 }))).toBe('TYPE_MISMATCH');
  });

  it('validates on read: invalid JSON, invalid UTF-8 and schema violations are TYPE_MISMATCH', () => {
    const enc = new TextEncoder();
    expect(codeOf(() => Order.deserialize(enc.encode('{"id":1}')))).toBe('TYPE_MISMATCH');
    expect(codeOf(() => Order.deserialize(enc.encode('{oops')))).toBe('TYPE_MISMATCH');
    expect(codeOf(() => Order.deserialize(new Uint8Array([0xff, 0xfe])))).toBe('TYPE_MISMATCH');
  });

  it('infers the value type from the schema', () => {
    expectTypeOf<TypeOf<typeof Order>>().toEqualTypeOf<{ id: string; qty: number }>();
  });

  it('requires a type name with exactly one slash', () => {
    expect(codeOf(() => jsonType('Order', z.string()))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => jsonType('a/b/c', z.string()))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => jsonType('/b', z.string()))).toBe('INVALID_ARGUMENT');
  });
});

describe('protobufType and customType', () => {
  const root = protobuf.parse(
    'syntax = "proto3"; package com.example; message Greeting { string text = 1; int32 times = 2; }',
  ).root;
  const Greeting = root.lookupType('com.example.Greeting');

  it('names protobuf types type.googleapis.com/<full name> and round-trips with protobufjs', () => {
    const T = protobufType('com.example.Greeting', Greeting);
    expect(T.typename).toBe('type.googleapis.com/com.example.Greeting');
    const bytes = T.serialize(Greeting.create({ text: 'hi', times: 2 }));
    expect(hex(bytes)).toBe('0a 02 68 69 10 02');
    expect(Greeting.toObject(T.deserialize(bytes))).toEqual({ text: 'hi', times: 2 });
  });

  it('works with google-protobuf style classes', () => {
    class Wrapper {
      constructor(readonly bytes: Uint8Array) {}
      serializeBinary(): Uint8Array {
        return this.bytes;
      }
      static deserializeBinary(b: Uint8Array): Wrapper {
        return new Wrapper(b);
      }
    }
    const T = protobufType('com.example.Wrapper', Wrapper);
    expect(T.deserialize(T.serialize(new Wrapper(Uint8Array.of(1, 2)))).bytes).toEqual(Uint8Array.of(1, 2));
  });

  it('customType wraps serializer failures in TYPE_MISMATCH with the type name', () => {
    const T = customType<number>(
      'example/Odd',
      (n) => {
        if (n % 2 === 0) throw new Error('even');
        return Uint8Array.of(n);
      },
      (b) => b[0]!,
    );
    expect(() => T.serialize(2)).toThrow(/example\/Odd: even/);
    expect(T.deserialize(T.serialize(3))).toBe(3);
  });
});

describe('storage typing', () => {
  it('infers ctx.storage from the specs', () => {
    const Profile = jsonType('example/Profile', z.object({ name: z.string() }));
    statefulFunction({
      typename: 'example/typed',
      specs: { seen: valueSpec(types.int), total: valueSpec(types.long), profile: valueSpec(Profile) },
      handler(ctx) {
        expectTypeOf(ctx.storage.seen).toEqualTypeOf<number | undefined>();
        expectTypeOf(ctx.storage.total).toEqualTypeOf<bigint | undefined>();
        expectTypeOf(ctx.storage.profile).toEqualTypeOf<{ name: string } | undefined>();
        expectTypeOf(ctx).toEqualTypeOf<
          Context<{
            seen: ReturnType<typeof valueSpec<number>>;
            total: ReturnType<typeof valueSpec<bigint>>;
            profile: ReturnType<typeof valueSpec<{ name: string }>>;
          }>
        >();
        // @ts-expect-error: undeclared states are not on the storage type
        void ctx.storage.missing;
        // @ts-expect-error: a string is not an int
        ctx.storage.seen = 'one';
      },
    });
    expectTypeOf<Storage<{ a: ReturnType<typeof valueSpec<string>> }>>().toEqualTypeOf<{
      a: string | undefined;
    }>();
  });

  it('valueSpec validates expirations', () => {
    expect(valueSpec(types.int, { expireAfterWrite: 1000 }).expiration).toEqual({
      mode: 'after-write',
      afterMs: 1000,
    });
    expect(valueSpec(types.int, { expireAfterCall: 5 }).expiration).toEqual({
      mode: 'after-call',
      afterMs: 5,
    });
    expect(codeOf(() => valueSpec(types.int, { expireAfterWrite: 1, expireAfterCall: 1 }))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(codeOf(() => valueSpec(types.int, { expireAfterWrite: 0 }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => valueSpec(types.int, { expireAfterCall: 1.5 }))).toBe('INVALID_ARGUMENT');
  });

  it('statefulFunction validates its type name and state names', () => {
    const handler = (): void => undefined;
    expect(codeOf(() => statefulFunction({ typename: 'nope', handler }))).toBe('INVALID_ARGUMENT');
    expect(
      codeOf(() => statefulFunction({ typename: 'a/b', specs: { '1x': valueSpec(types.int) }, handler })),
    ).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => statefulFunction({ typename: 'a/b', specs: { x: {} as never }, handler }))).toBe(
      'INVALID_ARGUMENT',
    );
  });

  it('a Type is assignable where Type<unknown> is expected', () => {
    expectTypeOf(types.int).toExtend<Type<unknown>>();
  });
});
