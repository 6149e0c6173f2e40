// The StateStore contract run against the embedded store, in memory and over a data directory.
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedStateStore } from '../../src/state/embedded-state-store.js';
import type { PartitionDelta } from '../../src/state/state-store.js';
import { describeStateStoreContract } from './state-store-contract.js';

describeStateStoreContract(
  'the in-memory embedded store',
  () => Promise.resolve({ store: new EmbeddedStateStore() }),
  {
    durable: false,
  },
);

describeStateStoreContract(
  'the file-backed embedded store',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'continuum-embedded-store-'));
    return {
      store: new EmbeddedStateStore({ dir }),
      reopen: () => Promise.resolve(new EmbeddedStateStore({ dir })),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  },
  { durable: true },
);

describe('the file-backed embedded store with a crashed owner still writing', () => {
  it('two stores staging into the same directory at once never lose a temporary file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'continuum-embedded-store-'));
    try {
      const delta = (n: number): PartitionDelta => ({
        addresses: new Map([
          [`ns/t/${n}`, { states: { n: { typename: 'io.statefun.types/int', value: new Uint8Array([n]) } } }],
        ]),
        timersAdded: new Map(),
        timersRemoved: new Set(),
      });
      const zombie = new EmbeddedStateStore({ dir }).partition(0);
      const zombieEpoch = await zombie.claim();
      const owner = new EmbeddedStateStore({ dir }).partition(0);
      const ownerEpoch = await owner.claim();
      const writes: Promise<void>[] = [];
      for (let i = 1; i <= 50; i++) {
        writes.push(zombie.stage(zombieEpoch, i, delta(i)), owner.stage(ownerEpoch, i, delta(i)));
      }
      const results = await Promise.allSettled(writes);
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      await owner.promote(ownerEpoch, 50);
      const reopened = new EmbeddedStateStore({ dir }).partition(0);
      expect((await reopened.get(['ns/t/50'])).get('ns/t/50')?.states.n?.value).toEqual(new Uint8Array([50]));
      expect((await readdir(join(dir, 'p0'))).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a temporary file left by a process that died mid-write is removed when the store opens', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'continuum-embedded-store-'));
    try {
      await mkdir(join(dir, 'p0'), { recursive: true });
      await writeFile(join(dir, 'p0', 'staged.json.999999.1.tmp'), '{"id":1');
      new EmbeddedStateStore({ dir }).partition(0);
      expect(await readdir(join(dir, 'p0'))).not.toContain('staged.json.999999.1.tmp');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
