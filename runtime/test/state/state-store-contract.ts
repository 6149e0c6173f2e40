// The behavioural contract of the `StateStore` port, written once and run against every adapter:
// the embedded store in the unit project, the Redis store against a real Redis in integration.
import { afterEach, describe, expect, it } from 'vitest';
import type {
  AddressDelta,
  PartitionDelta,
  StateStore,
  StoredTimer,
  StoredValue,
} from '../../src/state/state-store.js';

/** A fresh, empty store to test, and how to reopen it over the same data (a process restart). */
export interface ContractSubject {
  store: StateStore;
  /** A second store over the same data; required when the suite runs with `durable`. */
  reopen?: (() => Promise<StateStore>) | undefined;
  /** Frees what `create` set up beyond the stores (closed by the suite). */
  cleanup?: (() => Promise<void>) | undefined;
}

/** What the adapter under test promises beyond the in-memory contract. */
export interface ContractOptions {
  /** The store keeps its data across a restart (`reopen`): adds the durability test. */
  durable: boolean;
}

/** Registers the contract suite for the adapter that `create` builds. */
export function describeStateStoreContract(
  name: string,
  create: () => Promise<ContractSubject>,
  options: ContractOptions,
): void {
  describe(`${name} honours the StateStore contract`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    });

    async function subject(): Promise<ContractSubject> {
      const s = await create();
      cleanups.push(async () => {
        await s.store.close();
        await s.cleanup?.();
      });
      return s;
    }

    async function reopened(s: ContractSubject): Promise<StateStore> {
      const store = await s.reopen!();
      cleanups.push(() => store.close());
      return store;
    }

    it('a fresh partition has no state, timers, metadata or staged delta', async () => {
      const p = (await subject()).store.partition(0);
      const epoch = await p.claim();
      expect(await p.get(['a/b/c'])).toEqual(new Map());
      expect(await p.timers()).toEqual([]);
      expect(await p.meta()).toEqual({});
      expect(await p.staged()).toBeUndefined();
      expect(await p.resolve(epoch, 10)).toBe('none');
    });

    it('every claim returns a higher epoch', async () => {
      const p = (await subject()).store.partition(3);
      const first = await p.claim();
      const second = await p.claim();
      const third = await p.claim();
      expect(first).toBeGreaterThan(0);
      expect(second).toBeGreaterThan(first);
      expect(third).toBeGreaterThan(second);
    });

    it('a promoted checkpoint is what get, timers and meta return, binary values and expiry included', async () => {
      const p = (await subject()).store.partition(1);
      const epoch = await p.claim();
      const allBytes = new Uint8Array(256).map((_, i) => i);
      const a1 = address({
        seen: value('io.statefun.types/int', [0, 0, 0, 7]),
        blob: { typename: 'com.example/Blob', value: allBytes, expiresAt: 1_700_000_000_123 },
      });
      const a2 = address({ empty: value('io.statefun.types/string', []) });
      const unicode = 'ns/grüße 👋/id\u0000with-nul';
      await p.stage(
        epoch,
        1,
        delta({
          addresses: [
            ['ns/fn/a1', a1],
            [unicode, a2],
          ],
          timersAdded: [
            timer('t1', 1000),
            timer('t2', 2000, { eventTime: 1500, userToken: true }),
            timer('t3', 3000, { eventTime: 3000, kind: 'event-time' }),
          ],
          meta: { completed: '[[5,7]]', watermark: '42' },
        }),
      );
      await p.promote(epoch, 1);
      const got = await p.get(['ns/fn/a1', unicode, 'ns/fn/missing']);
      expect([...got.keys()].sort()).toEqual(['ns/fn/a1', unicode].sort());
      expect(got.get('ns/fn/a1')).toEqual({ states: a1.states });
      expect(got.get(unicode)).toEqual({ states: a2.states });
      expect(sortTimers(await p.timers())).toEqual([
        timer('t1', 1000),
        timer('t2', 2000, { eventTime: 1500, userToken: true }),
        timer('t3', 3000, { eventTime: 3000, kind: 'event-time' }),
      ]);
      expect(await p.meta()).toEqual({ completed: '[[5,7]]', watermark: '42' });
      expect(await p.staged()).toBeUndefined();
    });

    it('a staged delta is invisible to reads until it is promoted', async () => {
      const p = (await subject()).store.partition(0);
      const epoch = await p.claim();
      await p.stage(
        epoch,
        1,
        delta({
          addresses: [['k', address({ s: value('t', [1]) })]],
          timersAdded: [timer('x', 5)],
          meta: { m: '1' },
        }),
      );
      expect(await p.staged()).toEqual({ checkpointId: 1 });
      expect(await p.get(['k'])).toEqual(new Map());
      expect(await p.timers()).toEqual([]);
      expect(await p.meta()).toEqual({});
      await p.promote(epoch, 1);
      expect((await p.get(['k'])).get('k')).toEqual({ states: { s: value('t', [1]) } });
      expect(await p.staged()).toBeUndefined();
    });

    it('an address delta replaces the stored address whole, and one without states deletes it', async () => {
      const p = (await subject()).store.partition(0);
      const epoch = await p.claim();
      await p.stage(
        epoch,
        1,
        delta({
          addresses: [
            ['a', address({ x: value('t', [1]), y: value('t', [2]) })],
            ['b', address({ z: value('t', [3]) })],
          ],
        }),
      );
      await p.promote(epoch, 1);
      await p.stage(
        epoch,
        2,
        delta({
          addresses: [
            ['a', address({ y: value('t2', [9, 9]) })],
            ['b', address({})],
          ],
        }),
      );
      await p.promote(epoch, 2);
      const got = await p.get(['a', 'b']);
      expect(got.get('a')).toEqual({ states: { y: value('t2', [9, 9]) } });
      expect(got.has('b')).toBe(false);
    });

    it('later checkpoints add and remove timers, and a timer added and removed in one delta ends up removed', async () => {
      const p = (await subject()).store.partition(0);
      const epoch = await p.claim();
      await p.stage(epoch, 1, delta({ timersAdded: [timer('a', 1), timer('b', 2), timer('c', 3)] }));
      await p.promote(epoch, 1);
      await p.stage(
        epoch,
        2,
        delta({ timersAdded: [timer('d', 4), timer('e', 5), timer('b', 20)], timersRemoved: ['a', 'e'] }),
      );
      await p.promote(epoch, 2);
      expect(sortTimers(await p.timers())).toEqual([timer('b', 20), timer('c', 3), timer('d', 4)]);
    });

    it('a delta with metadata replaces it wholesale and a delta without leaves it alone', async () => {
      const p = (await subject()).store.partition(0);
      const epoch = await p.claim();
      await p.stage(epoch, 1, delta({ meta: { completed: '[]', watermark: '1' } }));
      await p.promote(epoch, 1);
      await p.stage(epoch, 2, delta({ addresses: [['k', address({ s: value('t', [1]) })]] }));
      await p.promote(epoch, 2);
      expect(await p.meta()).toEqual({ completed: '[]', watermark: '1' });
      await p.stage(epoch, 3, delta({ meta: { completed: '[[1,2]]' } }));
      await p.promote(epoch, 3);
      expect(await p.meta()).toEqual({ completed: '[[1,2]]' });
      await p.stage(epoch, 4, delta({ meta: {} }));
      await p.promote(epoch, 4);
      expect(await p.meta()).toEqual({});
    });

    it('promote is idempotent: promoting the same or an older checkpoint again changes nothing', async () => {
      const p = (await subject()).store.partition(0);
      const epoch = await p.claim();
      await p.stage(epoch, 1, delta({ addresses: [['k', address({ s: value('t', [1]) })]] }));
      await p.promote(epoch, 1);
      await p.stage(epoch, 2, delta({ addresses: [['k', address({ s: value('t', [2]) })]] }));
      await p.promote(epoch, 2);
      await p.promote(epoch, 2);
      await p.promote(epoch, 1);
      expect((await p.get(['k'])).get('k')).toEqual({ states: { s: value('t', [2]) } });
      expect(await p.staged()).toBeUndefined();
    });

    it('promoting a checkpoint that is not staged fails with CHECKPOINT_NOT_STAGED', async () => {
      const p = (await subject()).store.partition(0);
      const epoch = await p.claim();
      await expect(p.promote(epoch, 1)).rejects.toMatchObject({ code: 'CHECKPOINT_NOT_STAGED' });
      await p.stage(epoch, 2, delta({ addresses: [['k', address({ s: value('t', [1]) })]] }));
      await expect(p.promote(epoch, 3)).rejects.toMatchObject({ code: 'CHECKPOINT_NOT_STAGED' });
      expect(await p.staged()).toEqual({ checkpointId: 2 });
      expect(await p.get(['k'])).toEqual(new Map());
    });

    it('a new stage replaces a staged delta that was never promoted', async () => {
      const p = (await subject()).store.partition(0);
      const epoch = await p.claim();
      await p.stage(
        epoch,
        1,
        delta({ addresses: [['old', address({ s: value('t', [1]) })]], timersAdded: [timer('old', 1)] }),
      );
      await p.stage(epoch, 2, delta({ addresses: [['new', address({ s: value('t', [2]) })]] }));
      expect(await p.staged()).toEqual({ checkpointId: 2 });
      await p.promote(epoch, 2);
      const got = await p.get(['old', 'new']);
      expect([...got.keys()]).toEqual(['new']);
      expect(await p.timers()).toEqual([]);
    });

    it('resolve promotes a staged delta whose id is at most the committed id', async () => {
      const s = await subject();
      for (const [partition, committed] of [
        [0, 4],
        [1, 9],
      ] as const) {
        const p = s.store.partition(partition);
        const epoch = await p.claim();
        await p.stage(
          epoch,
          4,
          delta({ addresses: [['k', address({ s: value('t', [4]) })]], meta: { c: '4' } }),
        );
        const next = await p.claim();
        expect(await p.resolve(next, committed)).toBe('promoted');
        expect((await p.get(['k'])).get('k')).toEqual({ states: { s: value('t', [4]) } });
        expect(await p.meta()).toEqual({ c: '4' });
        expect(await p.staged()).toBeUndefined();
        // The checkpoint counts as promoted: promoting it again is a no-op.
        await p.promote(next, 4);
      }
    });

    it('resolve discards a staged delta newer than the committed id', async () => {
      const p = (await subject()).store.partition(0);
      const epoch = await p.claim();
      await p.stage(epoch, 1, delta({ addresses: [['k', address({ s: value('t', [1]) })]] }));
      await p.promote(epoch, 1);
      await p.stage(
        epoch,
        2,
        delta({ addresses: [['k', address({ s: value('t', [2]) })]], timersAdded: [timer('x', 1)] }),
      );
      const next = await p.claim();
      expect(await p.resolve(next, 1)).toBe('discarded');
      expect(await p.staged()).toBeUndefined();
      expect((await p.get(['k'])).get('k')).toEqual({ states: { s: value('t', [1]) } });
      expect(await p.timers()).toEqual([]);
      await expect(p.promote(next, 2)).rejects.toMatchObject({ code: 'CHECKPOINT_NOT_STAGED' });
      // The new owner's next checkpoint reuses id 2, as it would after recovery.
      await p.stage(next, 2, delta({ addresses: [['k', address({ s: value('t', [3]) })]] }));
      await p.promote(next, 2);
      expect((await p.get(['k'])).get('k')).toEqual({ states: { s: value('t', [3]) } });
    });

    it('resolve reports none when nothing is staged', async () => {
      const p = (await subject()).store.partition(0);
      const epoch = await p.claim();
      await p.stage(epoch, 1, delta({ addresses: [['k', address({ s: value('t', [1]) })]] }));
      await p.promote(epoch, 1);
      const next = await p.claim();
      expect(await p.resolve(next, 1)).toBe('none');
      expect((await p.get(['k'])).get('k')).toEqual({ states: { s: value('t', [1]) } });
    });

    it('after a second claim the old epoch can no longer stage, promote or resolve, and changes nothing', async () => {
      const p = (await subject()).store.partition(2);
      const old = await p.claim();
      await p.stage(old, 1, delta({ addresses: [['k', address({ s: value('t', [1]) })]], meta: { c: '1' } }));
      await p.promote(old, 1);
      await p.stage(old, 2, delta({ addresses: [['k', address({ s: value('t', [2]) })]], meta: { c: '2' } }));
      const current = await p.claim();
      await expect(
        p.stage(old, 3, delta({ addresses: [['k', address({ s: value('t', [3]) })]], meta: { c: '3' } })),
      ).rejects.toMatchObject({ code: 'FENCED' });
      await expect(p.promote(old, 2)).rejects.toMatchObject({ code: 'FENCED' });
      await expect(p.resolve(old, 2)).rejects.toMatchObject({ code: 'FENCED' });
      expect(await p.staged()).toEqual({ checkpointId: 2 });
      expect((await p.get(['k'])).get('k')).toEqual({ states: { s: value('t', [1]) } });
      expect(await p.meta()).toEqual({ c: '1' });
      // A newer epoch than the current one is no owner either.
      await expect(p.promote(current + 1, 2)).rejects.toMatchObject({ code: 'FENCED' });
      expect(await p.resolve(current, 2)).toBe('promoted');
      expect((await p.get(['k'])).get('k')).toEqual({ states: { s: value('t', [2]) } });
    });

    it('partitions keep their state, timers, metadata and epochs apart', async () => {
      const s = await subject();
      const p0 = s.store.partition(0);
      const p1 = s.store.partition(1);
      const e0 = await p0.claim();
      await p0.claim();
      const e1 = await p1.claim();
      await p0.stage(
        e0 + 1,
        1,
        delta({ addresses: [['k', address({ s: value('t', [0]) })]], meta: { p: '0' } }),
      );
      await p1.stage(
        e1,
        1,
        delta({ addresses: [['k', address({ s: value('t', [1]) })]], timersAdded: [timer('t', 1)] }),
      );
      await p0.promote(e0 + 1, 1);
      expect(await p1.staged()).toEqual({ checkpointId: 1 });
      await p1.promote(e1, 1);
      expect((await p0.get(['k'])).get('k')).toEqual({ states: { s: value('t', [0]) } });
      expect((await p1.get(['k'])).get('k')).toEqual({ states: { s: value('t', [1]) } });
      expect(await p0.timers()).toEqual([]);
      expect(await p1.meta()).toEqual({});
    });

    // Registered only for durable stores, so that no test is reported as skipped.
    if (options.durable)
      it('committed state, timers, metadata, epoch and a staged delta survive reopening the store', async () => {
        const s = await subject();
        expect(s.reopen, 'a durable subject must say how to reopen it').toBeDefined();
        const p = s.store.partition(5);
        const epoch = await p.claim();
        await p.stage(
          epoch,
          1,
          delta({
            addresses: [
              ['k', address({ s: value('t', [1]), e: { typename: 't', value: bytes([2]), expiresAt: 99 } })],
            ],
            timersAdded: [timer('a', 10, { eventTime: 5 })],
            meta: { completed: '[[3,4]]' },
          }),
        );
        await p.promote(epoch, 1);
        await p.stage(
          epoch,
          2,
          delta({ addresses: [['k2', address({ s: value('t', [7]) })]], timersRemoved: ['a'] }),
        );
        await s.store.close();

        const again = (await reopened(s)).partition(5);
        expect(await again.staged()).toEqual({ checkpointId: 2 });
        const next = await again.claim();
        expect(next).toBeGreaterThan(epoch);
        expect((await again.get(['k'])).get('k')).toEqual({
          states: { s: value('t', [1]), e: { typename: 't', value: bytes([2]), expiresAt: 99 } },
        });
        expect(await again.timers()).toEqual([timer('a', 10, { eventTime: 5 })]);
        expect(await again.meta()).toEqual({ completed: '[[3,4]]' });
        expect(await again.resolve(next, 2)).toBe('promoted');
        expect((await again.get(['k2'])).get('k2')).toEqual({ states: { s: value('t', [7]) } });
        expect(await again.timers()).toEqual([]);
      });
  });
}

