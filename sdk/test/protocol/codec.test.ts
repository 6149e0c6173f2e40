import { describe, expect, it } from 'vitest';
import {
  decodeFromFunction,
  decodeKafkaProducerRecord,
  decodeKinesisEgressRecord,
  decodeToFunction,
  decodeTypedValue,
  encodeFromFunction,
  encodeKafkaProducerRecord,
  encodeKinesisEgressRecord,
  encodeToFunction,
  encodeTypedValue,
  ExpireMode,
  MutationType,
  ProtocolError,
  type FromFunction,
  type ToFunction,
} from '@continuum/sdk/protocol';
import { fromHex, hex } from '../helpers.js';

// Golden vectors, written out by hand from the field numbers of the spec (§1.2, §1.5). Strings are short
// ASCII so the lengths can be checked by eye: 'a/b' = 61 2f 62, 'n' = 6e, 'f' = 66, 's' = 73, 't' = 74.
const ADDR_N_F_1 = '0a 01 6e 12 01 66 1a 01 31'; // Address{namespace n, type f, id 1}: 9 bytes
const TV_BOOL_TRUE = '0a 03 61 2f 62 10 01 1a 02 08 01'; // TypedValue{a/b, has_value, 08 01}: 11 bytes
const TV_PRESENT_EMPTY = '0a 03 61 2f 62 10 01'; // TypedValue{a/b, has_value, no bytes}: 7 bytes

const toFunction: ToFunction = {
  invocation: {
    target: { namespace: 'n', type: 'f', id: '1' },
    state: [
      { stateName: 's', stateValue: { typename: 'a/b', hasValue: true, value: fromHex('08 01') } },
      { stateName: 't' },
    ],
    invocations: [
      {
        caller: { namespace: 'n', type: 'g', id: '2' },
        argument: { typename: 'a/b', hasValue: true, value: new Uint8Array(0) },
      },
    ],
  },
};
const toFunctionBytes = [
  'a2 06 38', // field 100 (invocation), 56 bytes
  `0a 09 ${ADDR_N_F_1}`, // target
  `12 10 0a 01 73 12 0b ${TV_BOOL_TRUE}`, // state s with a value
  '12 03 0a 01 74', // state t without a value: name only
  `1a 14 0a 09 0a 01 6e 12 01 67 1a 01 32 12 07 ${TV_PRESENT_EMPTY}`, // invocation with caller n/g/2
].join(' ');

const invocationResult: FromFunction = {
  invocationResult: {
    stateMutations: [
      {
        mutationType: MutationType.MODIFY,
        stateName: 's',
        stateValue: { typename: 'a/b', hasValue: true, value: fromHex('08 01') },
      },
      { mutationType: MutationType.DELETE, stateName: 't' },
    ],
    outgoingMessages: [
      {
        target: { namespace: 'n', type: 'f', id: '1' },
        argument: { typename: 'a/b', hasValue: true, value: new Uint8Array(0) },
      },
    ],
    delayedInvocations: [
      {
        isCancellationRequest: false,
        cancellationToken: 'x',
        delayInMs: 5,
        target: { namespace: 'n', type: 'f', id: '1' },
        argument: { typename: 'a/b', hasValue: true, value: new Uint8Array(0) },
      },
      { isCancellationRequest: true, cancellationToken: 'tok', delayInMs: 0 },
    ],
    outgoingEgresses: [
      {
        egressNamespace: 'e',
        egressType: 'o',
        argument: { typename: 'a/b', hasValue: true, value: fromHex('01') },
      },
    ],
  },
};
const invocationResultBytes = [
  'a2 06 67', // field 100 (invocation_result), 103 bytes
  `0a 12 08 01 12 01 73 1a 0b ${TV_BOOL_TRUE}`, // MODIFY s
  '0a 03 12 01 74', // DELETE t: the zero enum value is left out
  `12 14 0a 09 ${ADDR_N_F_1} 12 07 ${TV_PRESENT_EMPTY}`, // outgoing message
  `1a 19 08 05 12 09 ${ADDR_N_F_1} 1a 07 ${TV_PRESENT_EMPTY} 5a 01 78`, // delayed 5 ms, token x
  '1a 07 50 01 5a 03 74 6f 6b', // cancellation of tok: fields 10 and 11 only
  '22 12 0a 01 65 12 01 6f 1a 0a 0a 03 61 2f 62 10 01 1a 01 01', // egress e/o
].join(' ');

