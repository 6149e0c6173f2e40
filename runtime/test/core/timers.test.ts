import { describe, expect, it } from 'vitest';
import type { StoredTimer } from '../../src/state/state-store.js';
import { TaskTimers, type TimerKind } from '../../src/core/timers.js';
import { FakeTime } from './fake-time.js';

function timer(id: string, fireAt: number, kind?: 'event-time'): StoredTimer {
  const t: StoredTimer = {
    id,
    fireAt,
    targetKey: 'test/t/a',
    callerKey: 'test/t/b',
    typename: 'x/y',
    value: new Uint8Array(),
    userToken: false,
  };
  if (kind !== undefined) t.kind = kind;
  return t;
}

function setup(opts: { batch?: number } = {}) {
  const time = new FakeTime(1000, { manualSoon: true });
  const fired: { ids: string[]; kind: TimerKind; at: number }[] = [];
  const state = { running: true, watermark: -Infinity, mayFire: true, asked: 0 };
  const timers = new TaskTimers({
    scheduler: time,
    now: time.now,
    batch: opts.batch ?? 100,
    host: {
      running: () => state.running,
      watermark: () => state.watermark,
      mayFireEventTimers: () => {
        if (!state.mayFire) state.asked++;
        return state.mayFire;
      },
      fire: (due, kind) => {
        if (due.length > 0) fired.push({ ids: due.map((t) => t.id), kind, at: time.now() });
      },
    },
  });
  return { time, timers, fired, state };
}

describe('timers of a partition', () => {
  it('a delayed message fires at its time, not a millisecond earlier, earliest first', async () => {
    const { time, timers, fired } = setup();
    timers.add(timer('late', 1300));
    timers.add(timer('early', 1100)); // re-arms the wake-up for the earlier one
    await time.advance(99);
    expect(fired).toEqual([]);
    await time.advance(1);
    expect(fired).toEqual([{ ids: ['early'], kind: 'processing-time', at: 1100 }]);
    await time.advance(199);
    expect(fired).toHaveLength(1);
    await time.advance(1);
    expect(fired[1]).toEqual({ ids: ['late'], kind: 'processing-time', at: 1300 });
    expect(timers.pending).toBe(0);
  });

  it('a removed timer never fires; one pass releases at most `batch` and the rest follow', async () => {
    const { time, timers, fired } = setup({ batch: 2 });
    for (const id of ['a', 'b', 'c', 'd']) timers.add(timer(id, 1050));
    expect(timers.remove('b')).toBe(true);
    expect(timers.remove('b')).toBe(false);
    await time.advance(1000);
    expect(fired.map((f) => f.ids)).toEqual([['a', 'c'], ['d']]);
  });

  it('restored timers wait for schedule(), and nothing fires after stop()', async () => {
    const { time, timers, fired } = setup();
    timers.load([timer('restored', 900), timer('later', 2000)]);
    await time.advance(10);
    expect(fired).toEqual([]);
    timers.schedule();
    await time.advance(0);
    expect(fired.map((f) => f.ids)).toEqual([['restored']]);
    timers.stop();
    await time.advance(5000);
    expect(fired).toHaveLength(1);
    expect(time.pendingTimers).toBe(0);
  });

  it('event-time timers fire once the watermark passes them, coalesced into one pass, and wait while the host cannot take them', () => {
    const { time, timers, fired, state } = setup();
    timers.add(timer('e2', 200, 'event-time'));
    timers.add(timer('e1', 100, 'event-time'));
    timers.scheduleEventTimers();
    time.runSoon();
    expect(fired).toEqual([]); // no watermark yet
    state.watermark = 150;
    timers.scheduleEventTimers();
    timers.scheduleEventTimers();
    expect(time.pendingSoon).toBe(1);
    time.runSoon();
    expect(fired.map((f) => [f.ids, f.kind])).toEqual([[['e1'], 'event-time']]);
    state.watermark = 500;
    state.mayFire = false;
    timers.scheduleEventTimers();
    time.runSoon();
    expect(state.asked).toBe(1);
    expect(fired).toHaveLength(1);
    state.mayFire = true;
    timers.scheduleEventTimers();
    time.runSoon();
    expect(fired.map((f) => f.ids)).toEqual([['e1'], ['e2']]);
  });

  it('an event-time timer added behind the watermark is due at once; list() shows an address its timers', () => {
    const { time, timers, fired, state } = setup();
    state.watermark = 1000;
    timers.add(timer('d', 5000));
    timers.add(timer('past', 10, 'event-time'));
    expect(timers.list('test/t/a', 10).map((t) => t.id)).toEqual(['d', 'past']);
    expect(timers.list('test/t/zzz', 10)).toEqual([]);
    time.runSoon();
    expect(fired.map((f) => f.ids)).toEqual([['past']]);
    expect(timers.has('past')).toBe(false);
    expect(timers.has('d')).toBe(true);
  });
});