// ------------------------------------------------------------------ builders shared by the tests

/** Bytes as the Uint8Array that stores return. */
export function bytes(values: readonly number[]): Uint8Array {
  return Uint8Array.from(values);
}

export function value(typename: string, content: readonly number[]): StoredValue {
  return { typename, value: bytes(content) };
}

export function address(states: Record<string, StoredValue>): AddressDelta {
  return { states };
}

export function timer(
  id: string,
  fireAt: number,
  extra: { eventTime?: number; userToken?: boolean; kind?: 'event-time' } = {},
): StoredTimer {
  const t: StoredTimer = {
    id,
    fireAt,
    targetKey: `ns/target/${id}`,
    callerKey: 'ns/caller/c',
    typename: 'com.example/Ping',
    value: bytes([fireAt % 256, 1, 2]),
    userToken: extra.userToken ?? false,
  };
  if (extra.eventTime !== undefined) t.eventTime = extra.eventTime;
  if (extra.kind !== undefined) t.kind = extra.kind;
  return t;
}

export function delta(parts: {
  addresses?: [string, AddressDelta][];
  timersAdded?: StoredTimer[];
  timersRemoved?: string[];
  meta?: Record<string, string>;
}): PartitionDelta {
  return {
    addresses: new Map(parts.addresses ?? []),
    timersAdded: new Map((parts.timersAdded ?? []).map((t) => [t.id, t])),
    timersRemoved: new Set(parts.timersRemoved ?? []),
    meta: parts.meta,
  };
}

export function sortTimers(timers: StoredTimer[]): StoredTimer[] {
  return [...timers].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
