// `@continuum/sdk/testing`: invoke a function in-process and assert on its state and effects.
export { invoke, testMessage, testMessageFrom } from './harness.js';
export type {
  DelayedMessage,
  EventTimeTimer,
  FinalState,
  InitialState,
  InvocationResult,
  InvokeOptions,
  KafkaRecord,
  KinesisRecord,
  PlaygroundEgressRecord,
  SentEgress,
  SentMessage,
  TestMessage,
  TestMessageOptions,
} from './harness.js';
