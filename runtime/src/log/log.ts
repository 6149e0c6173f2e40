// The `Log` port: a partitioned, offset-addressed log with transactional append and consume.
// The partition task and the checkpoint logic talk only to this interface; Kafka and the embedded
// in-process log are adapters.

import type { Partitioning } from './partitioner.js';

/** A record as read from the log. `value` null is a tombstone / empty record. */
export interface LogRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  value: Uint8Array | null;
  headers: Readonly<Record<string, string>>;
  /** Milliseconds since the epoch (producer time or broker log-append time). */
  timestamp: number;
}

/** A record to write. Without `partition`, the adapter partitions by key (Kafka's murmur2). */
export interface OutRecord {
  topic: string;
  partition?: number | undefined;
  key: string | null;
  value: Uint8Array | null;
  headers?: Record<string, string> | undefined;
  timestamp?: number | undefined;
}

/**
 * What a committed checkpoint left behind for one internal partition: the next offset to consume
 * and the id of the checkpoint that moved it there. The id resolves a staged state delta
 * (committed iff its checkpoint id <= this one), which the offset alone cannot do when two
 * checkpoints end at the same offset.
 */
export interface CommittedPosition {
  offset: number;
  checkpointId: number;
}

export type RecordSink = (records: readonly LogRecord[]) => void;

/** How a commit should be paced. */
export interface CommitOptions {
  /**
   * Someone waits for this commit (a request for its reply): commit as soon as a transaction can
   * start, without waiting out the commit linger that batches commits into fewer transactions.
   */
  urgent?: boolean | undefined;
}

/** One partition of the internal topic while this process owns it. */
export interface OwnedPartition {
  readonly partition: number;
  /**
   * Fences every earlier owner: after this resolves, an older owner's open transaction is
   * aborted (or its commit has completed) and none of its future commits can succeed.
   */
  fence(): Promise<void>;
  /** The committed position. Call only after `fence()` (an earlier read may be stale). */
  committed(): Promise<CommittedPosition>;
  /**
   * Reads committed records from `offset` on and resolves with the first decision `decide`
   * returns (undefined = read on). Recovery uses it to find a checkpoint's marker record when the
   * committed position read from the log may be stale; it decides at its own fence record at the
   * latest. Call after `fence()` and before `start()`.
   */
  scanFor(offset: number, decide: (record: LogRecord) => boolean | undefined): Promise<boolean>;
  /**
   * Appends records in a transaction of this owner (fenced like `commit`) without moving the
   * committed position.
   */
  publish(records: readonly OutRecord[]): Promise<void>;
  /** Starts delivering records from `offset` to `sink`, in offset order. Called once. */
  start(offset: number, sink: RecordSink): void;
  /** Stops delivery until `resume()`; records already handed over stay handed over. */
  pause(): void;
  resume(): void;
  /**
   * Atomically appends `records` (to any topic and partition) and moves this partition's
   * committed position. Either all of it becomes visible to read-committed readers or none.
   * `prepare` (staging the checkpoint's state) runs after the records are written and before
   * they commit; when it rejects nothing commits and `commit` rejects with its error. A record
   * written before `prepare` resolved lies in the partition before anything a later owner writes,
   * which is what lets that owner decide the checkpoint by its marker. Rejects with a `FENCED`
   * ContinuumError when a newer owner exists.
   */
  commit(
    records: readonly OutRecord[],
    position: CommittedPosition,
    prepare?: () => Promise<void>,
    options?: CommitOptions,
  ): Promise<void>;
}

export interface AssignmentListener {
  /** The partition is ours; recover and start. Rejecting releases it again. */
  assigned(owned: OwnedPartition): Promise<void>;
  /** The partition is being taken away; finish or abandon the open checkpoint, then resolve. */
  revoked(partition: number): Promise<void>;
}

/** A subscription to a topic outside the internal log (egress topics, dead letters). */
export interface TopicReader {
  /** Records committed so far from `offset`, at most `max` of them. */
  read(partition: number, offset: number, max: number): Promise<readonly LogRecord[]>;
  partitions(): Promise<number>;
  /**
   * Resolves true once `read` serves every record written to the partition before the call,
   * false when that takes longer than `timeoutMs`. Absent where reads are never behind.
   */
  caughtUp?(partition: number, timeoutMs: number): Promise<boolean>;
}

export interface Log {
  /** Name of the internal message topic. */
  readonly internalTopic: string;
  /** Number of partitions of the internal topic (fixed once created). */
  readonly partitions: number;
  /** How an address picks its internal partition (fixed for the life of a deployment). */
  readonly partitioning: Partitioning;
  /** Joins the group that owns the internal partitions; the listener learns which are ours. */
  join(listener: AssignmentListener): Promise<void>;
  /**
   * A fresh handle for a partition this process still owns, after its task failed (store down,
   * a commit error): the new handle's `fence()` fences the old one. Undefined when the partition
   * is no longer ours.
   */
  reacquire(partition: number): OwnedPartition | undefined;
  /** Leaves the group: revokes every owned partition through the listener, then resolves. */
  leave(): Promise<void>;
  /**
   * End offsets of internal partitions: for each of `partitions`, the offset just past what a
   * read-committed reader can read (an open transaction holds it back until it ends; Kafka's
   * transaction markers count). Consumer lag is this minus the committed position.
   */
  endOffsets(partitions: readonly number[]): Promise<ReadonlyMap<number, number>>;
  /** Durable, non-transactional append (ingress). Resolves once the records are stored. */
  append(records: readonly OutRecord[]): Promise<void>;
  /** Reads committed records of any topic (playground egress, admin, tests). */
  reader(topic: string): TopicReader;
  close(): Promise<void>;
}
