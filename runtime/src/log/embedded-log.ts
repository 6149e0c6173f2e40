// The embedded `Log`: an in-process partitioned log for dev mode and fast tests of the core.
// With a directory it is durable: every append and every transactional commit is one journal
// line written and fsynced before it becomes visible, so a killed process loses nothing that was
// acknowledged and never shows half a commit (a torn last line is ignored on load).
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ContinuumError } from '../errors.js';
import { partitionForKey, type Partitioning } from './partitioner.js';
import type {
  AssignmentListener,
  CommitOptions,
  CommittedPosition,
  Log,
  LogRecord,
  OutRecord,
  OwnedPartition,
  RecordSink,
  TopicReader,
} from './log.js';
import { DEFAULTS } from '../defaults.js';

export interface EmbeddedLogOptions {
  /** Journal directory; without it the log lives in memory only. */
  dir?: string | undefined;
  internalTopic?: string | undefined;
  /** Partitions of the internal topic. */
  partitions?: number | undefined;
  /** How an address picks its partition; fixed per data directory. @defaultValue 'address' */
  partitioning?: Partitioning | undefined;
  /** Records kept per topic partition; older ones are dropped (memory bound). */
  retentionRecords?: number | undefined;
  /** Rewrite the journal as a snapshot once it grows past this many bytes. */
  compactAfterBytes?: number | undefined;
  /** Most records handed to a consumer sink at once. */
  maxDeliveryBatch?: number | undefined;
}

interface PartitionData {
  /** Offset of records[0]. */
  base: number;
  records: LogRecord[];
  /** Owned-partition consumers and readers waiting for new records. */
  listeners: Set<() => void>;
}

type JournalRecord = [
  topic: string,
  partition: number,
  key: string | null,
  value: string | null,
  headers: Record<string, string>,
  ts: number,
];
type JournalPosition = [partition: number, offset: number, checkpointId: number];
interface JournalLine {
  r?: JournalRecord[];
  p?: JournalPosition[];
  /** Topic creations: name → partition count. */
  c?: Record<string, number>;
  /** Snapshot of retained partitions: name → per-partition base offsets. */
  b?: Record<string, number[]>;
}

export class EmbeddedLog implements Log {
  readonly internalTopic: string;
  readonly partitions: number;
  readonly partitioning: Partitioning;
  private readonly topics = new Map<string, PartitionData[]>();
  private readonly positions = new Map<number, CommittedPosition>();
  private readonly generations: number[];
  private readonly retention: number;
  private readonly compactAfter: number;
  private readonly maxBatch: number;
  private readonly journalPath: string | undefined;
  private journal: FileHandle | undefined;
  private journalBytes = 0;
  private writeChain: Promise<void> = Promise.resolve();
  private listener: AssignmentListener | undefined;
  private owned = new Map<number, EmbeddedOwnedPartition>();
  private readonly appendListeners = new Set<(topic: string) => void>();
  private closed = false;

  private constructor(opts: EmbeddedLogOptions) {
    this.internalTopic = opts.internalTopic ?? DEFAULTS.internalTopic;
    this.partitions = opts.partitions ?? 4;
    this.partitioning = opts.partitioning ?? 'address';
    this.retention = opts.retentionRecords ?? 200_000;
    this.compactAfter = opts.compactAfterBytes ?? 64 * 1024 * 1024;
    this.maxBatch = opts.maxDeliveryBatch ?? 500;
    this.generations = new Array<number>(this.partitions).fill(0);
    this.journalPath = opts.dir === undefined ? undefined : join(opts.dir, 'log.journal');
    this.ensureTopic(this.internalTopic, this.partitions);
  }

  /** Opens (and with a directory, recovers) an embedded log. */
  static async open(opts: EmbeddedLogOptions = {}): Promise<EmbeddedLog> {
    const log = new EmbeddedLog(opts);
    if (opts.dir !== undefined) {
      mkdirSync(opts.dir, { recursive: true });
      log.load();
      log.journal = await open(log.journalPath!, 'a');
    }
    return log;
  }

  /** Creates `topic` with `partitions` partitions if it does not exist yet. */
  async createTopic(topic: string, partitions: number): Promise<void> {
    if (this.topics.has(topic)) return;
    this.ensureTopic(topic, partitions);
    await this.write({ c: { [topic]: partitions } });
  }

  async join(listener: AssignmentListener): Promise<void> {
    this.listener = listener;
    for (let p = 0; p < this.partitions; p++) {
      const owned = this.newOwner(p);
      await listener.assigned(owned);
    }
  }

