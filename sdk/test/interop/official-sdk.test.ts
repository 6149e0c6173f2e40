import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createRequestReplyHandler,
  egressMessageBuilder,
  jsonType,
  kafkaEgressMessage,
  messageBuilder,
  statefulFunction,
  types,
  valueSpec,
  type Context,
  type Message,
  type Specs,
} from '@continuum/sdk';
import {
  decodeDouble,
  decodeFromFunction,
  decodeKafkaProducerRecord,
  decodeToFunction,
  encodeBool,
  encodeDouble,
  encodeFloat,
  encodeFromFunction,
  encodeInt,
  encodeKafkaProducerRecord,
  encodeLong,
  encodeString,
  encodeToFunction,
  encodeTypedValue,
  ExpireMode,
  type FromFunction,
  type PersistedValue,
  type ToFunction,
  type ToFunctionInvocation,
} from '@continuum/sdk/protocol';
import {
  fromFunction as arbitraryFromFunction,
  toFunction as arbitraryToFunction,
} from '../protocol/arbitraries.js';
import { official, officialHandle, pb, type PbClass, type PbWrapper } from './official-sdk.js';

const { StateFun, messageBuilder: officialMessage, kafkaEgressMessage: officialKafka } = official;
const officialJson = StateFun.jsonType('interop/Json');
const Json = jsonType('interop/Json', z.object({ seen: z.number(), name: z.string() }));

// The same function twice: once with the official SDK, once with ours. It uses every kind of effect.
const officialSf = new StateFun();
officialSf.bind({
  typename: 'interop/greeter',
  specs: [
    { name: 'seen', type: StateFun.intType() },
    { name: 'name', type: StateFun.stringType(), expireAfterWrite: 60_000 },
    { name: 'flag', type: StateFun.booleanType() },
    { name: 'temp', type: StateFun.floatType(), expireAfterCall: 5_000 },
  ],
  fn(ctx, message) {
    const seen = (ctx.storage.seen ?? 0) + 1;
    ctx.storage.seen = seen;
    const name = message.asString();
    ctx.storage.name = name;
    ctx.storage.flag = name === 'reset' ? null : seen % 2 === 0;
    ctx.storage.temp = (ctx.storage.temp ?? 0) + 0.25;
    ctx.send(officialMessage({ typename: 'interop/audit', id: ctx.self.id, value: `${name}:${seen}` }));
    if (ctx.caller) {
      ctx.send(
        officialMessage({
          typename: ctx.caller.typename,
          id: ctx.caller.id,
          value: seen,
          valueType: StateFun.intType(),
        }),
      );
    }
    ctx.sendAfter(
      1000 * seen,
      officialMessage({ typename: 'interop/greeter', id: ctx.self.id, value: 'remind' }),
      `r-${seen}`,
    );
    ctx.sendAfter(0, officialMessage({ typename: 'interop/audit', id: 'x', value: 'now' }));
    if (seen > 2) ctx.cancelDelayedMessage(`r-${seen - 1}`);
    ctx.send(
      officialKafka({
        typename: 'interop/greets',
        topic: 'greetings',
        key: ctx.self.id,
        value: `Hello ${name}`,
      }),
    );
    ctx.send(officialKafka({ typename: 'interop/greets', topic: 'unkeyed', value: name }));
    ctx.send(
      official.egressMessageBuilder({
        typename: 'interop/generic',
        value: { seen, name },
        valueType: officialJson,
      }),
    );
  },
});

