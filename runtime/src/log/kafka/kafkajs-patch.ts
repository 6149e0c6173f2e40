// Corrects kafkajs 2.2.4's read_committed filtering before kafkajs loads (import this module
// before the first value import of 'kafkajs').
//
// kafkajs drops the records of aborted transactions with a filter that activates at most one
// aborted transaction per record it looks at. When several aborted transactions begin at or
// before a record (a crash aborts many at once; a fetch starts in the middle of them), the
// first records of the later ones slip through: a read_committed consumer sees records of
// aborted transactions. Our chaos test caught it as duplicated effects. This filter follows the
// Java consumer: every aborted transaction whose first offset a record has reached is active
// for its producer until that producer's ABORT marker.
import { createRequire } from 'node:module';

interface Message {
  offset: string;
  key: Buffer | null;
  isControlRecord?: boolean;
  batchContext: { producerId: string; inTransaction: boolean };
}
interface AbortedTransaction {
  producerId: string;
  firstOffset: string;
}

const ABORT_MARKER_KEY = Buffer.from([0, 0, 0, 0]);

/** Messages in offset order minus those of aborted transactions (control records kept). */
export function filterAbortedMessages({
  messages,
  abortedTransactions,
}: {
  messages: Message[];
  abortedTransactions?: AbortedTransaction[] | undefined;
}): Message[] {
  if (abortedTransactions === undefined || abortedTransactions.length === 0) return messages;
  const pending = [...abortedTransactions].sort((a, b) => compare(a.firstOffset, b.firstOffset));
  const active = new Set<string>();
  return messages.filter((m) => {
    while (pending.length > 0 && compare(m.offset, pending[0]!.firstOffset) >= 0) {
      active.add(String(pending.shift()!.producerId));
    }
    const producerId = String(m.batchContext.producerId);
    if (m.isControlRecord === true) {
      if (m.key !== null && Buffer.from(m.key).equals(ABORT_MARKER_KEY)) active.delete(producerId);
      return true;
    }
    return !(m.batchContext.inTransaction && active.has(producerId));
  });
}

function compare(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

const require = createRequire(import.meta.url);
const modulePath = require.resolve('kafkajs/src/consumer/filterAbortedMessages.js');
const cache = require.cache as Record<string, unknown>;
const batchPath = require.resolve('kafkajs/src/consumer/batch.js');
if (cache[batchPath] !== undefined && !patchedBefore()) {
  process.emitWarning(
    'kafkajs was loaded before the read_committed fix; this process may see records of aborted transactions',
    { code: 'CONTINUUM_KAFKAJS_UNPATCHED' },
  );
}
cache[modulePath] = {
  id: modulePath,
  filename: modulePath,
  loaded: true,
  exports: filterAbortedMessages,
  children: [],
  paths: [],
};
(globalThis as { __continuumKafkajsPatched?: boolean }).__continuumKafkajsPatched = true;

function patchedBefore(): boolean {
  return (globalThis as { __continuumKafkajsPatched?: boolean }).__continuumKafkajsPatched === true;
}
