// Recovery of the dev-mode state directory after a crash mid-append: a torn last journal line is
// dropped, and checkpoints promoted after the restart survive the next restart.
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedStateStore } from '../../src/state/embedded-state-store.js';
import type { PartitionDelta } from '../../src/state/state-store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function delta(key: string, text: string): PartitionDelta {
  return {
    addresses: new Map([
      [key, { states: { s: { typename: 'test/T', value: new TextEncoder().encode(text) } } }],
    ]),
    timersAdded: new Map(),
    timersRemoved: new Set(),
  };
}

async function valueOf(dir: string, key: string): Promise<string | undefined> {
  const found = await new EmbeddedStateStore({ dir }).partition(0).get([key]);
  const v = found.get(key)?.states.s?.value;
  return v === undefined ? undefined : new TextDecoder().decode(v);
}

describe('embedded state store recovery', () => {
  it('a checkpoint promoted after recovering from a torn journal line survives the next restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'continuum-state-'));
    dirs.push(dir);
    const first = new EmbeddedStateStore({ dir }).partition(0);
    const epoch = await first.claim();
    await first.stage(epoch, 1, delta('ns/t/a', 'one'));
    await first.promote(epoch, 1);
    // The machine died half-way through appending the next promoted checkpoint, inside the
    // first byte of a two-byte character of an address id.
    appendFileSync(
      join(dir, 'p0', 'journal'),
      Buffer.concat([Buffer.from('{"id":2,"a":[["ns/t/caf'), Buffer.from('é').subarray(0, 1)]),
    );

    const second = new EmbeddedStateStore({ dir }).partition(0);
    const epoch2 = await second.claim();
    await second.resolve(epoch2, 1);
    expect(await valueOf(dir, 'ns/t/a')).toBe('one');
    await second.stage(epoch2, 2, delta('ns/t/b', 'two'));
    await second.promote(epoch2, 2);

    expect(await valueOf(dir, 'ns/t/a')).toBe('one');
    expect(await valueOf(dir, 'ns/t/b')).toBe('two');
    expect(readFileSync(join(dir, 'p0', 'journal'), 'utf8').endsWith('\n')).toBe(true);
  });
});
