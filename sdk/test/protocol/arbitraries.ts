// fast-check arbitraries of every protocol message shape, shared by the property-based tests.
import fc from 'fast-check';
import type {
  Address,
  DelayedInvocation,
  FromFunction,
  KafkaProducerRecord,
  KinesisEgressRecord,
  PersistedValueSpec,
  ToFunction,
  TypedValue,
} from '@continuum/sdk/protocol';

export const text = fc.oneof(fc.string(), fc.string({ unit: 'grapheme', maxLength: 8 }));
export const bytes = fc.uint8Array({ maxLength: 64 });
export const int64 = fc.maxSafeInteger();

export const address: fc.Arbitrary<Address> = fc.record({ namespace: text, type: text, id: text });
export const typedValue: fc.Arbitrary<TypedValue> = fc.record({
  typename: text,
  hasValue: fc.boolean(),
  value: bytes,
});

export const toFunction: fc.Arbitrary<ToFunction> = fc.oneof(
  fc.constant({}),
  fc.record({
    invocation: fc.record({
      target: address,
      state: fc.array(
        fc.record({ stateName: text, stateValue: typedValue }, { requiredKeys: ['stateName'] }),
        {
          maxLength: 4,
        },
      ),
      invocations: fc.array(
        fc.record({ caller: address, argument: typedValue }, { requiredKeys: ['argument'] }),
        {
          maxLength: 4,
        },
      ),
    }),
  }),
);

const delayed: fc.Arbitrary<DelayedInvocation> = fc.record(
  {
    isCancellationRequest: fc.boolean(),
    cancellationToken: text,
    delayInMs: int64,
    target: address,
    argument: typedValue,
  },
  { requiredKeys: ['isCancellationRequest', 'cancellationToken', 'delayInMs'] },
);

const valueSpec: fc.Arbitrary<PersistedValueSpec> = fc.record(
  {
    stateName: text,
    typeTypename: text,
    expirationSpec: fc.record({
      mode: fc.constantFrom(0 as const, 1 as const, 2 as const),
      expireAfterMillis: int64,
    }),
  },
  { requiredKeys: ['stateName', 'typeTypename'] },
);

export const fromFunction: fc.Arbitrary<FromFunction> = fc.oneof(
  fc.constant({}),
  fc.record({
    invocationResult: fc.record({
      stateMutations: fc.array(
        fc.record(
          { mutationType: fc.constantFrom(0 as const, 1 as const), stateName: text, stateValue: typedValue },
          { requiredKeys: ['mutationType', 'stateName'] },
        ),
        { maxLength: 4 },
      ),
      outgoingMessages: fc.array(fc.record({ target: address, argument: typedValue }), { maxLength: 4 }),
      delayedInvocations: fc.array(delayed, { maxLength: 4 }),
      outgoingEgresses: fc.array(
        fc.record({ egressNamespace: text, egressType: text, argument: typedValue }),
        { maxLength: 4 },
      ),
    }),
  }),
  fc.record({
    incompleteInvocationContext: fc.record({ missingValues: fc.array(valueSpec, { maxLength: 4 }) }),
  }),
);

export const kafkaRecord: fc.Arbitrary<KafkaProducerRecord> = fc.record({
  key: text,
  valueBytes: bytes,
  topic: text,
});
export const kinesisRecord: fc.Arbitrary<KinesisEgressRecord> = fc.record({
  partitionKey: text,
  valueBytes: bytes,
  stream: text,
  explicitHashKey: text,
});