  /**
   * Hands partition `p` to a fresh owner, as a rebalance would: the listener is told of the
   * revocation, then of the new assignment. The previous owner object is fenced by the new one.
   */
  async reassign(p: number): Promise<void> {
    const listener = this.listener;
    if (listener === undefined) throw new ContinuumError('LOG_NOT_JOINED', 'reassign() before join()');
    await listener.revoked(p);
    await listener.assigned(this.newOwner(p));
  }

  reacquire(partition: number): OwnedPartition | undefined {
    if (this.listener === undefined || !this.owned.has(partition)) return undefined;
    return this.newOwner(partition);
  }

  /** A new owner for partition p without telling the listener (zombie tests). */
  newOwner(p: number): EmbeddedOwnedPartition {
    this.owned.get(p)?.stopDelivery();
    const owned = new EmbeddedOwnedPartition(this, p);
    this.owned.set(p, owned);
    return owned;
  }

  async leave(): Promise<void> {
    const listener = this.listener;
    this.listener = undefined;
    if (listener === undefined) return;
    for (const p of [...this.owned.keys()]) {
      await listener.revoked(p);
      this.owned.get(p)?.stopDelivery();
    }
    this.owned.clear();
  }

  async append(records: readonly OutRecord[]): Promise<void> {
    await this.publish(records, undefined);
  }

  reader(topic: string): TopicReader {
    return {
      read: (partition, offset, max) => Promise.resolve(this.readRange(topic, partition, offset, max)),
      partitions: () => Promise.resolve(this.topics.get(topic)?.length ?? 0),
    };
  }

  /** Registers a callback run whenever records are appended to `topic`/`partition`. */
  onAppend(topic: string, partition: number, cb: () => void): () => void {
    const data = this.partition(topic, partition);
    data.listeners.add(cb);
    return () => data.listeners.delete(cb);
  }

  /**
   * Registers a callback run for every topic that records were appended to (dev mode forwards the
   * Kafka egress topics a function writes without knowing their names in advance).
   */
  onAnyAppend(cb: (topic: string) => void): () => void {
    this.appendListeners.add(cb);
    return () => this.appendListeners.delete(cb);
  }

  /** The topics that exist, with their partition counts. */
  topicNames(): { topic: string; partitions: number }[] {
    return [...this.topics].map(([topic, parts]) => ({ topic, partitions: parts.length }));
  }

  /** First retained offset of a topic partition (older records were dropped by retention). */
  startOffset(topic: string, partition: number): number {
    return this.topics.get(topic)?.[partition]?.base ?? 0;
  }

  endOffsets(partitions: readonly number[]): Promise<ReadonlyMap<number, number>> {
    return Promise.resolve(new Map(partitions.map((p) => [p, this.endOffset(this.internalTopic, p)])));
  }