const incomplete: FromFunction = {
  incompleteInvocationContext: {
    missingValues: [
      {
        stateName: 's',
        expirationSpec: { mode: ExpireMode.AFTER_WRITE, expireAfterMillis: 1000 },
        typeTypename: 'a/b',
      },
      { stateName: 't', typeTypename: 'a/b' },
    ],
  },
};
const incompleteBytes = [
  'aa 06 1b', // field 101 (incomplete_invocation_context), 27 bytes
  '0a 0f 0a 01 73 12 05 08 01 10 e8 07 1a 03 61 2f 62', // s, AFTER_WRITE 1000 ms (varint e8 07)
  '0a 08 0a 01 74 1a 03 61 2f 62', // t, no expiration spec
].join(' ');

describe('protocol messages encode to the exact bytes of the spec', () => {
  it('ToFunction: invocation at field 100 (A2 06), state with and without value, caller', () => {
    expect(hex(encodeToFunction(toFunction))).toBe(toFunctionBytes);
    expect(decodeToFunction(fromHex(toFunctionBytes))).toEqual(toFunction);
  });

  it('FromFunction.invocation_result at field 100 (A2 06) with every kind of effect', () => {
    expect(hex(encodeFromFunction(invocationResult))).toBe(invocationResultBytes);
    expect(decodeFromFunction(fromHex(invocationResultBytes))).toEqual(invocationResult);
  });

  it('FromFunction.incomplete_invocation_context at field 101 (AA 06) with and without expiration', () => {
    expect(hex(encodeFromFunction(incomplete))).toBe(incompleteBytes);
    expect(decodeFromFunction(fromHex(incompleteBytes))).toEqual(incomplete);
  });

  it('an empty FromFunction is empty bytes, and empty bytes decode to the no-op {}', () => {
    expect(hex(encodeFromFunction({}))).toBe('');
    expect(decodeFromFunction(new Uint8Array(0))).toEqual({});
    expect(hex(encodeToFunction({}))).toBe('');
    expect(decodeToFunction(new Uint8Array(0))).toEqual({});
  });

  it('an empty InvocationResponse is written as a present, zero-length field', () => {
    const empty: FromFunction = {
      invocationResult: {
        stateMutations: [],
        outgoingMessages: [],
        delayedInvocations: [],
        outgoingEgresses: [],
      },
    };
    expect(hex(encodeFromFunction(empty))).toBe('a2 06 00');
    expect(decodeFromFunction(fromHex('a2 06 00'))).toEqual(empty);
  });

  it('TypedValue: typename 1, has_value 2, value 3; no value is only the typename', () => {
    expect(hex(encodeTypedValue({ typename: 'a/b', hasValue: true, value: fromHex('08 01') }))).toBe(
      TV_BOOL_TRUE,
    );
    expect(hex(encodeTypedValue({ typename: 'a/b', hasValue: false, value: new Uint8Array(0) }))).toBe(
      '0a 03 61 2f 62',
    );
    expect(hex(encodeTypedValue({ typename: '', hasValue: false, value: new Uint8Array(0) }))).toBe('');
    expect(decodeTypedValue(fromHex(''))).toEqual({
      typename: '',
      hasValue: false,
      value: new Uint8Array(0),
    });
  });

  it('KafkaProducerRecord: key 1, value_bytes 2, topic 3; an empty key is left out', () => {
    const r = { key: 'k', valueBytes: fromHex('01 02'), topic: 't' };
    expect(hex(encodeKafkaProducerRecord(r))).toBe('0a 01 6b 12 02 01 02 1a 01 74');
    expect(decodeKafkaProducerRecord(fromHex('0a 01 6b 12 02 01 02 1a 01 74'))).toEqual(r);
    expect(hex(encodeKafkaProducerRecord({ key: '', valueBytes: fromHex('01'), topic: 't' }))).toBe(
      '12 01 01 1a 01 74',
    );
  });

  it('KinesisEgressRecord: partition_key 1, value_bytes 2, stream 3, explicit_hash_key 4', () => {
    const r = { partitionKey: 'p', valueBytes: fromHex('01'), stream: 's', explicitHashKey: 'h' };
    expect(hex(encodeKinesisEgressRecord(r))).toBe('0a 01 70 12 01 01 1a 01 73 22 01 68');
    expect(decodeKinesisEgressRecord(fromHex('0a 01 70 12 01 01 1a 01 73 22 01 68'))).toEqual(r);
  });

  it('a negative delay is a ten-byte two-complement varint, as int64 requires', () => {
    const bytes = encodeFromFunction({
      invocationResult: {
        stateMutations: [],
        outgoingMessages: [],
        delayedInvocations: [{ isCancellationRequest: false, cancellationToken: '', delayInMs: -1 }],
        outgoingEgresses: [],
      },
    });
    expect(hex(bytes)).toBe('a2 06 0d 1a 0b 08 ff ff ff ff ff ff ff ff ff 01');
    expect(decodeFromFunction(bytes).invocationResult?.delayedInvocations[0]?.delayInMs).toBe(-1);
  });
});

