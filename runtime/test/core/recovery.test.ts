import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { Header } from '../../src/core/envelope.js';
import { recover } from '../../src/core/recovery.js';
import { FakeOwned, FakeStore, type Journal } from './fake-ports.js';

function ports() {
  const journal: Journal = [];
  const owned = new FakeOwned(0, journal);
  const store = new FakeStore(0, journal);
  const run = () => recover({ owned, store, internalTopic: 'internal', log: silentLogger });
  return { journal, owned, store, run };
}

const emptyDelta = () => ({ addresses: new Map(), timersAdded: new Map(), timersRemoved: new Set<string>() });

describe('taking over a partition', () => {
  it('claims the store epoch, fences the log, and only then reads the committed position and loads the timers', async () => {
    const { journal, owned, store, run } = ports();
    owned.position = { offset: 40, checkpointId: 7 };
    store.timers_.set('t', {
      id: 't',
      fireAt: 5,
      targetKey: 'a/b/c',
      callerKey: 'a/b/c',
      typename: 'x/y',
      value: new Uint8Array(),
      userToken: false,
    });
    const r = await run();
    expect(journal).toEqual([
      'store.claim',
      'log.fence',
      'log.committed',
      'store.meta',
      'store.staged',
      'store.resolve(1,7)',
      'store.meta',
      'store.timers',
    ]);
    expect(r).toMatchObject({
      epoch: 1,
      position: { offset: 40, checkpointId: 7 },
      checkpointId: 7,
      staged: 'none',
    });
    expect(r.timers.map((t) => t.id)).toEqual(['t']);
  });

  it("trusts the store's promoted position when the log's lags behind it", async () => {
    const { owned, store, run } = ports();
    owned.position = { offset: 10, checkpointId: 3 };
    store.meta_ = { position: '25', checkpoint: '5', completed: '[[27,27]]' };
    const r = await run();
    expect(r.position).toEqual({ offset: 25, checkpointId: 5 });
    expect(r.logPosition).toEqual({ offset: 10, checkpointId: 3 });
    expect(r.meta.completed).toBe('[[27,27]]');
  });

  it('promotes a staged delta whose checkpoint marker is in the partition (its commit happened)', async () => {
    const { journal, owned, store, run } = ports();
    owned.position = { offset: 0, checkpointId: 1 };
    await owned.publish([
      { topic: 'internal', partition: 0, key: null, value: null, headers: { [Header.checkpoint]: '2' } },
    ]);
    store.staged_ = { epoch: 0, id: 2, delta: { ...emptyDelta(), meta: { position: '1', checkpoint: '2' } } };
    journal.length = 0;
    const r = await run();
    expect(journal).toContain('log.publish'); // its own fence record ends the scan
    expect(journal.indexOf('log.scanFor(0)')).toBeGreaterThan(journal.indexOf('log.publish'));
    expect(journal).toContain('store.resolve(1,2)');
    expect(r).toMatchObject({
      staged: 'promoted',
      position: { offset: 1, checkpointId: 2 },
      checkpointId: 2,
    });
  });

  it('discards a staged delta whose marker never made it (its commit aborted) and never reuses its id', async () => {
    const { journal, store, run } = ports();
    store.meta_ = { position: '5', checkpoint: '3' };
    store.staged_ = { epoch: 0, id: 4, delta: emptyDelta() };
    const r = await run();
    expect(journal).toContain('store.resolve(1,3)');
    expect(r.staged).toBe('discarded');
    expect(r.position).toEqual({ offset: 5, checkpointId: 3 });
    expect(r.checkpointId).toBe(4);
  });
});