  /** End offset (next offset to be written) of a topic partition. */
  endOffset(topic: string, partition: number): number {
    const data = this.topics.get(topic)?.[partition];
    return data === undefined ? 0 : data.base + data.records.length;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const o of this.owned.values()) o.stopDelivery();
    await this.writeChain;
    await this.journal?.close();
    this.journal = undefined;
  }

  // ---- internals used by EmbeddedOwnedPartition ----

  generation(p: number): number {
    return this.generations[p]!;
  }

  bumpGeneration(p: number): number {
    this.generations[p] = this.generations[p]! + 1;
    return this.generations[p];
  }

  position(p: number): CommittedPosition {
    return this.positions.get(p) ?? { offset: 0, checkpointId: 0 };
  }

  readRange(topic: string, partition: number, offset: number, max: number): LogRecord[] {
    const data = this.topics.get(topic)?.[partition];
    if (data === undefined) return [];
    const start = Math.max(offset, data.base) - data.base;
    return data.records.slice(start, start + max);
  }

  partition(topic: string, partition: number): PartitionData {
    const parts = this.topics.get(topic) ?? this.ensureTopic(topic, 1);
    const data = parts[partition];
    if (data === undefined) {
      throw new ContinuumError(
        'PARTITION_UNKNOWN',
        `topic "${topic}" has ${parts.length} partition(s); partition ${partition} does not exist`,
      );
    }
    return data;
  }

  get deliveryBatch(): number {
    return this.maxBatch;
  }

  /** Writes records (and optionally a committed position) durably, then makes them visible. */
  async publish(
    records: readonly OutRecord[],
    position: { partition: number; generation: number; position: CommittedPosition } | undefined,
  ): Promise<void> {
    if (this.closed) throw new ContinuumError('LOG_CLOSED', 'the embedded log is closed');
    const now = Date.now();
    const resolved = records.map((r) => {
      const parts = this.topics.get(r.topic);
      const count = parts?.length ?? 1;
      const partition = r.partition ?? (r.key === null ? 0 : partitionForKey(r.key, count));
      if (partition < 0 || partition >= count) {
        throw new ContinuumError(
          'PARTITION_UNKNOWN',
          `topic "${r.topic}" has ${count} partition(s); cannot write to partition ${partition}`,
        );
      }
      return { ...r, partition, timestamp: r.timestamp ?? now, headers: r.headers ?? {} };
    });
    const line: JournalLine = {
      r: resolved.map((r) => [
        r.topic,
        r.partition,
        r.key,
        r.value === null ? null : Buffer.from(r.value).toString('base64'),
        r.headers,
        r.timestamp,
      ]),
    };
    if (position !== undefined) {
      line.p = [[position.partition, position.position.offset, position.position.checkpointId]];
    }
    const created = resolved.filter((r) => !this.topics.has(r.topic)).map((r) => r.topic);
    if (created.length > 0) line.c = Object.fromEntries(created.map((t) => [t, 1]));
    // Fencing is checked again after the write is queued behind earlier writes, so a commit
    // racing with a re-assignment cannot slip through.
    await this.write(line, () => {
      if (position !== undefined && this.generations[position.partition] !== position.generation) {
        throw fenced(position.partition);
      }
    });
    const touched = new Set<PartitionData>();
    for (const r of resolved) {
      touched.add(this.addRecord(r.topic, r.partition, r.key, r.value, r.headers, r.timestamp));
    }
    if (position !== undefined) this.positions.set(position.partition, position.position);
    for (const data of touched) for (const cb of [...data.listeners]) cb();
    if (this.appendListeners.size > 0) {
      const topics = new Set(resolved.map((r) => r.topic));
      for (const cb of [...this.appendListeners]) for (const t of topics) cb(t);
    }
  }

  private ensureTopic(topic: string, partitions: number): PartitionData[] {
    let parts = this.topics.get(topic);
    if (parts === undefined) {
      parts = Array.from({ length: partitions }, () => ({
        base: 0,
        records: [],
        listeners: new Set<() => void>(),
      }));
      this.topics.set(topic, parts);
    }
    return parts;
  }

  private addRecord(
    topic: string,
    partition: number,
    key: string | null,
    value: Uint8Array | null,
    headers: Record<string, string>,
    timestamp: number,
  ): PartitionData {
    const data = this.partition(topic, partition);
    data.records.push({
      topic,
      partition,
      offset: data.base + data.records.length,
      key,
      value,
      headers,
      timestamp,
    });
    if (data.records.length > this.retention) {
      const drop = data.records.length - this.retention;
      data.records.splice(0, drop);
      data.base += drop;
    }
    return data;
  }

  private write(line: JournalLine, check?: () => void): Promise<void> {
    const next = this.writeChain.then(async () => {
      check?.();
      if (this.journal === undefined) return;
      const text = JSON.stringify(line) + '\n';
      await this.journal.write(text);
      await this.journal.sync();
      this.journalBytes += Buffer.byteLength(text);
      if (this.journalBytes > this.compactAfter) await this.compact();
    });
    this.writeChain = next.catch(() => undefined);
    return next;
  }

  /** Replays the journal; a torn last line (crash mid-write) is a commit that never happened. */
  private load(): void {
    const path = this.journalPath!;
    if (!existsSync(path)) return;
    const text = readFileSync(path, 'utf8');
    this.journalBytes = Buffer.byteLength(text);
    const lines = text.split('\n');
    // The element after the last newline is either empty or a torn write: never replayed.
    const complete = lines.length - 1;
    for (let i = 0; i < complete; i++) {
      const raw = lines[i]!;
      if (raw.length === 0) continue;
      let line: JournalLine;
      try {
        line = JSON.parse(raw) as JournalLine;
      } catch {
        throw new ContinuumError(
          'LOG_CORRUPT',
          `${path}: line ${i + 1} is not valid JSON; the journal is damaged`,
        );
      }
      for (const [t, n] of Object.entries(line.c ?? {})) this.ensureTopic(t, n);
      for (const [t, bases] of Object.entries(line.b ?? {})) {
        const parts = this.ensureTopic(t, bases.length);
        bases.forEach((base, p) => {
          parts[p]!.base = base;
          parts[p]!.records = [];
        });
      }
      for (const [topic, partition, key, value, headers, ts] of line.r ?? []) {
        this.ensureTopic(topic, partition + 1);
        this.addRecord(
          topic,
          partition,
          key,
          value === null ? null : Buffer.from(value, 'base64'),
          headers,
          ts,
        );
      }
      for (const [p, offset, checkpointId] of line.p ?? []) this.positions.set(p, { offset, checkpointId });
    }
    if (!text.endsWith('\n') && text.length > 0) {
      // Drop the torn tail so later appends start on a clean line.
      this.rewrite();
    }
  }

  /** Rewrites the journal as one snapshot of what is retained. */
  private async compact(): Promise<void> {
    await this.journal?.close();
    this.journal = undefined;
    this.rewrite();
    this.journal = await open(this.journalPath!, 'a');
  }

  private rewrite(): void {
    const path = this.journalPath!;
    const tmp = `${path}.tmp`;
    const fd = openSync(tmp, 'w');
    let bytes = 0;
    const put = (line: JournalLine): void => {
      const text = JSON.stringify(line) + '\n';
      bytes += Buffer.byteLength(text);
      writeSync(fd, text);
    };
    const c: Record<string, number> = {};
    const b: Record<string, number[]> = {};
    for (const [t, parts] of this.topics) {
      c[t] = parts.length;
      b[t] = parts.map((d) => d.base);
    }
    put({ c, b });
    for (const [t, parts] of this.topics) {
      for (const d of parts) {
        for (let i = 0; i < d.records.length; i += 1000) {
          put({
            r: d.records
              .slice(i, i + 1000)
              .map((r) => [
                t,
                r.partition,
                r.key,
                r.value === null ? null : Buffer.from(r.value).toString('base64'),
                { ...r.headers },
                r.timestamp,
              ]),
          });
        }
      }
    }
    put({ p: [...this.positions].map(([p, pos]) => [p, pos.offset, pos.checkpointId]) });
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
    this.journalBytes = bytes;
  }
}

