// `@continuum/sdk`: the public API for writing, serving and testing stateful functions. Every export is named here.
export { address } from './address.js';
export type { Address } from './address.js';
export { createClient, InvokeError, ReplyTimeoutError } from './client.js';
export type { Client, ClientOptions, InvokeMessage, InvokeOptions } from './client.js';
export type { Context, NoSpecs, SendAfterOptions, SendAtEventTimeOptions } from './context.js';
export { ProtocolError, SdkError, TerminalError } from './errors.js';
export type { ProtocolErrorCode, SdkErrorCode, SdkErrorOptions } from './errors.js';
export { DEFAULT_BODY_LIMIT, serve, statefulFunctionsPlugin } from './fastify-plugin.js';
export type { ServeOptions, ServerHandle, StatefulFunctionsPluginOptions } from './fastify-plugin.js';
export { serveFromEnv } from './serve-env.js';
export type { ServeFromEnvOptions } from './serve-env.js';
export { statefulFunction } from './function.js';
export type { FunctionOptions, StatefulFunction } from './function.js';
export { createRequestReplyHandler, httpStatusOf } from './handler.js';
export type { RequestReplyHandler } from './handler.js';
export {
  egressMessageBuilder,
  kafkaEgressMessage,
  kinesisEgressMessage,
  messageBuilder,
  PLAYGROUND_EGRESS,
  playgroundEgressMessage,
  playgroundEgressRecordType,
} from './message.js';
export type {
  EgressMessage,
  EgressMessageOptions,
  KafkaEgressOptions,
  KinesisEgressOptions,
  Message,
  MessageBuilderOptions,
  MessageTarget,
  OutgoingMessage,
  RecordValue,
  TypedBytes,
} from './message.js';
export { createRequestVerifier, MAX_VERIFY_KEYS } from './verify.js';
export type { RequestVerifier, VerifyOptions, VerifyResult } from './verify.js';
export { valueSpec } from './spec.js';
export type { Expiration, SpecValue, Specs, Storage, ValueSpec, ValueSpecOptions } from './spec.js';
export { customType, jsonType, protobufType, types } from './types.js';
export type { GoogleProtobufClass, ProtobufjsCodec, Type, TypeOf } from './types.js';