const greeter = statefulFunction({
  typename: 'interop/greeter',
  specs: {
    seen: valueSpec(types.int),
    name: valueSpec(types.string, { expireAfterWrite: 60_000 }),
    flag: valueSpec(types.bool),
    temp: valueSpec(types.float, { expireAfterCall: 5_000 }),
  },
  handler(ctx, message) {
    const seen = (ctx.storage.seen ?? 0) + 1;
    ctx.storage.seen = seen;
    const name = message.asString();
    ctx.storage.name = name;
    ctx.storage.flag = name === 'reset' ? undefined : seen % 2 === 0;
    ctx.storage.temp = (ctx.storage.temp ?? 0) + 0.25;
    ctx.send(messageBuilder({ typename: 'interop/audit', id: ctx.self.id, value: `${name}:${seen}` }));
    if (ctx.caller) ctx.send(messageBuilder({ target: ctx.caller, value: seen, valueType: types.int }));
    ctx.sendAfter(
      1000 * seen,
      messageBuilder({ typename: 'interop/greeter', id: ctx.self.id, value: 'remind' }),
      {
        cancellationToken: `r-${seen}`,
      },
    );
    ctx.sendAfter(0, messageBuilder({ typename: 'interop/audit', id: 'x', value: 'now' }));
    if (seen > 2) ctx.cancelDelayedMessage(`r-${seen - 1}`);
    ctx.sendEgress(
      kafkaEgressMessage({
        typename: 'interop/greets',
        topic: 'greetings',
        key: ctx.self.id,
        value: `Hello ${name}`,
      }),
    );
    ctx.sendEgress(kafkaEgressMessage({ typename: 'interop/greets', topic: 'unkeyed', value: name }));
    ctx.sendEgress(
      egressMessageBuilder({ typename: 'interop/generic', value: { seen, name }, valueType: Json }),
    );
  },
});
const ours = createRequestReplyHandler([greeter]);

const stringArg = (
  s: string,
  caller?: { namespace: string; type: string; id: string },
): ToFunctionInvocation => ({
  argument: { typename: 'io.statefun.types/string', hasValue: true, value: encodeString(s) },
  ...(caller === undefined ? {} : { caller }),
});

function request(id: string, state: PersistedValue[], invocations: ToFunctionInvocation[]): Uint8Array {
  return encodeToFunction({
    invocation: { target: { namespace: 'interop', type: 'greeter', id }, state, invocations },
  });
}

const ALL_EMPTY: PersistedValue[] = [
  { stateName: 'seen' },
  { stateName: 'name' },
  { stateName: 'flag' },
  { stateName: 'temp' },
];

async function both(body: Uint8Array): Promise<{ theirs: Uint8Array; ours: Uint8Array }> {
  const theirs = await officialHandle(officialSf, body);
  expect(theirs.status).toBe(200);
  return { theirs: theirs.body, ours: await ours.handle(body) };
}

/** The official JS SDK leaves ExpirationSpec out for mode NONE; we send it. Both mean the same. */
function withDefaultExpiration(m: FromFunction): FromFunction {
  if (m.incompleteInvocationContext === undefined) return m;
  return {
    incompleteInvocationContext: {
      missingValues: m.incompleteInvocationContext.missingValues.map((v) => ({
        ...v,
        expirationSpec: v.expirationSpec ?? { mode: ExpireMode.NONE, expireAfterMillis: 0 },
      })),
    },
  };
}

describe('the same function written with the official JS SDK and with ours', () => {
  it('produces equal effects for a first invocation from an ingress', async () => {
    const { theirs, ours: mine } = await both(request('alice', ALL_EMPTY, [stringArg('Alice')]));
    expect(decodeFromFunction(mine)).toEqual(decodeFromFunction(theirs));
  });

  it('produces equal effects for a batch with state, callers and a deletion', async () => {
    const state: PersistedValue[] = [
      {
        stateName: 'seen',
        stateValue: { typename: 'io.statefun.types/int', hasValue: true, value: encodeInt(2) },
      },
      {
        stateName: 'name',
        stateValue: { typename: 'io.statefun.types/string', hasValue: true, value: encodeString('old') },
      },
      {
        stateName: 'flag',
        stateValue: { typename: 'io.statefun.types/bool', hasValue: true, value: encodeBool(true) },
      },
      {
        stateName: 'temp',
        stateValue: { typename: 'io.statefun.types/float', hasValue: true, value: encodeFloat(1.5) },
      },
      { stateName: 'unrelated', stateValue: { typename: 'x/y', hasValue: true, value: Uint8Array.of(1) } },
    ];
    const caller = { namespace: 'interop', type: 'user', id: 'u-1' };
    const body = request('bob', state, [
      stringArg('Bob', caller),
      stringArg('reset'),
      stringArg('Robert', caller),
    ]);
    const { theirs, ours: mine } = await both(body);
    const decoded = decodeFromFunction(mine);
    expect(decoded).toEqual(decodeFromFunction(theirs));
    expect(decoded.invocationResult?.delayedInvocations.filter((d) => d.isCancellationRequest)).toHaveLength(
      3,
    );
  });

  it('asks for the same missing states, with the same types and expirations', async () => {
    const { theirs, ours: mine } = await both(
      request('carol', [{ stateName: 'seen' }], [stringArg('Carol')]),
    );
    const decoded = decodeFromFunction(mine);
    expect(decoded.incompleteInvocationContext?.missingValues.map((v) => v.stateName)).toEqual([
      'name',
      'flag',
      'temp',
    ]);
    expect(decoded).toEqual(withDefaultExpiration(decodeFromFunction(theirs)));
  });

  it('produces equal effects for random batches', async () => {
    const caller = fc.option(
      fc.record({
        namespace: fc.constant('interop'),
        type: fc.constantFrom('user', 'admin'),
        id: fc.string({ minLength: 1, maxLength: 5 }),
      }),
      { nil: undefined },
    );
    const names = fc.array(fc.tuple(fc.oneof(fc.constant('reset'), fc.string({ maxLength: 6 })), caller), {
      minLength: 1,
      maxLength: 6,
    });
    // Non-negative: our sendAfter rejects the negative delays the official SDK would let through.
    const initialSeen = fc.option(fc.integer({ min: 0, max: 1000 }), { nil: undefined });
    await fc.assert(
      fc.asyncProperty(names, initialSeen, async (batch, seen) => {
        const state: PersistedValue[] = [
          seen === undefined
            ? { stateName: 'seen' }
            : {
                stateName: 'seen',
                stateValue: { typename: 'io.statefun.types/int', hasValue: true, value: encodeInt(seen) },
              },
          { stateName: 'name' },
          { stateName: 'flag' },
          { stateName: 'temp' },
        ];
        const body = request(
          'id',
          state,
          batch.map(([n, c]) => stringArg(n, c)),
        );
        const { theirs, ours: mine } = await both(body);
        expect(decodeFromFunction(mine)).toEqual(decodeFromFunction(theirs));
      }),
      { numRuns: 100 },
    );
  });
});

