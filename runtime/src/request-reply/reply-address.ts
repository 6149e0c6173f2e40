// The caller address that stands for a waiting HTTP request (`io.continuum.request/reply/<id>`),
// the record a reply becomes in the replies topic, and the per-address memory of request ids that
// makes a request appended twice (a retry after a crash) invoke its function once.
import { randomUUID } from 'node:crypto';
import type { Address, TypedValue } from '@continuum/sdk/protocol';
import { decodeTypedValue, encodeTypedValue } from '@continuum/sdk/protocol';
import type { LogRecord, OutRecord } from '../log/log.js';
import type { StoredValue } from '../state/state-store.js';
import { addressKey } from '../core/address.js';

/** The reserved namespace of reply addresses; no endpoint may serve it. */
export const REPLY_NAMESPACE = 'io.continuum.request';
export const REPLY_TYPE = 'reply';
/** The topic replies are committed to, in the transaction of the checkpoint that produced them. */
export const DEFAULT_REPLIES_TOPIC = 'continuum-replies';

export const ReplyHeader = {
  /** The address that sent the reply (`namespace/type/id`). */
  from: 'continuum.reply.from',
  /**
   * Names this reply: the committing process hands it to the reply store directly, and the
   * replies topic's readers find it there again as the same reply, not a second one.
   */
  id: 'continuum.reply.id',
  eventTime: 'continuum.event-time',
} as const;

export function replyAddress(requestId: string): Address {
  return { namespace: REPLY_NAMESPACE, type: REPLY_TYPE, id: requestId };
}

/** The request id a reply address stands for; undefined for any other address. */
export function requestIdOf(address: Address | undefined): string | undefined {
  if (address === undefined || address.namespace !== REPLY_NAMESPACE || address.type !== REPLY_TYPE)
    return undefined;
  return address.id === '' ? undefined : address.id;
}

/** A message to a reply address becomes this record instead of an internal message. */
export function replyRecord(
  topic: string,
  requestId: string,
  from: Address,
  argument: TypedValue,
  eventTime: number,
): OutRecord {
  return {
    topic,
    key: requestId,
    value: encodeTypedValue(argument),
    headers: {
      [ReplyHeader.from]: addressKey(from),
      [ReplyHeader.id]: randomUUID(),
      [ReplyHeader.eventTime]: String(eventTime),
    },
  };
}

/** The origin of a reply record: its id, or its place in the log for a record without one. */
export function replyOrigin(record: {
  topic: string;
  partition: number;
  offset: number;
  headers: Readonly<Record<string, string>>;
}): string {
  const id = record.headers[ReplyHeader.id];
  return id === undefined ? `${record.topic}/${record.partition}@${record.offset}` : `reply:${id}`;
}

/** A committed reply as the reply store keeps it. */
export interface Reply {
  requestId: string;
  typename: string;
  value: Uint8Array;
  /** The address that replied. */
  from: string;
  /**
   * Which reply this is: its id (`reply:<uuid>`), or where it was committed
   * (`topic/partition@offset`) for a record without one. A second reply has another origin.
   */
  origin: string;
}

/** Reads a record of the replies topic; undefined when it is not a reply. */
export function parseReplyRecord(record: LogRecord): Reply | undefined {
  if (record.key === null || record.value === null) return undefined;
  let typed: TypedValue;
  try {
    typed = decodeTypedValue(record.value);
  } catch {
    return undefined;
  }
  return {
    requestId: record.key,
    typename: typed.typename,
    value: typed.value ?? new Uint8Array(),
    from: record.headers[ReplyHeader.from] ?? '?',
    origin: replyOrigin(record),
  };
}

/**
 * The state name under which an address remembers the request ids it was invoked for. It holds a
 * character no StateFun SDK accepts in a state name, so it can never clash with a function's state;
 * it is never sent to the function.
 */
export const REQUEST_IDS_STATE = '$continuum.request-ids';
const REQUEST_IDS_TYPENAME = 'io.continuum.types/request-ids';

export interface RequestMemory {
  /** How long a request id is remembered. */
  retentionMs: number;
  /** At most this many ids per address (the oldest are forgotten first). */
  maxIds: number;
}

export const DEFAULT_REQUEST_MEMORY: RequestMemory = { retentionMs: 24 * 60 * 60 * 1000, maxIds: 1000 };

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/**
 * Whether `requestId` was seen by the address already; when not, the stored value that remembers
 * it (write it in the same checkpoint as the invocation's effects).
 */
export function rememberRequest(
  stored: StoredValue | undefined,
  requestId: string,
  now: number,
  memory: RequestMemory,
): { seen: true } | { seen: false; next: StoredValue } {
  let entries: [string, number][] = [];
  if (stored !== undefined) {
    try {
      const parsed = JSON.parse(fromUtf8.decode(stored.value)) as unknown;
      if (Array.isArray(parsed)) entries = parsed as [string, number][];
    } catch {
      entries = [];
    }
  }
  if (entries.some(([id]) => id === requestId)) return { seen: true };
  const keep = entries.filter(([, at]) => at + memory.retentionMs > now);
  keep.push([requestId, now]);
  const bounded = keep.length > memory.maxIds ? keep.slice(keep.length - memory.maxIds) : keep;
  return {
    seen: false,
    next: {
      typename: REQUEST_IDS_TYPENAME,
      value: utf8.encode(JSON.stringify(bounded)),
      expiresAt: now + memory.retentionMs,
    },
  };
}