describe('decoding yields plain objects', () => {
  it('returns fresh Uint8Arrays that do not alias the input, and no protobufjs instances', () => {
    const input = fromHex(toFunctionBytes);
    const decoded = decodeToFunction(input);
    const value = decoded.invocation!.state[0]!.stateValue!.value;
    expect(value.constructor).toBe(Uint8Array);
    input.fill(0);
    expect(hex(value)).toBe('08 01');
    expect(Object.getPrototypeOf(decoded.invocation)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(decoded.invocation!.target)).toBe(Object.prototype);
    expect(Array.isArray(decoded.invocation!.invocations)).toBe(true);
  });

  it('reads missing repeated fields as [] and missing optional submessages as absent', () => {
    // ToFunction{invocation{target}} only.
    const decoded = decodeToFunction(fromHex(`a2 06 0b 0a 09 ${ADDR_N_F_1}`));
    expect(decoded).toEqual({
      invocation: { target: { namespace: 'n', type: 'f', id: '1' }, state: [], invocations: [] },
    });
    const inv = decodeToFunction(fromHex(`a2 06 0f 0a 09 ${ADDR_N_F_1} 1a 02 12 00`)).invocation!
      .invocations[0]!;
    expect('caller' in inv).toBe(false);
    expect(inv.argument).toEqual({ typename: '', hasValue: false, value: new Uint8Array(0) });
  });

  it('skips unknown fields, such as extensions numbered 1000 and above', () => {
    // TypedValue with an extra field 1000 (varint): tag 1000<<3 = 8000 → c0 3e.
    expect(decodeTypedValue(fromHex('0a 03 61 2f 62 c0 3e 07'))).toEqual({
      typename: 'a/b',
      hasValue: false,
      value: new Uint8Array(0),
    });
  });
});

describe('malformed input is rejected with a ProtocolError and a stable code', () => {
  const codeOf = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(ProtocolError);
      return (e as ProtocolError).code;
    }
    throw new Error('expected a ProtocolError');
  };

  it('truncated bytes, bad lengths and invalid wire types are PROTOCOL_MALFORMED', () => {
    const valid = fromHex(toFunctionBytes);
    for (let cut = 1; cut < valid.length; cut++) {
      expect(codeOf(() => decodeToFunction(valid.subarray(0, cut)))).toBe('PROTOCOL_MALFORMED');
    }
    expect(codeOf(() => decodeFromFunction(fromHex('a2 06 ff ff ff ff 0f')))).toBe('PROTOCOL_MALFORMED');
    expect(codeOf(() => decodeTypedValue(fromHex('0f 01')))).toBe('PROTOCOL_MALFORMED'); // wire type 7
    expect(codeOf(() => decodeToFunction('not bytes' as unknown as Uint8Array))).toBe('PROTOCOL_MALFORMED');
  });

  it('a batch without a target is PROTOCOL_MISSING_FIELD', () => {
    expect(codeOf(() => decodeToFunction(fromHex('a2 06 00')))).toBe('PROTOCOL_MISSING_FIELD');
  });

  it('an outgoing message without a target is PROTOCOL_MISSING_FIELD', () => {
    expect(codeOf(() => decodeFromFunction(fromHex('a2 06 02 12 00')))).toBe('PROTOCOL_MISSING_FIELD');
  });

  it('an undefined enum number is PROTOCOL_UNKNOWN_ENUM', () => {
    // mutation_type = 7
    expect(codeOf(() => decodeFromFunction(fromHex('a2 06 04 0a 02 08 07')))).toBe('PROTOCOL_UNKNOWN_ENUM');
    // expiration mode = 3
    expect(codeOf(() => decodeFromFunction(fromHex('aa 06 06 0a 04 12 02 08 03')))).toBe(
      'PROTOCOL_UNKNOWN_ENUM',
    );
  });

  it('an int64 beyond the safe integer range is PROTOCOL_OUT_OF_RANGE', () => {
    // delay_in_ms = 2^53 (varint 80 80 80 80 80 80 80 10)
    const bytes = fromHex('a2 06 0b 1a 09 08 80 80 80 80 80 80 80 10');
    expect(codeOf(() => decodeFromFunction(bytes))).toBe('PROTOCOL_OUT_OF_RANGE');
  });

  it('a response with both oneof members is rejected in both directions', () => {
    expect(codeOf(() => decodeFromFunction(fromHex('a2 06 00 aa 06 00')))).toBe('PROTOCOL_MALFORMED');
    expect(
      codeOf(() =>
        encodeFromFunction({
          invocationResult: {
            stateMutations: [],
            outgoingMessages: [],
            delayedInvocations: [],
            outgoingEgresses: [],
          },
          incompleteInvocationContext: { missingValues: [] },
        }),
      ),
    ).toBe('PROTOCOL_MALFORMED');
  });
});
