// Taking over a partition, in the order the commit protocol needs (ARCHITECTURE §4.3): claim the
// store epoch (fences an old owner's stage and promote), fence the log (aborts or completes its
// transaction), only then read the committed position, resolve a leftover staged delta, and load
// the timers. What the new owner continues from is returned; nothing is consumed yet.
import { randomUUID } from 'node:crypto';
import type { CommittedPosition, OwnedPartition } from '../log/log.js';
import type { Logger } from '../logger.js';
import type { PartitionStore, StoredTimer } from '../state/state-store.js';
import { Header } from './envelope.js';

export interface Recovered {
  /** The store epoch this owner claimed. */
  epoch: number;
  /** Where consumption resumes, and the checkpoint that committed it. */
  position: CommittedPosition;
  /** The highest checkpoint id ever used here, staged ones included (ids are never reused). */
  checkpointId: number;
  /** The promoted checkpoint's metadata (completed offsets, sources, watermark). */
  meta: Record<string, string>;
  /** What happened to a leftover staged delta. */
  staged: 'promoted' | 'discarded' | 'none';
  /** The position the log alone reported (it can lag: see `recover`). */
  logPosition: CommittedPosition;
  /** The partition's committed timers. */
  timers: StoredTimer[];
}

/**
 * Takes over the partition. The position read from the log can lag behind the last committed
 * transaction (Kafka applies a transaction's consumer offsets asynchronously), so it is not
 * trusted alone: the store's promoted metadata also records each checkpoint's position, the newer
 * of the two wins, and a staged delta newer than both is decided by looking for its checkpoint's
 * marker record in the partition itself: there means committed, absent means aborted.
 */
export async function recover(args: {
  owned: OwnedPartition;
  store: PartitionStore;
  internalTopic: string;
  log: Logger;
}): Promise<Recovered> {
  const { owned, store, log } = args;
  const epoch = await store.claim();
  await owned.fence();
  const fromLog = await owned.committed();
  const base = newest(fromLog, positionOf(await store.meta()));
  const staged = await store.staged();
  let decidedBy = base.checkpointId;
  if (staged !== undefined && staged.checkpointId > base.checkpointId) {
    // Everything committed before our fence lies before this record in the partition; the
    // staged checkpoint's marker is either on the way there (committed) or nowhere (aborted).
    const token = `${epoch}:${randomUUID()}`;
    await owned.publish([
      {
        topic: args.internalTopic,
        partition: owned.partition,
        key: null,
        value: null,
        headers: { [Header.fence]: token },
      },
    ]);
    const id = String(staged.checkpointId);
    let scanned = 0;
    let first = -1;
    let last = -1;
    const committed = await owned.scanFor(Math.max(0, base.offset), (r) => {
      scanned++;
      if (first < 0) first = r.offset;
      last = r.offset;
      if (r.headers[Header.checkpoint] === id) return true;
      return r.headers[Header.fence] === token ? false : undefined;
    });
    log.info('decided a staged checkpoint by its marker', {
      checkpoint: staged.checkpointId,
      committed,
      from: base.offset,
      scanned,
      first,
      last,
    });
    if (committed) decidedBy = staged.checkpointId;
  }
  const resolved = await store.resolve(epoch, decidedBy);
  const meta = await store.meta();
  const position = newest(base, positionOf(meta));
  return {
    epoch,
    position,
    checkpointId: Math.max(position.checkpointId, staged?.checkpointId ?? 0),
    meta,
    staged: resolved,
    logPosition: fromLog,
    timers: await store.timers(),
  };
}

/** The position a checkpoint's metadata records (none before the first checkpoint). */
export function positionOf(meta: Record<string, string>): CommittedPosition {
  const offset = Number(meta.position);
  const checkpointId = Number(meta.checkpoint);
  return Number.isFinite(offset) && Number.isFinite(checkpointId) && meta.position !== undefined
    ? { offset, checkpointId }
    : { offset: -1, checkpointId: -1 };
}

function newest(a: CommittedPosition, b: CommittedPosition): CommittedPosition {
  return b.checkpointId > a.checkpointId ? b : a;
}
