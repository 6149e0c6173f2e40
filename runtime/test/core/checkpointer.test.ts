import { describe, expect, it } from 'vitest';
import { Checkpointer } from '../../src/core/checkpointer.js';
import { Header } from '../../src/core/envelope.js';
import { mergeRanges, Progress } from '../../src/core/progress.js';
import { WATERMARK_META_KEY, WatermarkTracker, type WatermarkMark } from '../../src/core/watermarks.js';
import { FakeOwned, FakeStore, type Journal } from './fake-ports.js';
import { FakeTime, settle } from './fake-time.js';

const INTERVAL = 200;

function setup(opts: { maxRecords?: number } = {}) {
  const journal: Journal = [];
  const owned = new FakeOwned(0, journal);
  const store = new FakeStore(0, journal);
  const time = new FakeTime();
  const failures: unknown[] = [];
  const stats = { checkpoints: 0, lastCheckpointMs: 0 };
  const cp = new Checkpointer({
    owned,
    store,
    internalTopic: 'internal',
    config: { checkpointIntervalMs: INTERVAL, checkpointMaxRecords: opts.maxRecords ?? 100 },
    scheduler: time,
    now: time.now,
    stats,
    watermarkGroups: ['g'],
    hooks: {
      afterStage: (_p, id) => void journal.push(`hook.afterStage(${id})`),
      afterCommit: (_p, id) => void journal.push(`hook.afterCommit(${id})`),
    },
    observer: {
      committed: (c) => void journal.push(`observer.committed(${c.records.length})`),
      checkpointed: (c) => void journal.push(`observer.checkpointed(${c.records.length})`),
    },
    host: {
      running: () => true,
      stopped: () => false,
      fail: (err) => void failures.push(err),
      checkpointed: () => void journal.push('host.checkpointed'),
    },
  });
  cp.restore({ epoch: 1, checkpointId: 0, position: 0, meta: {} });
  const record = (n: number) => ({ topic: 'out', key: `k${n}`, value: new Uint8Array([n]) });
  return { journal, owned, store, time, cp, stats, failures, record };
}

const mark = (source: string, watermark: number): WatermarkMark => ({
  group: 'g',
  source,
  members: 'in:2',
  watermark,
});

describe('the checkpointer', () => {
  it('commits in the protocol order: records, stage as the prepare, commit, committed, promote, checkpointed', async () => {
    const { journal, owned, cp, stats, record } = setup();
    cp.progress.receive(0);
    cp.progress.complete(0);
    cp.progressed();
    cp.push(record(1));
    await cp.flush();
    expect(journal).toEqual([
      'log.commit.begin(1)',
      'store.stage(1)',
      'hook.afterStage(1)',
      'log.commit.end(1)',
      'observer.committed(2)',
      'hook.afterCommit(1)',
      'store.promote(1)',
      'observer.checkpointed(2)',
      'host.checkpointed',
    ]);
    // The buffered record, then the checkpoint's marker for recovery to look for.
    expect(owned.commits[0]!.records.map((r) => r.headers?.[Header.checkpoint] ?? r.key)).toEqual([
      'k1',
      '1',
    ]);
    expect(owned.commits[0]!.position).toEqual({ offset: 1, checkpointId: 1 });
    expect(stats.checkpoints).toBe(1);
    expect(cp.committedOffset).toBe(1);
    expect(cp.promotedId).toBe(1);
  });

  it('a change is checkpointed after the interval, not before, and not at all when nothing changed', async () => {
    const { time, owned, cp, record } = setup();
    cp.dirty();
    await time.advance(INTERVAL);
    expect(owned.commits).toHaveLength(0); // nothing to commit
    cp.push(record(1));
    cp.dirty();
    await time.advance(INTERVAL - 1);
    expect(owned.commits).toHaveLength(0);
    await time.advance(1);
    expect(owned.commits).toHaveLength(1);
  });

  it('replies make a checkpoint urgent; a full buffer and a change during a checkpoint bring the next one', async () => {
    const { time, owned, cp, record } = setup({ maxRecords: 2 });
    let open: () => void = () => undefined;
    owned.gate = new Promise<void>((r) => (open = r));
    cp.push(record(1));
    cp.markUrgent();
    cp.request();
    await settle();
    cp.push(record(2));
    cp.dirty(); // a checkpoint runs: this one follows it
    cp.push(record(3));
    owned.gate = undefined;
    open();
    await time.advance(0);
    // The buffer was full when the first ended: the second starts at once, not after the interval.
    expect(owned.commits.map((c) => [c.urgent, c.records.length])).toEqual([
      [true, 2],
      [false, 3],
    ]);
  });

  it('a checkpoint that only consumed markers writes no marker of its own', async () => {
    const { owned, cp } = setup();
    cp.progress.receive(0);
    cp.progress.complete(0);
    await cp.flush();
    expect(owned.commits).toHaveLength(1);
    expect(owned.commits[0]!.records).toEqual([]);
    expect(owned.commits[0]!.position.offset).toBe(1);
  });

  it('a stage that fails commits nothing, promotes nothing and fails the task', async () => {
    const { journal, store, owned, cp, record, failures } = setup();
    store.failStage = new Error('store down');
    cp.push(record(1));
    cp.request();
    await settle();
    expect(owned.commits).toHaveLength(0);
    expect(journal).not.toContain('store.promote(1)');
    expect(failures.map((e) => (e as Error).message)).toEqual(['store down']);
  });
});