describe('each SDK reads what the other writes', () => {
  it('the official decoder reads our response exactly as it reads its own', async () => {
    const { theirs, ours: mine } = await both(
      request('dave', ALL_EMPTY, [stringArg('Dave', { namespace: 'interop', type: 'user', id: 'd' })]),
    );
    const FromFunction = pb.reqreply.FromFunction;
    expect(FromFunction.deserializeBinary(mine).toObject()).toEqual(
      FromFunction.deserializeBinary(theirs).toObject(),
    );
  });

  it('messages and Kafka records the official SDK wrote are read by our Message and decoders', async () => {
    const caller = { namespace: 'interop', type: 'user', id: 'eve' };
    const { theirs } = await both(request('eve', ALL_EMPTY, [stringArg('Eve', caller)]));
    const result = decodeFromFunction(theirs).invocationResult!;

    // Deliver the official SDK's outgoing messages to a function written with ours.
    const received: string[] = [];
    const sink = statefulFunction({
      typename: 'interop/user',
      handler(_ctx: Context<Specs>, message: Message) {
        received.push(message.isInt() ? `int ${message.asInt()}` : `string ${message.asString()}`);
      },
    });
    const reply = result.outgoingMessages.find((m) => m.target.type === 'user')!;
    await createRequestReplyHandler([sink]).handle(
      encodeToFunction({
        invocation: { target: reply.target, state: [], invocations: [{ argument: reply.argument }] },
      }),
    );
    expect(received).toEqual(['int 1']);

    const records = result.outgoingEgresses
      .filter((e) => e.egressType === 'greets')
      .map((e) => decodeKafkaProducerRecord(e.argument.value));
    expect(records.map((r) => [r.topic, r.key, Buffer.from(r.valueBytes).toString()])).toEqual([
      ['greetings', 'eve', 'Hello Eve'],
      ['unkeyed', '', 'Eve'],
    ]);
    const generic = result.outgoingEgresses.find((e) => e.egressType === 'generic')!;
    expect(Json.deserialize(generic.argument.value)).toEqual({ seen: 1, name: 'Eve' });
  });

  it('typed values and Kafka records we wrote are read by the official SDK', () => {
    const address = official.Address.fromParts('interop', 'greeter', 'x');
    const read = (typename: string, value: Uint8Array) =>
      new official.Message(
        address,
        pb.reqreply.TypedValue.deserializeBinary(encodeTypedValue({ typename, hasValue: true, value })),
      );
    expect(read('io.statefun.types/int', types.int.serialize(-42)).asInt()).toBe(-42);
    expect(read('io.statefun.types/string', types.string.serialize('żółw')).asString()).toBe('żółw');
    expect(read('io.statefun.types/bool', types.bool.serialize(true)).asBoolean()).toBe(true);
    expect(read('io.statefun.types/float', types.float.serialize(2.5)).asFloat()).toBe(2.5);
    expect(read('interop/Json', Json.serialize({ seen: 3, name: 'n' })).as(officialJson)).toEqual({
      seen: 3,
      name: 'n',
    });

    const record = pb.egress.KafkaProducerRecord.deserializeBinary(
      encodeKafkaProducerRecord({ key: 'k', valueBytes: Uint8Array.of(1, 2), topic: 't' }),
    );
    expect([record.getKey(), Array.from(record.getValueBytes_asU8()), record.getTopic()]).toEqual([
      'k',
      [1, 2],
      't',
    ]);
  });
});

