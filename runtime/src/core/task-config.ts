// A partition task's configuration (the defaults overlaid with what the caller set, validated once
// and frozen, so a bad limit fails at start naming the field instead of misbehaving under load),
// its test hooks and its counters.
import { z } from 'zod';
import { ContinuumError } from '../errors.js';
import {
  DEFAULT_REPLIES_TOPIC,
  DEFAULT_REQUEST_MEMORY,
  type RequestMemory,
} from '../request-reply/reply-address.js';

export interface TaskConfig {
  /**
   * A change waits at most this long before its checkpoint starts (0: as soon as the partition's
   * previous checkpoint has ended). Checkpoints happen only when something changed; with the
   * Kafka log the checkpoints of all partitions of a process share transactions, which the log
   * paces (its commit linger), so a short interval costs no transaction per partition.
   */
  checkpointIntervalMs: number;
  /** Checkpoint early once this many records/state changes are buffered. */
  checkpointMaxRecords: number;
  /** Pause consumption while this many records are received but not complete. */
  maxOutstandingRecords: number;
  /** Addresses whose state is kept in memory (idle, committed ones are evicted beyond it). */
  stateCacheAddresses: number;
  /** The same for all partition tasks of the process together (core/process-budget.ts). */
  processStateCacheAddresses: number;
  /** Topic that receives dead letters. */
  deadLetterTopic: string;
  /** How often a function may answer IncompleteInvocationContext for one batch. */
  maxNegotiationRounds: number;
  /** Wait before re-sending a batch the client refused because it was overloaded. */
  overloadBackoffMs: number;
  /** Most delayed messages released in one timer tick. */
  timerBatch: number;
  /**
   * Most pending delayed messages and event-time timers per partition (they are held in memory
   * while the partition is owned). A function that schedules one more gets it dead-lettered with
   * code TIMER_LIMIT_REACHED; nothing else is affected.
   */
  maxPendingTimers: number;
  /** Where messages to a waiting HTTP request (its reply address) are committed. */
  repliesTopic: string;
  /** How many request ids, and for how long, each address remembers (a retry invokes nothing). */
  requestMemory: RequestMemory;
}

export const defaultTaskConfig: TaskConfig = {
  checkpointIntervalMs: 200,
  checkpointMaxRecords: 5000,
  maxOutstandingRecords: 10_000,
  stateCacheAddresses: 10_000,
  processStateCacheAddresses: 20_000,
  deadLetterTopic: 'continuum-dead-letters',
  maxNegotiationRounds: 5,
  overloadBackoffMs: 50,
  timerBatch: 1000,
  maxPendingTimers: 200_000,
  repliesTopic: DEFAULT_REPLIES_TOPIC,
  requestMemory: DEFAULT_REQUEST_MEMORY,
};

/** Points where tests aim crashes; production leaves them unset. */
export interface TaskHooks {
  afterStage?: (partition: number, checkpointId: number) => void | Promise<void>;
  afterCommit?: (partition: number, checkpointId: number) => void | Promise<void>;
}

export interface TaskStats {
  received: number;
  invocations: number;
  batches: number;
  retriedBatches: number;
  /** Batches sent again one message at a time because one message may have failed them. */
  splitBatches: number;
  deadLetters: number;
  checkpoints: number;
  lastCheckpointMs: number;
  skippedOnReplay: number;
  /** Records an ingress moved twice, dropped by source offset. */
  duplicatesDropped: number;
  timersFired: number;
  /** Event-time timers fired. */
  eventTimersFired: number;
  /** Watermark marks read from the log. */
  watermarkMarks: number;
  /** Messages of a waiting request the address had already been invoked for (a retry), dropped. */
  requestsDeduplicated: number;
  /** Requests handed over by an HTTP ingress of this process ahead of their log record. */
  requestsHandedOver: number;
  /** Ingress records handed over by a Kafka ingress of this process instead of read from the log. */
  ingressHandedOver: number;
  /** Barriers taken (an ingress of this process switching to handing records over). */
  barriers: number;
}

/** Every count at zero: a task's stats when it starts. */
export function emptyTaskStats(): TaskStats {
  return {
    received: 0,
    invocations: 0,
    batches: 0,
    retriedBatches: 0,
    splitBatches: 0,
    deadLetters: 0,
    checkpoints: 0,
    lastCheckpointMs: 0,
    skippedOnReplay: 0,
    duplicatesDropped: 0,
    timersFired: 0,
    eventTimersFired: 0,
    watermarkMarks: 0,
    requestsDeduplicated: 0,
    requestsHandedOver: 0,
    ingressHandedOver: 0,
    barriers: 0,
  };
}

const count = (min: number) => z.number().int(`must be an integer`).min(min, `must be at least ${min}`);
const topic = z.string().min(1, 'must be a non-empty topic name');

const schema = z
  .object({
    checkpointIntervalMs: count(0),
    checkpointMaxRecords: count(1),
    maxOutstandingRecords: count(1),
    stateCacheAddresses: count(1),
    processStateCacheAddresses: count(1),
    deadLetterTopic: topic,
    maxNegotiationRounds: count(1),
    overloadBackoffMs: count(0),
    timerBatch: count(1),
    maxPendingTimers: count(1),
    repliesTopic: topic,
    requestMemory: z.object({ retentionMs: count(0), maxIds: count(1) }).strict(),
  })
  .strict();

/**
 * The defaults with `overrides` applied (an `undefined` override keeps the default), validated and
 * deeply frozen. Throws `TASK_CONFIG` naming every field that is wrong.
 */
export function resolveTaskConfig(overrides: Readonly<Partial<TaskConfig>> = {}): Readonly<TaskConfig> {
  const merged: Record<string, unknown> = { ...defaultTaskConfig };
  for (const [key, value] of Object.entries(overrides)) if (value !== undefined) merged[key] = value;
  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) =>
      i.code === 'unrecognized_keys'
        ? `unknown field ${i.keys.map((k) => `"${k}"`).join(', ')}`
        : `${i.path.join('.')} ${i.message}`,
    );
    throw new ContinuumError('TASK_CONFIG', `invalid partition task configuration: ${issues.join('; ')}`);
  }
  const config = parsed.data;
  Object.freeze(config.requestMemory);
  return Object.freeze(config);
}
