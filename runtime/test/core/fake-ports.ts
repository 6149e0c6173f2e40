// Fake ports for unit tests of the partition task's parts: an owned partition and a partition
// store that record every call in one journal (so tests can check the order of the protocol's
// steps), keep what they are given in memory, and can be told to hold or fail a call.
import type {
  CommitOptions,
  CommittedPosition,
  LogRecord,
  OutRecord,
  OwnedPartition,
  RecordSink,
} from '../../src/log/log.js';
import type {
  PartitionDelta,
  PartitionStore,
  StagedInfo,
  StoredAddress,
  StoredTimer,
} from '../../src/state/state-store.js';

export type Journal = string[];

export class FakeOwned implements OwnedPartition {
  /** The partition's records as a read_committed reader sees them. */
  readonly records: LogRecord[] = [];
  readonly commits: { records: readonly OutRecord[]; position: CommittedPosition; urgent: boolean }[] = [];
  position: CommittedPosition = { offset: -1, checkpointId: -1 };
  sink: RecordSink | undefined;
  startedAt: number | undefined;
  paused = false;
  /** Set to hold the next commits until the promise resolves. */
  gate: Promise<void> | undefined;

  constructor(
    readonly partition: number,
    private readonly journal: Journal,
  ) {}

  fence(): Promise<void> {
    this.journal.push('log.fence');
    return Promise.resolve();
  }

  committed(): Promise<CommittedPosition> {
    this.journal.push('log.committed');
    return Promise.resolve(this.position);
  }

  scanFor(offset: number, decide: (record: LogRecord) => boolean | undefined): Promise<boolean> {
    this.journal.push(`log.scanFor(${offset})`);
    for (const r of this.records) {
      if (r.offset < offset) continue;
      const d = decide(r);
      if (d !== undefined) return Promise.resolve(d);
    }
    return Promise.resolve(false);
  }

  publish(records: readonly OutRecord[]): Promise<void> {
    this.journal.push('log.publish');
    for (const r of records) this.append(r);
    return Promise.resolve();
  }

  start(offset: number, sink: RecordSink): void {
    this.journal.push(`log.start(${offset})`);
    this.startedAt = offset;
    this.sink = sink;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  async commit(
    records: readonly OutRecord[],
    position: CommittedPosition,
    prepare?: () => Promise<void>,
    options?: CommitOptions,
  ): Promise<void> {
    this.journal.push(`log.commit.begin(${position.checkpointId})`);
    await prepare?.();
    if (this.gate !== undefined) await this.gate;
    for (const r of records) if (r.topic === 'internal' && r.partition === this.partition) this.append(r);
    this.position = position;
    this.commits.push({ records, position, urgent: options?.urgent === true });
    this.journal.push(`log.commit.end(${position.checkpointId})`);
  }

  /** Delivers records to the task as the log would. */
  deliver(records: readonly Omit<LogRecord, 'partition' | 'topic' | 'timestamp'>[]): void {
    this.sink!(records.map((r) => ({ topic: 'internal', partition: this.partition, timestamp: 0, ...r })));
  }

  private append(r: OutRecord): void {
    this.records.push({
      topic: r.topic,
      partition: this.partition,
      offset: this.records.length,
      key: r.key,
      value: r.value,
      headers: r.headers ?? {},
      timestamp: 0,
    });
  }
}

export class FakeStore implements PartitionStore {
  epoch = 0;
  meta_: Record<string, string> = {};
  staged_: { epoch: number; id: number; delta: PartitionDelta } | undefined;
  readonly addresses = new Map<string, StoredAddress>();
  readonly timers_ = new Map<string, StoredTimer>();
  /** Makes the next stage reject with this error. */
  failStage: Error | undefined;

  constructor(
    readonly partition: number,
    private readonly journal: Journal,
  ) {}

  claim(): Promise<number> {
    this.journal.push('store.claim');
    return Promise.resolve(++this.epoch);
  }

  staged(): Promise<StagedInfo | undefined> {
    this.journal.push('store.staged');
    return Promise.resolve(this.staged_ === undefined ? undefined : { checkpointId: this.staged_.id });
  }

  resolve(epoch: number, committedCheckpointId: number): Promise<'promoted' | 'discarded' | 'none'> {
    this.journal.push(`store.resolve(${epoch},${committedCheckpointId})`);
    if (this.staged_ === undefined) return Promise.resolve('none');
    const { id } = this.staged_;
    if (id <= committedCheckpointId) {
      this.apply(this.staged_.delta);
      this.staged_ = undefined;
      return Promise.resolve('promoted');
    }
    this.staged_ = undefined;
    return Promise.resolve('discarded');
  }

  get(keys: readonly string[]): Promise<Map<string, StoredAddress>> {
    this.journal.push(`store.get(${keys.join(',')})`);
    const out = new Map<string, StoredAddress>();
    for (const k of keys) {
      const a = this.addresses.get(k);
      if (a !== undefined) out.set(k, a);
    }
    return Promise.resolve(out);
  }

  timers(): Promise<StoredTimer[]> {
    this.journal.push('store.timers');
    return Promise.resolve([...this.timers_.values()]);
  }

  meta(): Promise<Record<string, string>> {
    this.journal.push('store.meta');
    return Promise.resolve({ ...this.meta_ });
  }

  stage(epoch: number, checkpointId: number, delta: PartitionDelta): Promise<void> {
    this.journal.push(`store.stage(${checkpointId})`);
    if (this.failStage !== undefined) {
      const err = this.failStage;
      this.failStage = undefined;
      return Promise.reject(err);
    }
    this.staged_ = { epoch, id: checkpointId, delta };
    return Promise.resolve();
  }

  promote(epoch: number, checkpointId: number): Promise<void> {
    this.journal.push(`store.promote(${checkpointId})`);
    if (this.staged_?.id === checkpointId) {
      this.apply(this.staged_.delta);
      this.staged_ = undefined;
    }
    return Promise.resolve();
  }

  private apply(delta: PartitionDelta): void {
    for (const [k, a] of delta.addresses) this.addresses.set(k, { states: { ...a.states } });
    for (const [id, t] of delta.timersAdded) this.timers_.set(id, t);
    for (const id of delta.timersRemoved) this.timers_.delete(id);
    if (delta.meta !== undefined) this.meta_ = { ...delta.meta };
  }
}
