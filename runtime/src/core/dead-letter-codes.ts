// The catalogue of codes written into dead letters (header `continuum.dlq.code`). It is public:
// the admin API filters on it and the README's table lists every entry. `DeadLetterCode` is
// derived from it, so a dead letter cannot be written with a code that is not listed here.

import { ContinuumError } from '../errors.js';

/** Every dead-letter code, with when a letter gets it. */
export const deadLetterCodes = {
  // Kafka ingress: a record that cannot become a message
  INGRESS_TOPIC_UNKNOWN: 'a Kafka ingress read a record of a topic it has no routing for',
  INGRESS_KEY_MISSING: 'a Kafka ingress record has no key, so it names no function id',
  INGRESS_VALUE_MISSING: 'a Kafka ingress record has no value (a tombstone)',
  INGRESS_EVENT_TIME_INVALID: "the ingress's event-time extractor found no valid event time in the record",

  // Internal topic: a message no function can take
  RECORD_UNDECODABLE: 'a record of the internal topic cannot be decoded',
  FUNCTION_UNKNOWN: 'no endpoint in module.yaml serves the function type of the target address',

  // Function calls
  FUNCTION_CALL_FAILED: 'every attempt failed (5xx, connection, timeout) until the call budget ran out',
  FUNCTION_STATUS_REJECTED: 'the endpoint answered a 4xx that is not retried (401/403 credentials, 413, ...)',
  FUNCTION_NOT_FOUND: 'HTTP 404: the endpoint does not serve the function type',
  FUNCTION_MESSAGE_REJECTED:
    'HTTP 422: the function rejected this message for good (TerminalError, invalid message)',
  FUNCTION_RESPONSE_INVALID:
    'okhttp transport: the answer is not a FromFunction (async retries it: FUNCTION_CALL_FAILED)',
  FUNCTION_RESPONSE_TOO_LARGE:
    'okhttp transport: the answer is larger than its payload limit (async retries it)',
  FUNCTION_REQUEST_INVALID:
    'the call can never be made: bad endpoint URL, unreadable TLS files, empty request',
  STATE_TYPE_CONFLICT: 'the function declared a state with another type than the one registered for it',
  NEGOTIATION_FAILED: 'the function still reported missing states after the allowed negotiation rounds',
  FUNCTION_RESPONSE_REJECTED:
    'the response changes a state the function never declared, or with the wrong type',

  // Effects of a response
  MESSAGE_TARGET_INVALID: 'an outgoing message names an invalid target address',
  DELAYED_MESSAGE_INVALID: 'a delayed message has an invalid target, delay or event time',
  CANCELLATION_INVALID: 'a cancellation of a delayed message carries no token',
  CANCELLATION_TOKEN_REUSED: 'a delayed message reuses the cancellation token of one still pending',
  TIMER_LIMIT_REACHED: 'the partition already holds maxPendingTimers delayed messages and event-time timers',
  EGRESS_UNKNOWN: 'an egress message names an egress module.yaml does not declare',
  EGRESS_VALUE_INVALID:
    'an egress message is not a valid record for its egress (wrong type, no topic, undecodable)',
  EGRESS_TOPIC_UNKNOWN: 'a playground egress record names a topic the egress does not declare',

  // Request-response
  REPLY_DUPLICATE: 'a function replied to a request that already has a reply (the first one counts)',
  REPLY_REQUEST_GONE: 'a reply names a request that is unknown here or past its retention',
} as const satisfies Record<string, string>;

/** A code a dead letter may carry: a key of {@link deadLetterCodes}. */
export type DeadLetterCode = keyof typeof deadLetterCodes;

/** True when `code` is in the catalogue. */
export function isDeadLetterCode(code: string): code is DeadLetterCode {
  return Object.hasOwn(deadLetterCodes, code);
}

/**
 * The code for the dead letters of a failed function call: the call error's own code when it is
 * one of the catalogue (FUNCTION_NOT_FOUND, ...), otherwise FUNCTION_CALL_FAILED.
 */
export function deadLetterCodeOfCallError(err: unknown): DeadLetterCode {
  return err instanceof ContinuumError && isDeadLetterCode(err.code) ? err.code : 'FUNCTION_CALL_FAILED';
}