describe('our encodings are the ones google-protobuf writes', () => {
  it('primitive wrappers are byte-identical for every value but -0 and NaN', () => {
    const same = (ourBytes: Uint8Array, theirBytes: Uint8Array): void => {
      expect(Buffer.from(ourBytes)).toEqual(Buffer.from(theirBytes));
    };
    const T = pb.types;
    const wrapper = (Class: PbClass<PbWrapper>, v: unknown): Uint8Array => {
      const w = new Class();
      w.setValue(v);
      return w.serializeBinary();
    };
    fc.assert(fc.property(fc.integer(), (v) => same(encodeInt(v), wrapper(T.IntWrapper, v))));
    fc.assert(
      fc.property(fc.maxSafeInteger(), (v) => same(encodeLong(BigInt(v)), wrapper(T.LongWrapper, v))),
    );
    fc.assert(
      fc.property(
        fc.double({ noNaN: true }).filter((v) => !Object.is(v, -0)),
        (v) => same(encodeDouble(v), wrapper(T.DoubleWrapper, v)),
      ),
    );
    fc.assert(
      fc.property(
        fc.float({ noNaN: true }).filter((v) => !Object.is(v, -0)),
        (v) => same(encodeFloat(v), wrapper(T.FloatWrapper, v)),
      ),
    );
    fc.assert(fc.property(fc.boolean(), (v) => same(encodeBool(v), wrapper(T.BooleanWrapper, v))));
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (v) => same(encodeString(v), wrapper(T.StringWrapper, v))),
    );
  });

  it('-0 and NaN differ only in representation: google-protobuf drops -0 and writes NaN as all ones', () => {
    const T = pb.types;
    expect(T.DoubleWrapper.deserializeBinary(encodeDouble(Number.NaN)).getValue()).toBeNaN();
    // google-protobuf reads our -0 as a zero (it does not keep the sign of zero itself either).
    expect(T.DoubleWrapper.deserializeBinary(encodeDouble(-0)).getValue() === 0).toBe(true);
    const w = new T.DoubleWrapper();
    w.setValue(Number.NaN);
    expect(decodeDouble(w.serializeBinary())).toBeNaN();
  });

  it('ToFunction bytes are byte-identical to google-protobuf re-serializing them', () => {
    fc.assert(
      fc.property(arbitraryToFunction, (m: ToFunction) => {
        const bytes = encodeToFunction(m);
        expect(Buffer.from(pb.reqreply.ToFunction.deserializeBinary(bytes).serializeBinary())).toEqual(
          Buffer.from(bytes),
        );
        expect(decodeToFunction(bytes)).toEqual(m);
      }),
    );
  });

  it('FromFunction bytes decode identically; they are byte-identical except DelayedInvocation field order', () => {
    fc.assert(
      fc.property(arbitraryFromFunction, (m: FromFunction) => {
        const bytes = encodeFromFunction(m);
        const theirs = new Uint8Array(pb.reqreply.FromFunction.deserializeBinary(bytes).serializeBinary());
        expect(decodeFromFunction(theirs)).toEqual(decodeFromFunction(bytes));
        // google-protobuf JS writes fields in declaration order (10, 11, 1, 2, 3 for DelayedInvocation);
        // we write them by field number, like the Java, Go and Python runtimes.
        if ((m.invocationResult?.delayedInvocations.length ?? 0) === 0)
          expect(Buffer.from(theirs)).toEqual(Buffer.from(bytes));
      }),
    );
  });
});
