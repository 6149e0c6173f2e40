// The event-time extension of the protocol (fields 1000+): exact bytes, round trips, and proof that
// the official StateFun JS SDK (google-protobuf) ignores every extension field.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeFromFunction,
  decodeToFunction,
  encodeFromFunction,
  encodeString,
  encodeToFunction,
  type DelayedInvocation,
  type FromFunction,
  type ToFunction,
} from '@continuum/sdk/protocol';
import { fromHex, hex } from '../helpers.js';
import { official, officialHandle, pb } from '../interop/official-sdk.js';
import { address, int64, text, typedValue } from './arbitraries.js';

const ADDR_N_F_1 = '0a 01 6e 12 01 66 1a 01 31'; // Address{n, f, 1}: 9 bytes
const TV_PRESENT_EMPTY = '0a 03 61 2f 62 10 01'; // TypedValue{a/b, has_value}: 7 bytes
// Field 1000, varint: tag (1000 << 3 | 0) = 8000 = c0 3e. Field 1001: 8008 = c8 3e.
// 300 = ac 02, 200 = c8 01.

const target = { namespace: 'n', type: 'f', id: '1' };
const argument = { typename: 'a/b', hasValue: true, value: new Uint8Array(0) };

const toFunction: ToFunction = {
  invocation: {
    target,
    state: [],
    invocations: [{ argument, eventTime: 300, watermark: 200 }],
  },
};
const toFunctionBytes = [
  'a2 06 1e', // field 100, 30 bytes
  `0a 09 ${ADDR_N_F_1}`,
  `1a 11 12 07 ${TV_PRESENT_EMPTY} c0 3e ac 02 c8 3e c8 01`, // invocation: argument, event_time 300, watermark 200
].join(' ');

const fromFunction: FromFunction = {
  invocationResult: {
    stateMutations: [],
    outgoingMessages: [{ target, argument, eventTime: 300 }],
    delayedInvocations: [
      {
        isCancellationRequest: false,
        cancellationToken: 'x',
        delayInMs: 0,
        target,
        argument,
        eventTime: 300,
        atEventTime: true,
      },
    ],
    outgoingEgresses: [{ egressNamespace: 'e', egressType: 'o', argument, eventTime: 300 }],
  },
};
const fromFunctionBytes = [
  'a2 06 4f', // field 100, 79 bytes
  `12 18 0a 09 ${ADDR_N_F_1} 12 07 ${TV_PRESENT_EMPTY} c0 3e ac 02`, // outgoing, event_time 300
  `1a 1e 12 09 ${ADDR_N_F_1} 1a 07 ${TV_PRESENT_EMPTY} 5a 01 78 c0 3e ac 02 c8 3e 01`, // timer at 300, token x
  `22 13 0a 01 65 12 01 6f 1a 07 ${TV_PRESENT_EMPTY} c0 3e ac 02`, // egress, event_time 300
].join(' ');

/** The same message without any extension field. */
function stripToFunction(m: ToFunction): ToFunction {
  if (m.invocation === undefined) return m;
  return {
    invocation: {
      ...m.invocation,
      invocations: m.invocation.invocations.map(({ caller, argument: arg }) =>
        caller === undefined ? { argument: arg } : { caller, argument: arg },
      ),
    },
  };
}

function stripFromFunction(m: FromFunction): FromFunction {
  const r = m.invocationResult;
  if (r === undefined) return m;
  return {
    invocationResult: {
      stateMutations: r.stateMutations,
      outgoingMessages: r.outgoingMessages.map(({ target: t, argument: a }) => ({ target: t, argument: a })),
      delayedInvocations: r.delayedInvocations.map((d) => {
        const out: DelayedInvocation = {
          isCancellationRequest: d.isCancellationRequest,
          cancellationToken: d.cancellationToken,
          delayInMs: d.delayInMs,
        };
        if (d.target !== undefined) out.target = d.target;
        if (d.argument !== undefined) out.argument = d.argument;
        return out;
      }),
      outgoingEgresses: r.outgoingEgresses.map(({ egressNamespace, egressType, argument: a }) => ({
        egressNamespace,
        egressType,
        argument: a,
      })),
    },
  };
}

const eventTime = fc.oneof(int64, fc.integer({ min: -1e15, max: -1 }));

const toFunctionWithExtensions: fc.Arbitrary<ToFunction> = fc.record({
  invocation: fc.record({
    target: address,
    state: fc.constant([]),
    invocations: fc.array(
      fc.record(
        { caller: address, argument: typedValue, eventTime, watermark: eventTime },
        { requiredKeys: ['argument'] },
      ),
      { maxLength: 4 },
    ),
  }),
});

const fromFunctionWithExtensions: fc.Arbitrary<FromFunction> = fc.record({
  invocationResult: fc.record({
    stateMutations: fc.constant([]),
    outgoingMessages: fc.array(
      fc.record(
        { target: address, argument: typedValue, eventTime },
        { requiredKeys: ['target', 'argument'] },
      ),
      { maxLength: 3 },
    ),
    delayedInvocations: fc.array(
      fc.record(
        {
          isCancellationRequest: fc.boolean(),
          cancellationToken: text,
          delayInMs: int64,
          target: address,
          argument: typedValue,
          eventTime,
          atEventTime: fc.constant(true),
        },
        { requiredKeys: ['isCancellationRequest', 'cancellationToken', 'delayInMs'] },
      ),
      { maxLength: 3 },
    ),
    outgoingEgresses: fc.array(
      fc.record(
        { egressNamespace: text, egressType: text, argument: typedValue, eventTime },
        { requiredKeys: ['egressNamespace', 'egressType', 'argument'] },
      ),
      { maxLength: 3 },
    ),
  }),
});