describe('the progress a checkpoint records', () => {
  it('stores the offsets complete beyond the position, and a replay skips them until the position passes them', () => {
    const p = new Progress([]);
    p.restore(10, { completed: '[[12,13]]' });
    expect(p.receive(9)).toBe(false); // before the start: not ours
    for (const o of [10, 11, 12]) p.receive(o);
    expect(p.completedBefore(12)).toBe(true);
    expect(p.completedBefore(11)).toBe(false);
    p.complete(11);
    expect(p.position()).toBe(10);
    expect(p.completed(p.position())).toBe('[[11,13]]');
    p.complete(-1); // a handed-over message has no offset: nothing happens
    p.complete(10);
    expect(p.pending).toBe(1);
    expect(p.completed(p.position())).toBe('[[12,13]]');
    expect(mergeRanges([[1, 2]], [[4, 6]], 5)).toEqual([[5, 6]]);
  });

  it('keeps only the source offsets and watermark marks below the position in the checkpoint', () => {
    const p = new Progress(['g']);
    p.restore(0, {});
    for (const o of [0, 1, 2, 3]) p.receive(o);
    expect(p.isDuplicateFromSource(0, { name: 's', offset: 5 })).toBe(false);
    expect(p.isDuplicateFromSource(1, { name: 's', offset: 5 })).toBe(true);
    p.mark(2, mark('in/0', 100));
    expect(p.mark(3, mark('in/1', 120))).toBe(true);
    expect(p.watermark).toBe(100);
    p.complete(0);
    p.complete(1);
    p.complete(2);
    // Position 3: the source offset at 0 and the mark at 2 are below it, the mark at 3 is not.
    const meta = p.checkpointMeta(p.position());
    expect(JSON.parse(meta.sources!)).toEqual([['s', 5]]);
    const stable = WatermarkTracker.restore(meta[WATERMARK_META_KEY], ['g']);
    expect(stable.watermark).toBe(-Infinity);
    const replay = new Progress(['g']);
    replay.restore(3, meta);
    expect(replay.isDuplicateFromSource(9, { name: 's', offset: 5 })).toBe(true);
    expect(replay.mark(3, mark('in/1', 120))).toBe(true);
    expect(replay.watermark).toBe(100);
  });

  it('an unreadable watermark snapshot is reported and the progress starts without one', () => {
    const p = new Progress(['g']);
    const { watermarkError } = p.restore(0, { [WATERMARK_META_KEY]: '{"v":9}' });
    expect(String(watermarkError)).toContain('unknown watermark snapshot');
    expect(p.watermark).toBe(-Infinity);
  });
});
