// Watermarks of one partition: the per-source watermarks that ingress sources announce with marks in
// the internal log, and the partition watermark derived from them (the minimum over the active
// sources, never decreasing). Serialised into the checkpoint meta so it survives recovery.

/**
 * A watermark mark as a source writes it into every internal partition. A source belongs to a
 * group (an ingress) whose members the mark declares, so that a member that has not spoken yet
 * holds the watermark back instead of being overlooked.
 */
export interface WatermarkMark {
  /** The group: the id of the ingress, e.g. `example/clicks` or `io.statefun.playground/ingress`. */
  group: string;
  /** The member of the group that sent the mark, e.g. `clicks/3` (topic/partition). */
  source: string;
  /**
   * Every member of the group, as `<prefix>:<count>` entries joined by `,`: `clicks:4,views:2`
   * stands for `clicks/0` … `clicks/3`, `views/0`, `views/1`.
   */
  members: string;
  /** No event at or before this time (ms since the epoch) is to come from the source; or idle. */
  watermark: number | 'idle';
}

/** One source's state: its highest watermark so far and whether it is idle. */
interface SourceState {
  watermark: number;
  idle: boolean;
}

interface GroupState {
  members: string;
  /** Declared members; sources heard from outside them (a topic grew) are added. */
  expected: Set<string>;
  sources: Map<string, SourceState>;
}

/** The JSON form kept in the checkpoint meta under {@link WATERMARK_META_KEY}. */
interface Snapshot {
  v: 1;
  /** The partition watermark; null for none yet. */
  w: number | null;
  g: Record<string, { m: string; s: Record<string, [watermark: number | null, idle: 0 | 1]> }>;
}

export const WATERMARK_META_KEY = 'watermarks';

/** Most sources tracked per group: marks beyond it are dropped (memory bound). */
export const MAX_SOURCES_PER_GROUP = 10_000;

/** Expands a `members` declaration into member ids; invalid entries are skipped. */
export function expandMembers(members: string): string[] {
  const out: string[] = [];
  for (const entry of members.split(',')) {
    const colon = entry.lastIndexOf(':');
    if (colon <= 0) continue;
    const count = Number(entry.slice(colon + 1));
    if (!Number.isSafeInteger(count) || count < 0) continue;
    const prefix = entry.slice(0, colon);
    for (let i = 0; i < Math.min(count, MAX_SOURCES_PER_GROUP); i++) out.push(`${prefix}/${i}`);
  }
  return out;
}

/**
 * Tracks the watermarks of the groups (ingresses) a partition expects marks from. A group that has
 * not declared its members yet, or a declared member not heard from yet, holds the watermark at
 * "none"; idle members are left out of the minimum until they send a watermark again; a group whose
 * members are all idle is left out entirely. When every group is idle the watermark stays where it
 * is. The partition watermark never decreases.
 */
export class WatermarkTracker {
  private readonly groups = new Map<string, GroupState>();
  private readonly expectedGroups: ReadonlySet<string>;
  private current = -Infinity;

  /** `groups`: the ids of the ingresses that send marks (from module.yaml). */
  constructor(groups: Iterable<string>) {
    this.expectedGroups = new Set(groups);
  }

  /** The partition watermark in ms since the epoch; -Infinity while there is none. */
  get watermark(): number {
    return this.current;
  }

  /** Whether marks of `group` count (an ingress of the module). */
  expects(group: string): boolean {
    return this.expectedGroups.has(group);
  }

  /**
   * Applies a mark; returns true when the partition watermark advanced. Marks of groups the tracker
   * does not expect are ignored (false).
   */
  apply(mark: WatermarkMark): boolean {
    if (!this.expectedGroups.has(mark.group)) return false;
    let group = this.groups.get(mark.group);
    if (group === undefined) {
      group = { members: '', expected: new Set(), sources: new Map() };
      this.groups.set(mark.group, group);
    }
    if (mark.members !== group.members) {
      group.members = mark.members;
      group.expected = new Set(expandMembers(mark.members));
    }
    let source = group.sources.get(mark.source);
    if (source === undefined) {
      if (group.sources.size >= MAX_SOURCES_PER_GROUP) return false;
      source = { watermark: -Infinity, idle: false };
      group.sources.set(mark.source, source);
    }
    if (mark.watermark === 'idle') {
      source.idle = true;
    } else {
      source.idle = false;
      source.watermark = Math.max(source.watermark, mark.watermark);
    }
    return this.recompute();
  }

  private recompute(): boolean {
    let min = Infinity;
    for (const id of this.expectedGroups) {
      const group = this.groups.get(id);
      if (group === undefined) return false;
      const w = groupWatermark(group);
      if (w !== undefined) min = Math.min(min, w);
    }
    // Infinity: every group is idle, the watermark stays.
    if (min === Infinity || min <= this.current) return false;
    this.current = min;
    return true;
  }

  /** A copy (the partition task keeps one at the committed position and one live). */
  clone(): WatermarkTracker {
    return WatermarkTracker.restore(this.serialize(), this.expectedGroups);
  }

  serialize(): string {
    const snapshot: Snapshot = { v: 1, w: Number.isFinite(this.current) ? this.current : null, g: {} };
    for (const [id, group] of this.groups) {
      const sources: Snapshot['g'][string]['s'] = {};
      for (const [source, s] of group.sources) {
        sources[source] = [Number.isFinite(s.watermark) ? s.watermark : null, s.idle ? 1 : 0];
      }
      snapshot.g[id] = { m: group.members, s: sources };
    }
    return JSON.stringify(snapshot);
  }

  /**
   * Restores a tracker from {@link serialize}'s output (undefined: a fresh one). Groups that are no
   * longer expected (an ingress left the module) are dropped, so they cannot hold time back.
   * @throws Error when the text is not a snapshot.
   */
  static restore(text: string | undefined, groups: Iterable<string>): WatermarkTracker {
    const tracker = new WatermarkTracker(groups);
    if (text === undefined) return tracker;
    const snapshot = JSON.parse(text) as Snapshot;
    if (snapshot.v !== 1 || typeof snapshot.g !== 'object') {
      throw new Error(`unknown watermark snapshot ${text.slice(0, 80)}`);
    }
    tracker.current = snapshot.w ?? -Infinity;
    for (const [id, g] of Object.entries(snapshot.g)) {
      if (!tracker.expectedGroups.has(id)) continue;
      const sources = new Map<string, SourceState>();
      for (const [source, [w, idle]] of Object.entries(g.s)) {
        sources.set(source, { watermark: w ?? -Infinity, idle: idle === 1 });
      }
      tracker.groups.set(id, { members: g.m, expected: new Set(expandMembers(g.m)), sources });
    }
    return tracker;
  }
}

/** The group's watermark: min over its active members (unknown ones count as none); undefined when all are idle. */
function groupWatermark(group: GroupState): number | undefined {
  let min = Infinity;
  let active = false;
  for (const id of group.expected) {
    const s = group.sources.get(id);
    if (s?.idle === true) continue;
    active = true;
    min = Math.min(min, s?.watermark ?? -Infinity);
  }
  for (const [id, s] of group.sources) {
    if (group.expected.has(id) || s.idle) continue;
    active = true;
    min = Math.min(min, s.watermark);
  }
  return active ? min : undefined;
}
