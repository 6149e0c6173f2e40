// The embedded `StateStore`: per-partition state in memory, made durable in a data directory for
// dev mode. A staged delta is one fsynced file; promote appends it to the partition's journal
// (fsynced) and applies it in memory; a periodic snapshot keeps the journal short.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { open, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ContinuumError } from '../errors.js';
import type {
  PartitionDelta,
  PartitionStore,
  StagedInfo,
  StateStore,
  StoredAddress,
  StoredTimer,
  StoredValue,
} from './state-store.js';

export interface EmbeddedStateStoreOptions {
  /** Data directory; without it state lives in memory only. */
  dir?: string | undefined;
  /** Snapshot a partition once its journal passes this many bytes. */
  snapshotAfterBytes?: number | undefined;
}

interface JsonValue {
  t: string;
  v: string;
  x?: number;
}
interface JsonTimer extends Omit<StoredTimer, 'value'> {
  value: string;
}
interface JsonDelta {
  id: number;
  a: [string, Record<string, JsonValue>][];
  ta: JsonTimer[];
  tr: string[];
  m?: Record<string, string>;
}
interface JsonSnapshot {
  id: number;
  a: [string, Record<string, JsonValue>][];
  t: JsonTimer[];
  m: Record<string, string>;
}

export class EmbeddedStateStore implements StateStore {
  private readonly parts = new Map<number, EmbeddedPartitionStore>();

  constructor(private readonly opts: EmbeddedStateStoreOptions = {}) {}

  partition(p: number): PartitionStore {
    let store = this.parts.get(p);
    if (store === undefined) {
      const dir = this.opts.dir === undefined ? undefined : join(this.opts.dir, `p${p}`);
      store = new EmbeddedPartitionStore(p, dir, this.opts.snapshotAfterBytes ?? 16 * 1024 * 1024);
      this.parts.set(p, store);
    }
    return store;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function fenced(p: number, epoch: number, current: number): ContinuumError {
  return new ContinuumError(
    'FENCED',
    `partition ${p} is owned with epoch ${current}; a write with stale epoch ${epoch} was rejected`,
  );
}

const b64 = (u: Uint8Array): string => Buffer.from(u).toString('base64');
const unb64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));
const valueToJson = (v: StoredValue): JsonValue =>
  v.expiresAt === undefined
    ? { t: v.typename, v: b64(v.value) }
    : { t: v.typename, v: b64(v.value), x: v.expiresAt };
const valueFromJson = (j: JsonValue): StoredValue =>
  j.x === undefined
    ? { typename: j.t, value: unb64(j.v) }
    : { typename: j.t, value: unb64(j.v), expiresAt: j.x };
const timerToJson = (t: StoredTimer): JsonTimer => ({ ...t, value: b64(t.value) });
const timerFromJson = (j: JsonTimer): StoredTimer => ({ ...j, value: unb64(j.value) });

function deltaToJson(id: number, d: PartitionDelta): JsonDelta {
  const json: JsonDelta = {
    id,
    a: [...d.addresses].map(([k, a]) => {
      const s: Record<string, JsonValue> = {};
      for (const [name, v] of Object.entries(a.states)) s[name] = valueToJson(v);
      return [k, s];
    }),
    ta: [...d.timersAdded.values()].map(timerToJson),
    tr: [...d.timersRemoved],
  };
  if (d.meta !== undefined) json.m = d.meta;
  return json;
}

