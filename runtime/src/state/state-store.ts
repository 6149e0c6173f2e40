// The `StateStore` port: per-partition committed state, staged checkpoint deltas, owner epochs and
// pending timers. Redis and the embedded file-backed store are adapters; the checkpoint protocol
// (stage → commit the log transaction → promote) is written once against this interface.

/** One persisted value of a function's state. */
export interface StoredValue {
  typename: string;
  value: Uint8Array;
  /** Epoch ms after which the value counts as absent (state expiration); undefined = never. */
  expiresAt?: number | undefined;
}

/** Everything persisted for one address. */
export interface StoredAddress {
  states: Record<string, StoredValue>;
}

/** A pending delayed message (processing time) or event-time timer. */
export interface StoredTimer {
  /** Unique within the partition: sender address key + token. */
  id: string;
  fireAt: number;
  /** Encoded internal-log record to publish when the timer fires. */
  targetKey: string;
  callerKey: string;
  typename: string;
  value: Uint8Array;
  /** True when the sender gave the token (cancellable); false for generated ids. */
  userToken: boolean;
  /** The event time the delivered message carries. */
  eventTime?: number | undefined;
  /**
   * `event-time`: an event-time timer, due once the partition watermark reaches `fireAt`.
   * Undefined: a delayed message, due once the clock reaches `fireAt`.
   */
  kind?: 'event-time' | undefined;
}

/**
 * The new state of an address after a checkpoint: it replaces the stored one whole (the task
 * always holds an address's full state when it changes it). No states = delete the address.
 */
export interface AddressDelta {
  states: Record<string, StoredValue>;
}

export interface PartitionDelta {
  addresses: Map<string, AddressDelta>;
  timersAdded: Map<string, StoredTimer>;
  timersRemoved: Set<string>;
  /**
   * Partition-level metadata, replaced wholesale when present: the offsets completed beyond the
   * committed position (skipped on replay), watermarks and the like.
   */
  meta?: Record<string, string> | undefined;
}

export interface StagedInfo {
  checkpointId: number;
}

/** One partition's store, used only while this process owns the partition. */
export interface PartitionStore {
  readonly partition: number;
  /**
   * Claims the partition: increments its epoch so that every earlier owner's stage and promote
   * fail from now on. Returns the new epoch.
   */
  claim(): Promise<number>;
  /** The staged (not yet promoted) checkpoint, if any. */
  staged(): Promise<StagedInfo | undefined>;
  /**
   * Resolves a leftover staged delta against the committed checkpoint id read from the log:
   * promotes it when its id <= `committedCheckpointId`, discards it otherwise.
   */
  resolve(epoch: number, committedCheckpointId: number): Promise<'promoted' | 'discarded' | 'none'>;
  /** Committed state of addresses (absent keys are missing from the map). */
  get(keys: readonly string[]): Promise<Map<string, StoredAddress>>;
  /** All pending timers of the partition, committed. */
  timers(): Promise<StoredTimer[]>;
  meta(): Promise<Record<string, string>>;
  /** Step a of a checkpoint: stores the delta as staged, fenced by `epoch`. */
  stage(epoch: number, checkpointId: number, delta: PartitionDelta): Promise<void>;
  /** Step c: applies the staged delta with that id. Idempotent; fenced by `epoch`. */
  promote(epoch: number, checkpointId: number): Promise<void>;
}

export interface StateStore {
  partition(p: number): PartitionStore;
  close(): Promise<void>;
}
