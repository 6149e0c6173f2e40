// Ingress hand-off: a Kafka ingress of this process gives a record to the task of its target's
// partition directly when that task runs here, instead of appending it to the internal log for
// the task to read back. The record then crosses the broker once (ingress topic → function)
// instead of twice, and its effects commit with the task's next checkpoint.
//
// What keeps it exactly once (ARCHITECTURE §4, "hand-off"):
// - Every address remembers, with its state, the highest offset it took from each ingress source
//   partition (`SOURCE_OFFSETS_STATE`, written in the checkpoint of the invocation's effects). A
//   message from a source offset at or below it is dropped: the ingress moved it again.
// - The ingress commits its offset only below every handed-over record whose checkpoint has not
//   committed (`HandOffTicket.durable`); a replay from there is dropped by the memory above.
// - A task that stops with handed-over records not yet committed reports them `lost`; the ingress
//   partition then starts over from its committed offset, before it delivers anything newer.
//   Until they settle, nothing later from the same ingress partition goes to that internal
//   partition by another way (the log, a successor task): a later offset taken first would make
//   the moved-again records repeats (ingress/handoff-lanes.ts holds them; at most 30 s, then it
//   starts over).
// - An ingress switches a partition from appending to handing over only after the task has taken
//   a barrier record written behind everything it appended there (`expectBarrier`), so messages
//   from one source reach an address in source order whichever way they came.
// - Watermark marks still go through the log, and only once every record they cover is durable:
//   a replayed record never meets a mark that came after it the first time.
import type { LogRecord } from '../log/log.js';
import type { Envelope } from './envelope.js';
import type { StoredValue } from '../state/state-store.js';

/** How a handed-over record's fate gets back to the ingress that handed it over. Settled once. */
export interface HandOffTicket {
  /** The checkpoint holding the record's effects (or its drop as a repeat) has committed. */
  durable(): void;
  /** The task stopped before that: the record must be moved again. */
  lost(): void;
}

/** A routed record handed over: with the envelope it was encoded from, when the router kept it. */
export interface HandedRecord extends LogRecord {
  envelope?: Envelope | undefined;
}

/** A partition task that takes records from an ingress of this process. */
export interface HandOffTarget {
  /**
   * Takes a routed ingress record (offset -1: it has no place in the log). False when it cannot
   * now (not running, its address's mailbox is full, no endpoint serves it): append it instead.
   */
  takeFromIngress(record: HandedRecord, ticket: HandOffTicket): boolean;
  /**
   * Calls `seen` once the task has taken the barrier `token` from its log, or `gone` when the task
   * stops first (only the latest token per `lane` counts; an earlier one is forgotten).
   */
  expectBarrier(lane: string, token: string, waiter: BarrierWaiter): void;
}

export interface BarrierWaiter {
  seen(): void;
  gone(): void;
}

/**
 * The state under which an address remembers the highest offset it took per ingress source. Like
 * the request ids, its name holds a character no StateFun SDK accepts, and it is never sent to the
 * function.
 */
export const SOURCE_OFFSETS_STATE = '$continuum.source-offsets';
const SOURCE_OFFSETS_TYPENAME = 'io.continuum.types/source-offsets';

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** The remembered offsets of a stored value (empty when there is none or it is unreadable). */
export function readSourceOffsets(stored: StoredValue | undefined): Map<string, number> {
  if (stored === undefined) return new Map();
  try {
    const parsed = JSON.parse(fromUtf8.decode(stored.value)) as unknown;
    if (!Array.isArray(parsed)) return new Map();
    const out = new Map<string, number>();
    for (const item of parsed as unknown[]) {
      if (Array.isArray(item) && typeof item[0] === 'string' && typeof item[1] === 'number')
        out.set(item[0], item[1]);
    }
    return out;
  } catch {
    return new Map();
  }
}

/** The stored value of remembered offsets. */
export function writeSourceOffsets(offsets: ReadonlyMap<string, number>): StoredValue {
  return { typename: SOURCE_OFFSETS_TYPENAME, value: utf8.encode(JSON.stringify([...offsets])) };
}