class EmbeddedPartitionStore implements PartitionStore {
  private epoch = 0;
  private lastPromoted = 0;
  private readonly addresses = new Map<string, StoredAddress>();
  private readonly timerMap = new Map<string, StoredTimer>();
  private metaData: Record<string, string> = {};
  private stagedDelta: JsonDelta | undefined;
  private journalBytes = 0;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly partition: number,
    private readonly dir: string | undefined,
    private readonly snapshotAfter: number,
  ) {
    if (dir !== undefined) {
      mkdirSync(dir, { recursive: true });
      removeStaleTemporaryFiles(dir);
      this.load(dir);
    }
  }

  claim(): Promise<number> {
    return this.serial(async () => {
      this.epoch += 1;
      if (this.dir !== undefined) await writeDurably(join(this.dir, 'epoch'), String(this.epoch));
      return this.epoch;
    });
  }

  staged(): Promise<StagedInfo | undefined> {
    return Promise.resolve(
      this.stagedDelta === undefined ? undefined : { checkpointId: this.stagedDelta.id },
    );
  }

  resolve(epoch: number, committedCheckpointId: number): Promise<'promoted' | 'discarded' | 'none'> {
    return this.serial(async () => {
      this.checkEpoch(epoch);
      const staged = this.stagedDelta;
      if (staged === undefined) return 'none';
      if (staged.id <= committedCheckpointId) {
        await this.applyStaged(staged);
        return 'promoted';
      }
      this.stagedDelta = undefined;
      if (this.dir !== undefined) await rm(join(this.dir, 'staged.json'), { force: true });
      return 'discarded';
    });
  }

  get(keys: readonly string[]): Promise<Map<string, StoredAddress>> {
    const out = new Map<string, StoredAddress>();
    for (const k of keys) {
      const a = this.addresses.get(k);
      if (a !== undefined) out.set(k, { states: { ...a.states } });
    }
    return Promise.resolve(out);
  }

  timers(): Promise<StoredTimer[]> {
    return Promise.resolve([...this.timerMap.values()]);
  }

  meta(): Promise<Record<string, string>> {
    return Promise.resolve({ ...this.metaData });
  }

  stage(epoch: number, checkpointId: number, delta: PartitionDelta): Promise<void> {
    return this.serial(async () => {
      this.checkEpoch(epoch);
      const json = deltaToJson(checkpointId, delta);
      if (this.dir !== undefined) await writeDurably(join(this.dir, 'staged.json'), JSON.stringify(json));
      this.stagedDelta = json;
    });
  }

  promote(epoch: number, checkpointId: number): Promise<void> {
    return this.serial(async () => {
      this.checkEpoch(epoch);
      if (checkpointId <= this.lastPromoted) return;
      const staged = this.stagedDelta;
      if (staged?.id !== checkpointId) {
        throw new ContinuumError(
          'CHECKPOINT_NOT_STAGED',
          `partition ${this.partition}: checkpoint ${checkpointId} is not staged (staged: ${staged?.id ?? 'none'})`,
        );
      }
      await this.applyStaged(staged);
    });
  }

  private checkEpoch(epoch: number): void {
    if (epoch !== this.epoch) throw fenced(this.partition, epoch, this.epoch);
  }

  /** Serialises operations so that an epoch bump cannot interleave with a stage or promote. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async applyStaged(staged: JsonDelta): Promise<void> {
    if (this.dir !== undefined) {
      const line = JSON.stringify(staged) + '\n';
      const fh = await open(join(this.dir, 'journal'), 'a');
      try {
        await fh.write(line);
        await fh.sync();
      } finally {
        await fh.close();
      }
      this.journalBytes += Buffer.byteLength(line);
    }
    this.applyJson(staged);
    this.stagedDelta = undefined;
    if (this.dir !== undefined) {
      await rm(join(this.dir, 'staged.json'), { force: true });
      if (this.journalBytes > this.snapshotAfter) await this.snapshot(this.dir);
    }
  }

  private applyJson(d: JsonDelta): void {
    if (d.id <= this.lastPromoted) return;
    for (const [key, replacement] of d.a) {
      const states: Record<string, StoredValue> = {};
      for (const [name, v] of Object.entries(replacement)) states[name] = valueFromJson(v);
      if (Object.keys(states).length === 0) this.addresses.delete(key);
      else this.addresses.set(key, { states });
    }
    for (const t of d.ta) this.timerMap.set(t.id, timerFromJson(t));
    for (const id of d.tr) this.timerMap.delete(id);
    if (d.m !== undefined) this.metaData = { ...d.m };
    this.lastPromoted = d.id;
  }

  private load(dir: string): void {
    const epochFile = join(dir, 'epoch');
    if (existsSync(epochFile)) this.epoch = Number(readFileSync(epochFile, 'utf8')) || 0;
    const snapFile = join(dir, 'snapshot.json');
    if (existsSync(snapFile)) {
      const snap = JSON.parse(readFileSync(snapFile, 'utf8')) as JsonSnapshot;
      for (const [k, s] of snap.a) {
        const states: Record<string, StoredValue> = {};
        for (const [name, v] of Object.entries(s)) states[name] = valueFromJson(v);
        this.addresses.set(k, { states });
      }
      for (const t of snap.t) this.timerMap.set(t.id, timerFromJson(t));
      this.metaData = snap.m;
      this.lastPromoted = snap.id;
    }
    const journalFile = join(dir, 'journal');
    if (existsSync(journalFile)) {
      const text = readFileSync(journalFile, 'utf8');
      this.journalBytes = Buffer.byteLength(text);
      const lines = text.split('\n');
      // The part after the last newline is empty or a torn append that was never acknowledged.
      for (let i = 0; i < lines.length - 1; i++) {
        if (lines[i]!.length > 0) this.applyJson(JSON.parse(lines[i]!) as JsonDelta);
      }
      if (lines[lines.length - 1]!.length > 0) {
        // Cut it off, or the next append would be glued to it and unreadable on the next load.
        // Measured in bytes: the torn part may end inside a multi-byte character.
        const raw = readFileSync(journalFile);
        this.journalBytes = raw.lastIndexOf(0x0a) + 1;
        truncateSync(journalFile, this.journalBytes);
      }
    }
    const stagedFile = join(dir, 'staged.json');
    if (existsSync(stagedFile)) {
      try {
        this.stagedDelta = JSON.parse(readFileSync(stagedFile, 'utf8')) as JsonDelta;
      } catch {
        // A staged file is written to a temporary name and renamed, so a damaged one can only
        // come from outside; it was never acknowledged, so dropping it loses nothing committed.
        rmSync(stagedFile, { force: true });
      }
    }
  }

  private async snapshot(dir: string): Promise<void> {
    const snap: JsonSnapshot = {
      id: this.lastPromoted,
      a: [...this.addresses].map(([k, a]) => {
        const s: Record<string, JsonValue> = {};
        for (const [name, v] of Object.entries(a.states)) s[name] = valueToJson(v);
        return [k, s];
      }),
      t: [...this.timerMap.values()].map(timerToJson),
      m: this.metaData,
    };
    await writeDurably(join(dir, 'snapshot.json'), JSON.stringify(snap));
    // The snapshot covers every journal line, so the journal can start over; a crash between the
    // two leaves lines that are re-applied on load and skipped by their checkpoint ids.
    await writeFile(join(dir, 'journal'), '');
    this.journalBytes = 0;
  }
}

let tmpSequence = 0;

/** Removes temporary files that an earlier process left behind when it died in the middle of a write. */
function removeStaleTemporaryFiles(dir: string): void {
  const own = `.${process.pid}.`;
  for (const name of readdirSync(dir)) {
    if (name.endsWith('.tmp') && !name.includes(own)) rmSync(join(dir, name), { force: true });
  }
}

/**
 * Writes a file atomically: a uniquely named temporary file is synced, then renamed over the target.
 * The name is unique per write so that two writers (a crashed owner still finishing a write while
 * its successor starts) never rename each other's temporary file away.
 */
async function writeDurably(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.${++tmpSequence}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.write(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}
