// The catalogue of codes a ContinuumError carries: one entry per code, saying when it is thrown.
// `ErrorCode` is derived from it, so a code that is not listed here does not compile.

/** Every runtime error code, with when it is thrown. */
export const errorCodes = {
  // Addresses and type names
  ADDRESS_INVALID: 'a string is not an address key <namespace>/<type>/<id>',
  TYPENAME_INVALID: 'a string is not a type name <namespace>/<name>',

  // Command line, dev mode and the admin client of the CLI
  USAGE: 'a command-line option, environment variable or argument is missing or invalid',
  MODULE_INVALID: 'module.yaml (or another module file) has content that cannot be used',
  MODULE_UNREADABLE: 'a module file could not be read',
  INVALID_DURATION: 'a duration in module.yaml or an option is not of the form 10s, 500ms, 2min',
  INIT_NOT_EMPTY: 'statefun init was given a directory that is not empty',
  INIT_NO_CHECKOUT: 'statefun init found no built Continuum checkout to link the new project to',
  DEV_CONFIG_INVALID: 'statefun-dev.json is not valid',
  TASK_CONFIG: 'a partition task configuration (limits, topics, request memory) is invalid; names the field',
  DEV_ALREADY_RUNNING: 'another statefun dev runs with the same data directory',
  DEV_COMPANION_PORT_IN_USE: 'a companion process of statefun dev needs a port something else listens on',
  DEV_COMPANION_EXITED: 'a companion process of statefun dev exited before it listened on its port',
  DEV_COMPANION_TIMEOUT: 'a companion process of statefun dev did not listen on its port in time',
  ADMIN_UNREACHABLE: "a CLI command could not reach the runtime's admin API",
  ADMIN_ERROR: "the runtime's admin API answered a CLI command with an error status",

  // The log (embedded journal or Kafka)
  LOG_NOT_JOINED: 'the embedded log was reassigned partitions before it joined',
  LOG_CLOSED: 'the log (or its transaction producer) was used after it was closed',
  LOG_CORRUPT: "a line of the embedded log's journal is not valid JSON",
  LOG_STARTED: 'a partition of the log was started twice',
  PARTITION_UNKNOWN: 'a read or write named a partition the topic does not have',
  PARTITION_RELEASED: 'a partition was released while it was being fenced or recovered',
  FENCED: 'a newer owner of the partition took over; this owner may no longer commit or write',
  RECOVERY_SCAN_TIMEOUT: 'taking over a partition found no decision on its last checkpoint in time',
  INTERNAL_TOPIC_MISMATCH:
    'the internal topic has another partition count than the runtime is configured for',
  PARTITIONING_MISMATCH:
    "the configured partitioning (CONTINUUM_PARTITIONING) is not the one the deployment's state was written with",
  KAFKA_CONFIG_INVALID: 'no Kafka brokers are configured',
  KAFKA_UNAVAILABLE: 'a Kafka request failed (broker unreachable, timeout, or another broker error)',
  TOPIC_UNKNOWN: 'dev mode: a topic is neither an ingress topic of the module nor one a function wrote to',
  CURSOR_INVALID: 'dev mode: a topic read cursor is not a list of partition:offset pairs',

  // Ingresses
  INGRESS_CLOSED: 'a message reached an ingress that is shutting down',
  INGRESS_OVERLOADED: 'an ingress has too many messages waiting to be appended; retry later',
  HTTP_INGRESS_TOKEN_MISSING: 'the environment variable that holds an HTTP ingress token is not set',

  // State store
  STATE_STORE_CONFIG: 'the Redis state store options (URL, client, partition) are invalid',
  STATE_STORE_REJECTED: 'Redis refused a state store command (wrong type at a key, no permission, ...)',
  STATE_STORE_UNAVAILABLE: 'a state store command failed in Redis (unreachable, read-only, script error)',
  STATE_STORE_NOT_DURABLE: 'a checkpoint write reached fewer Redis replicas than required in time',
  STATE_CORRUPT: 'stored state cannot be decoded (written by an incompatible version or modified)',
  CHECKPOINT_NOT_STAGED: 'a checkpoint was promoted that the state store did not stage',
  STAGE_INTERRUPTED: 'the staged delta of a checkpoint was replaced or resolved while it was being written',
  RUNTIME_STARTED: 'a runtime was started twice',

  // Function calls (FunctionAttemptError: one HTTP attempt)
  FUNCTION_HTTP_STATUS: 'one attempt got a non-2xx HTTP status',
  FUNCTION_CONNECTION_FAILED: 'one attempt could not connect or lost its connection',
  FUNCTION_ATTEMPT_TIMEOUT: 'one attempt got no complete answer in time',
  // Function calls (FunctionCallError: the whole call; the first seven also name dead letters)
  FUNCTION_CALL_FAILED: 'every attempt of a call failed until its call budget ran out',
  FUNCTION_STATUS_REJECTED: 'a call ended at once on an HTTP status that is not retried',
  FUNCTION_NOT_FOUND: 'HTTP 404: the endpoint does not serve the function type',
  FUNCTION_MESSAGE_REJECTED: 'HTTP 422: the function rejected the message for good',
  FUNCTION_RESPONSE_INVALID: 'a 2xx answer is not a FromFunction (or its encoding is broken)',
  FUNCTION_RESPONSE_TOO_LARGE: 'an answer is larger than payload_max_bytes',
  FUNCTION_REQUEST_INVALID: 'a call can never succeed as given: bad URL, empty request, unreadable TLS files',
  FUNCTION_CALL_ABORTED: "a call was aborted by its caller's signal",
  FUNCTION_CLIENT_OVERLOADED: "a call found its endpoint's in-flight slots and wait queue full; retry later",
  FUNCTION_CLIENT_CLOSED: 'the function client was closed before a call completed',
  SIGNING_KEY_INVALID: 'the request signing key is missing, unreadable or not an Ed25519 private key',

  // Dead letters (admin API)
  DEAD_LETTER_ID_INVALID: 'a dead-letter id is not <partition>-<offset>',
  DEAD_LETTER_NOT_FOUND: 'no dead letter has the id',
  DEAD_LETTER_NOT_REPLAYABLE:
    'a dead letter names no valid target or carries no message; replay needs them given',
  DEAD_LETTER_ALREADY_REPLAYED: 'a dead letter was replayed before (replay again with force)',
  DEAD_LETTER_REPLAY_IN_PROGRESS: 'another request is replaying the same dead letter right now',
  DEAD_LETTER_REPLAYS_BUSY: 'too many replays are in progress; retry later',
  DEAD_LETTER_TOPIC_BEHIND:
    'the dead-letter topic is still being read, so an earlier replay may not be known yet; retry',
} as const satisfies Record<string, string>;

/** A code a ContinuumError may carry: a key of {@link errorCodes}. */
export type ErrorCode = keyof typeof errorCodes;

/** True when `code` is in the catalogue (for codes read from outside, e.g. a serialized error). */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(errorCodes, code);
}
