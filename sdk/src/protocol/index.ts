// `@continuum/sdk/protocol`: the StateFun 3.x request-reply protocol shared by the SDK and the runtime:
// the plain message shapes, their binary codecs and the primitive type encodings.
export type {
  Address,
  DelayedInvocation,
  EgressMessage,
  ExpirationSpec,
  FromFunction,
  IncompleteInvocationContext,
  InvocationBatchRequest,
  InvocationResponse,
  KafkaProducerRecord,
  KinesisEgressRecord,
  OutgoingInvocation,
  PersistedValue,
  PersistedValueMutation,
  PersistedValueSpec,
  ToFunction,
  ToFunctionInvocation,
  TypedValue,
} from './messages.js';
export {
  ExpireMode,
  KAFKA_PRODUCER_RECORD_TYPENAME,
  KINESIS_EGRESS_RECORD_TYPENAME,
  MutationType,
  PrimitiveTypeName,
} from './messages.js';
export {
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
} from './codec.js';
export {
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
} from './primitives.js';
export { ProtocolError, SdkError } from '../errors.js';
export type { ProtocolErrorCode, SdkErrorCode, SdkErrorOptions } from '../errors.js';
export {
  ED25519_SIGNATURE_BYTES,
  formatSignatureHeader,
  parseSignatureHeader,
  SIGNATURE_HEADER,
  signedPayload,
} from './signature.js';
export type { ParsedSignature } from './signature.js';
