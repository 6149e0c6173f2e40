// The `IngressSource` port: what the Kafka ingress needs of the broker. Consumer groups over the
// ingress topics whose partitions move records into the internal log in the process's
// transactions, and the topics' partition counts and offsets. The Kafka log provides the adapter
// (log/kafka/kafka-ingress-source.ts).
import type { OutRecord, RecordSink } from '../log/log.js';
import type { Logger } from '../logger.js';

/** A partition of an ingress topic. */
export interface TopicPartition {
  topic: string;
  partition: number;
}

/** One ingress partition while this process owns it in its group. */
export interface SourcePartition {
  readonly tp: TopicPartition;
  /** Resolves once the partition may be read; rejects when it was released meanwhile. */
  fence(): Promise<void>;
  /** The group's committed offset: where to go on; undefined when none was committed. */
  committed(): Promise<number | undefined>;
  /** Starts delivering records from `offset` to `sink`, in offset order. Called once. */
  start(offset: number, sink: RecordSink): void;
  /** Stops delivery until `resume()`. */
  pause(): void;
  resume(): void;
  /**
   * Writes `records` and moves the group's offset of this partition to `nextOffset`, both in one
   * transaction of the process: all of it becomes visible or none. Rejects with the adapter's
   * own error; {@link IngressSource.explain} says what it means.
   */
  commit(records: readonly OutRecord[], nextOffset: number): Promise<void>;
}

export interface SourceGroupListener {
  /** The partition is ours; start moving it. */
  assigned(owned: SourcePartition): Promise<void>;
  /** The partition is being taken away; resolve once its mover has stopped. */
  revoked(tp: TopicPartition): Promise<void>;
}

/** A consumer group over some ingress topics. */
export interface SourceGroup {
  start(listener: SourceGroupListener): Promise<void>;
  /** Revokes every partition through the listener, then leaves the group. */
  stop(): Promise<void>;
  /** Leaves the group at once, without revoking through the listener (a stuck stop). */
  abandon(): Promise<void>;
  /** A fresh handle for a partition still assigned here after its mover failed; else undefined. */
  reacquire(tp: TopicPartition): SourcePartition | undefined;
}

export interface SourceGroupOptions {
  groupId: string;
  topics: string[];
  logger: Logger;
  sessionTimeoutMs?: number | undefined;
  heartbeatIntervalMs?: number | undefined;
  fetchMinBytes?: number | undefined;
  fetchMaxWaitMs?: number | undefined;
  /**
   * Most bytes one fetch brings, all partitions together (each partition at most a quarter of
   * it): a fetch is taken whole before a paused partition stops, so this bounds the overshoot.
   */
  fetchMaxBytes?: number | undefined;
}

/** The offsets of one partition: the first retained one and the next one to be written. */
export interface PartitionOffsets {
  partition: number;
  low: number;
  high: number;
}

export interface IngressSource {
  /** A consumer group over `topics`, committing through the process's transactions. */
  group(opts: SourceGroupOptions): SourceGroup;
  /** The partition count of each of `topics`. */
  partitionCounts(topics: readonly string[]): Promise<{ topic: string; partitions: number }[]>;
  /** The low and high offsets of every partition of `topic`. */
  offsets(topic: string): Promise<PartitionOffsets[]>;
  /** Per partition of `topic`, the first offset whose timestamp is at or after `epochMs` (-1: none). */
  offsetsAt(topic: string, epochMs: number): Promise<{ partition: number; offset: number }[]>;
  /** The error to report for a failed `what` (names the broker's error type where it has one). */
  explain(what: string, err: unknown): Error;
}
