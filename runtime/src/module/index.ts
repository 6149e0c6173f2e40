// Public surface of module.yaml handling: loading, validation errors, durations, resolution.

export { loadModule, parseModule, SUPPORTED_KINDS, UNSUPPORTED_KINDS } from './loader.js';
export type { ModuleLoadOptions } from './loader.js';
export { ModuleError, formatIssue } from './errors.js';
export type { ModuleErrorCode } from './errors.js';
export { parseDuration, tryParseDuration, formatDuration, DURATION_SYNTAX } from './duration.js';
export type { DurationResult } from './duration.js';
export { resolveEndpoint, endpointUrl } from './resolve.js';
export {
  ENDPOINT_V1_KIND,
  ENDPOINT_V2_KIND,
  ASYNC_TRANSPORT,
  OKHTTP_TRANSPORT,
  DEFAULT_MAX_NUM_BATCH_REQUESTS,
  TRANSPORT_DEFAULTS,
} from './endpoint.js';
export { KAFKA_INGRESS_KIND, KAFKA_EGRESS_KIND, STARTUP_DATE_PATTERN, parseStartupDate } from './kafka.js';
export {
  PLAYGROUND_INGRESS_KIND,
  PLAYGROUND_EGRESS_KIND,
  PLAYGROUND_INGRESS_ID,
  PLAYGROUND_EGRESS_ID,
} from './playground.js';
export { HTTP_INGRESS_KIND, HTTP_INGRESS_DEFAULTS } from './http-ingress.js';
export { KINESIS_INGRESS_KIND, KINESIS_EGRESS_KIND } from './kinesis.js';
export { EVENT_TIME_DEFAULTS, EXTRACTORS } from './event-time.js';
export type * from './types.js';
