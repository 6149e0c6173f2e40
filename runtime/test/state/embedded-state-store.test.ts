// The StateStore contract run against the embedded store, in memory and over a data directory.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedStateStore } from '../../src/state/embedded-state-store.js';
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