function fenced(partition: number): ContinuumError {
  return new ContinuumError(
    'FENCED',
    `partition ${partition} has a newer owner; this owner's commit was rejected`,
  );
}

/** An owned partition of the embedded log; a newer owner's fence() makes this one a zombie. */
export class EmbeddedOwnedPartition implements OwnedPartition {
  private generation = -1;
  private cursor = 0;
  private sink: RecordSink | undefined;
  private paused = false;
  private scheduled = false;
  private unsubscribe: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly log: EmbeddedLog,
    readonly partition: number,
  ) {}

  fence(): Promise<void> {
    this.generation = this.log.bumpGeneration(this.partition);
    return Promise.resolve();
  }

  committed(): Promise<CommittedPosition> {
    return Promise.resolve(this.log.position(this.partition));
  }

  scanFor(offset: number, decide: (record: LogRecord) => boolean | undefined): Promise<boolean> {
    const end = this.log.endOffset(this.log.internalTopic, this.partition);
    for (let at = offset; at < end;) {
      const batch = this.log.readRange(this.log.internalTopic, this.partition, at, 1000);
      if (batch.length === 0) break;
      for (const r of batch) {
        const decision = decide(r);
        if (decision !== undefined) return Promise.resolve(decision);
      }
      at = batch[batch.length - 1]!.offset + 1;
    }
    return Promise.resolve(false);
  }

  async publish(records: readonly OutRecord[]): Promise<void> {
    if (this.generation < 0 || this.generation !== this.log.generation(this.partition))
      throw fenced(this.partition);
    await this.log.publish(records, undefined);
  }

  start(offset: number, sink: RecordSink): void {
    if (this.sink !== undefined)
      throw new ContinuumError('LOG_STARTED', `partition ${this.partition} already started`);
    this.cursor = offset;
    this.sink = sink;
    this.unsubscribe = this.log.onAppend(this.log.internalTopic, this.partition, () => this.schedule());
    this.schedule();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.schedule();
  }

  async commit(
    records: readonly OutRecord[],
    position: CommittedPosition,
    prepare?: () => Promise<void>,
    // Embedded commits do not linger: urgent or not, they are written at once.
    _options?: CommitOptions,
  ): Promise<void> {
    if (this.generation < 0 || this.generation !== this.log.generation(this.partition))
      throw fenced(this.partition);
    // Nothing of an embedded commit is visible before it is written whole, so preparing first is
    // the same order as preparing between the write and its commit.
    await prepare?.();
    if (this.generation !== this.log.generation(this.partition)) throw fenced(this.partition);
    await this.log.publish(records, { partition: this.partition, generation: this.generation, position });
  }

  stopDelivery(): void {
    this.stopped = true;
    this.unsubscribe?.();
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.deliver();
    });
  }

  private deliver(): void {
    if (this.paused || this.stopped || this.sink === undefined) return;
    const batch = this.log.readRange(
      this.log.internalTopic,
      this.partition,
      this.cursor,
      this.log.deliveryBatch,
    );
    if (batch.length === 0) return;
    this.cursor = batch[batch.length - 1]!.offset + 1;
    this.sink(batch);
    this.schedule();
  }
}
