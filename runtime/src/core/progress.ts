// How far a partition got, as a checkpoint records it and a replay needs it. Three bookkeepings
// follow one pattern: what was seen (`live`), what holds below the committed position (`stable`,
// stored with the checkpoint), and what was seen beyond it (folded into `stable` as the position
// passes). They are the outstanding offsets (with the completed offsets a replay skips), the
// highest offset per ingress source (records an ingress moved twice), and the watermark marks.
import { inRanges, OutstandingOffsets, type OffsetRanges } from './outstanding.js';
import { WATERMARK_META_KEY, WatermarkTracker, type WatermarkMark } from './watermarks.js';

export const SOURCES_META_KEY = 'sources';

export class Progress {
  private outstanding = new OutstandingOffsets(0);
  private startOffset = 0;
  /** Offsets the restored checkpoint said were complete beyond its position. */
  private replaySkip: OffsetRanges = [];
  /** Highest source offset per ingress source partition: all seen, and those below the position. */
  private sourcesLive = new Map<string, number>();
  private sourcesStable = new Map<string, number>();
  private sourcesBeyond: { offset: number; source: string; sourceOffset: number }[] = [];
  /**
   * The watermark as of every mark read (`live`), and as of the marks below the committed position
   * (`stable`, what a checkpoint stores): recovery restores `stable` and replays the marks after
   * it, so each replayed record sees the watermark it saw the first time.
   */
  private wmLive: WatermarkTracker;
  private wmStable: WatermarkTracker;
  /** Marks at or beyond the current position, not yet folded into `wmStable`, in offset order. */
  private marksBeyond: { offset: number; mark: WatermarkMark }[] = [];

  constructor(private readonly groups: readonly string[]) {
    this.wmStable = new WatermarkTracker(groups);
    this.wmLive = this.wmStable.clone();
  }

  /**
   * Starts over from a checkpoint's position and metadata. Returns the error of an unreadable
   * watermark snapshot (the task then starts without one; the marks after the position still come).
   */
  restore(position: number, meta: Readonly<Record<string, string>>): { watermarkError?: unknown } {
    this.startOffset = position;
    this.outstanding = new OutstandingOffsets(position);
    this.replaySkip = parseRanges(meta.completed);
    this.sourcesStable = parseSources(meta[SOURCES_META_KEY]);
    this.sourcesLive = new Map(this.sourcesStable);
    this.sourcesBeyond = [];
    let watermarkError: unknown;
    try {
      this.wmStable = WatermarkTracker.restore(meta[WATERMARK_META_KEY], this.groups);
    } catch (err) {
      watermarkError = err;
      this.wmStable = new WatermarkTracker(this.groups);
    }
    this.wmLive = this.wmStable.clone();
    this.marksBeyond = [];
    return watermarkError === undefined ? {} : { watermarkError };
  }

  /** Tracks a received record from receipt on; false for one before the start (not ours to track). */
  receive(offset: number): boolean {
    if (offset < this.startOffset) return false;
    this.outstanding.add(offset);
    return true;
  }

  /** A record is done with (negative offsets, which no record has, are ignored). */
  complete(offset: number): void {
    this.outstanding.complete(offset);
  }

  /** Records received and not complete. */
  get pending(): number {
    return this.outstanding.pending;
  }

  /** Records tracked (pending ones and the completed ones behind a pending one). */
  get tracked(): number {
    return this.outstanding.tracked;
  }

  /** The position to commit: every record below it is complete. */
  position(): number {
    return this.outstanding.position();
  }

  /**
   * The completed offsets beyond `position` as a checkpoint stores them. Offsets the restored
   * checkpoint said were complete stay complete until the position passes them, whether or not
   * they were read again yet: a checkpoint taken right after a recovery (delayed messages firing)
   * must not forget them.
   */
  completed(position: number): string {
    return JSON.stringify(mergeRanges(this.outstanding.completedBeyond(), this.replaySkip, position));
  }

  /** The restored checkpoint had this record complete already: a replay skips it. */
  completedBefore(offset: number): boolean {
    return inRanges(this.replaySkip, offset);
  }

  /**
   * True for a record an ingress moved again (same source partition, offset already seen). The
   * highest source offsets below the committed position travel with the checkpoint; those seen
   * beyond it are learnt again on replay.
   */
  isDuplicateFromSource(at: number, from: { name: string; offset: number }): boolean {
    const { name: source, offset } = from;
    if (!Number.isFinite(offset)) return false;
    const seen = this.sourcesLive.get(source);
    if (seen !== undefined && offset <= seen) return true;
    this.sourcesLive.set(source, offset);
    this.sourcesBeyond.push({ offset: at, source, sourceOffset: offset });
    return false;
  }

  /** The partition watermark as of every mark read (-Infinity: none). */
  get watermark(): number {
    return this.wmLive.watermark;
  }

  /** Whether marks of this source group count (the module names it). */
  expects(group: string): boolean {
    return this.wmLive.expects(group);
  }

  /** A mark read at `offset`; true when it moved the watermark. */
  mark(offset: number, mark: WatermarkMark): boolean {
    this.marksBeyond.push({ offset, mark });
    return this.wmLive.apply(mark);
  }

  /** Moves the marks below `position` (every record before them is complete) into `stable`. */
  foldMarks(position: number): void {
    let n = 0;
    while (n < this.marksBeyond.length && this.marksBeyond[n]!.offset < position) {
      this.wmStable.apply(this.marksBeyond[n]!.mark);
      n++;
    }
    if (n > 0) this.marksBeyond.splice(0, n);
  }

  /** Folds everything below `position` and returns the metadata a checkpoint at it stores. */
  checkpointMeta(position: number): Record<string, string> {
    let n = 0;
    while (n < this.sourcesBeyond.length && this.sourcesBeyond[n]!.offset < position) {
      const { source, sourceOffset } = this.sourcesBeyond[n]!;
      this.sourcesStable.set(source, Math.max(sourceOffset, this.sourcesStable.get(source) ?? -1));
      n++;
    }
    if (n > 0) this.sourcesBeyond.splice(0, n);
    // The watermark as of the committed position: a replay re-reads the marks after it.
    this.foldMarks(position);
    return {
      [SOURCES_META_KEY]: JSON.stringify([...this.sourcesStable]),
      [WATERMARK_META_KEY]: this.wmStable.serialize(),
    };
  }
}

/** Union of two sorted range lists, keeping only offsets at or beyond `from`. */
export function mergeRanges(a: OffsetRanges, b: OffsetRanges, from: number): OffsetRanges {
  const all = [...a, ...b]
    .map(([first, last]): [number, number] => [Math.max(first, from), last])
    .filter(([first, last]) => first <= last)
    .sort((x, y) => x[0] - y[0]);
  const out: OffsetRanges = [];
  for (const [first, last] of all) {
    const prev = out[out.length - 1];
    if (prev !== undefined && first <= prev[1] + 1) prev[1] = Math.max(prev[1], last);
    else out.push([first, last]);
  }
  return out;
}

function parseSources(text: string | undefined): Map<string, number> {
  if (text === undefined) return new Map();
  const parsed = JSON.parse(text) as unknown;
  return Array.isArray(parsed) ? new Map(parsed as [string, number][]) : new Map<string, number>();
}

function parseRanges(text: string | undefined): OffsetRanges {
  if (text === undefined) return [];
  const parsed = JSON.parse(text) as unknown;
  return Array.isArray(parsed) ? (parsed as OffsetRanges) : [];
}