describe('the event-time extension fields (1000+)', () => {
  it('ToFunction.Invocation carries event_time (1000) and watermark (1001) after the standard fields', () => {
    expect(hex(encodeToFunction(toFunction))).toBe(toFunctionBytes);
    expect(decodeToFunction(fromHex(toFunctionBytes))).toEqual(toFunction);
  });

  it('FromFunction carries the event time of messages, timers and egress records, and the timer flag (1001)', () => {
    expect(hex(encodeFromFunction(fromFunction))).toBe(fromFunctionBytes);
    expect(decodeFromFunction(fromHex(fromFunctionBytes))).toEqual(fromFunction);
  });

  it('zero means "not set": it is left out when encoding and absent after decoding', () => {
    const zero: ToFunction = {
      invocation: { target, state: [], invocations: [{ argument, eventTime: 0, watermark: 0 }] },
    };
    const decoded = decodeToFunction(encodeToFunction(zero));
    expect(decoded.invocation!.invocations[0]).toEqual({ argument });
    expect(Object.keys(decoded.invocation!.invocations[0]!)).toEqual(['argument']);
  });

  it('a negative watermark (event times near the epoch minus a disorder bound) round-trips', () => {
    const m: ToFunction = {
      invocation: { target, state: [], invocations: [{ argument, eventTime: 5, watermark: -4995 }] },
    };
    expect(decodeToFunction(encodeToFunction(m))).toEqual(m);
  });

  it('messages with extension fields round-trip', () => {
    fc.assert(
      fc.property(toFunctionWithExtensions, fromFunctionWithExtensions, (to, from) => {
        expect(decodeToFunction(encodeToFunction(to))).toEqual(normalizeTo(to));
        expect(decodeFromFunction(encodeFromFunction(from))).toEqual(normalizeFrom(from));
      }),
      { numRuns: 200 },
    );
  });
});

/** Decoding leaves zero extensions out and reads a missing argument as empty; mirror that. */
function normalizeTo(m: ToFunction): ToFunction {
  return decodeToFunction(encodeToFunction(m));
}
function normalizeFrom(m: FromFunction): FromFunction {
  const r = m.invocationResult!;
  const clean = <T extends { eventTime?: number | undefined }>(x: T): T => {
    const out = { ...x };
    if (out.eventTime === 0) delete out.eventTime;
    return out;
  };
  return {
    invocationResult: {
      ...r,
      outgoingMessages: r.outgoingMessages.map(clean),
      delayedInvocations: r.delayedInvocations.map(clean),
      outgoingEgresses: r.outgoingEgresses.map(clean),
    },
  };
}

describe('the official StateFun JS SDK ignores the extension fields', () => {
  it('google-protobuf decodes requests and responses with extensions as if they were not there', () => {
    fc.assert(
      fc.property(toFunctionWithExtensions, fromFunctionWithExtensions, (to, from) => {
        const ToFunction = pb.reqreply.ToFunction;
        const FromFunction = pb.reqreply.FromFunction;
        expect(ToFunction.deserializeBinary(encodeToFunction(to)).toObject()).toEqual(
          ToFunction.deserializeBinary(encodeToFunction(stripToFunction(to))).toObject(),
        );
        expect(FromFunction.deserializeBinary(encodeFromFunction(from)).toObject()).toEqual(
          FromFunction.deserializeBinary(encodeFromFunction(stripFromFunction(from))).toObject(),
        );
      }),
      { numRuns: 100 },
    );
  });

  it('an official-SDK function answers a request with event times and watermarks exactly as one without', async () => {
    const { StateFun, messageBuilder } = official;
    const sf = new StateFun();
    sf.bind({
      typename: 'interop/counter',
      specs: [{ name: 'seen', type: StateFun.intType() }],
      fn(ctx, message) {
        const seen = ((ctx.storage.seen as number | null) ?? 0) + 1;
        ctx.storage.seen = seen;
        ctx.send(
          messageBuilder({
            typename: 'interop/audit',
            id: ctx.self.id,
            value: `${message.asString()}:${seen}`,
          }),
        );
        ctx.sendAfter(
          1000,
          messageBuilder({ typename: 'interop/counter', id: ctx.self.id, value: 'tick' }),
          't',
        );
      },
    });
    const request = (extensions: boolean): ToFunction => ({
      invocation: {
        target: { namespace: 'interop', type: 'counter', id: 'c1' },
        state: [{ stateName: 'seen' }],
        invocations: ['a', 'b', 'c'].map((s, i) => ({
          argument: { typename: 'io.statefun.types/string', hasValue: true, value: encodeString(s) },
          ...(extensions ? { eventTime: 1_700_000_000_000 + i, watermark: 1_699_999_999_000 } : {}),
        })),
      },
    });
    const plain = await officialHandle(sf, encodeToFunction(request(false)));
    const extended = await officialHandle(sf, encodeToFunction(request(true)));
    expect(extended.status).toBe(200);
    expect(hex(extended.body)).toBe(hex(plain.body));
    expect(decodeFromFunction(extended.body).invocationResult!.outgoingMessages).toHaveLength(3);
  });
});
