// Tracks the records of one partition between receipt and completion. The committed position is
// the lowest offset not yet completed; offsets completed beyond it travel with the checkpoint so
// that a replay after a crash skips them instead of applying them twice.

export type OffsetRanges = [first: number, last: number][];

export class OutstandingOffsets {
  /** Offsets received, in order; `done` marks completion. Front entries are popped once done. */
  private offsets: number[] = [];
  private done: boolean[] = [];
  private head = 0;
  private nextOffset: number;
  private pendingCount = 0;

  constructor(startOffset: number) {
    this.nextOffset = startOffset;
  }

  /** Records a received offset (offsets must arrive in increasing order). */
  add(offset: number): void {
    this.offsets.push(offset);
    this.done.push(false);
    this.pendingCount++;
    this.nextOffset = offset + 1;
  }

  complete(offset: number): void {
    // A message handed over without a log position of its own (offset -1) has nothing to complete.
    if (offset < 0) return;
    // Completion of a recent offset is the common case: search from the back.
    for (let i = this.offsets.length - 1; i >= this.head; i--) {
      if (this.offsets[i] === offset) {
        if (!this.done[i]) {
          this.done[i] = true;
          this.pendingCount--;
        }
        break;
      }
      if (this.offsets[i]! < offset) break;
    }
    while (this.head < this.offsets.length && this.done[this.head]) this.head++;
    if (this.head > 1024 && this.head * 2 > this.offsets.length) {
      this.offsets = this.offsets.slice(this.head);
      this.done = this.done.slice(this.head);
      this.head = 0;
    }
  }

  /** Records received and not completed. */
  get pending(): number {
    return this.pendingCount;
  }

  /** Records tracked (pending ones plus completed ones behind a pending one). */
  get tracked(): number {
    return this.offsets.length - this.head;
  }

  /** The position to commit: every record below it is complete. */
  position(): number {
    return this.head < this.offsets.length ? this.offsets[this.head]! : this.nextOffset;
  }

  /** Offsets at or beyond `position()` that are already complete, as inclusive ranges. */
  completedBeyond(): OffsetRanges {
    const ranges: OffsetRanges = [];
    for (let i = this.head; i < this.offsets.length; i++) {
      if (!this.done[i]) continue;
      const o = this.offsets[i]!;
      const last = ranges[ranges.length - 1];
      if (last !== undefined && last[1] === o - 1) last[1] = o;
      else ranges.push([o, o]);
    }
    return ranges;
  }
}

/** Membership test over inclusive offset ranges (sorted, as `completedBeyond` produces them). */
export function inRanges(ranges: OffsetRanges, offset: number): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [first, last] = ranges[mid]!;
    if (offset < first) hi = mid - 1;
    else if (offset > last) lo = mid + 1;
    else return true;
  }
  return false;
}
