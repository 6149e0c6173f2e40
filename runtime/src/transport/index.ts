// The public surface of the function transport: the FunctionClient port, its errors, and the
// undici-based HTTP adapter with its options and metrics hooks.
export {
  FunctionAttemptError,
  FunctionCallError,
  FunctionCallErrorCode,
  formatAddress,
} from './function-client.js';
export type {
  AttemptFailureKind,
  FunctionCall,
  FunctionCallErrorDetails,
  FunctionClient,
} from './function-client.js';
export { HttpFunctionClient } from './http-function-client.js';
export type { HttpFunctionClientOptions } from './http-function-client.js';
export type { AttemptEvent, CallEvent } from '../observers.js';
export { EndpointUrlError, parseEndpointUrl } from './endpoint-url.js';
export type { EndpointTarget } from './endpoint-url.js';
export { asyncRetryPolicy, okHttpRetryPolicy, retryPolicyFor } from './retry-policy.js';
export type { RetryPolicy } from './retry-policy.js';
export { ed25519Signer, loadRequestSigner } from './request-signer.js';
export type { RequestSigner } from './request-signer.js';
