// `@continuum/sdk/testing`: invoke a function in-process and assert on its state and effects.
export { invoke, testMessage, testMessageFrom } from './harness.js';
export type {
  DelayedMessage,
  FinalState,
  InitialState,
  InvocationResult,
  InvokeOptions,
  KafkaRecord,
  KinesisRecord,
  SentEgress,
  SentMessage,
  TestMessage,
} from './harness.js';
