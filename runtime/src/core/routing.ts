// The partition task's view of the module: which endpoint serves a function type, and how an
// egress message becomes a log record. Built from module.yaml by the runtime.
import type { EgressMessage } from '@continuum/sdk/protocol';
import type { OutRecord } from '../log/log.js';
import type { EndpointRef } from '../transport/function-client.js';
import type { DeadLetterCode } from './dead-letter-codes.js';

export interface FunctionTarget {
  /** Passed on to the function client unread (the HTTP client: the endpoint's module.yaml entry). */
  endpoint: EndpointRef;
  /** The endpoint URL for this function type (template resolved). */
  url: string;
  /** `maxNumBatchRequests` of the endpoint; <= 0 means unbounded. */
  maxBatch: number;
}

export interface FunctionRouter {
  /** The endpoint serving `functionType` (`namespace/name`), or undefined when none does. */
  resolve(functionType: string): FunctionTarget | undefined;
}

/** A routed egress record, or why the message cannot be delivered (it is dead-lettered). */
export type EgressRoute = { record: OutRecord } | { error: string; code: DeadLetterCode };

export interface EgressRouter {
  route(message: EgressMessage, eventTime: number): EgressRoute;
}
