// A partition task's configuration: the defaults overlaid with what the caller set, validated once
// and frozen, so a bad limit fails at start naming the field instead of misbehaving under load.
import { z } from 'zod';
import { ContinuumError } from '../errors.js';
import { defaultTaskConfig, type TaskConfig } from './partition-task.js';

const count = (min: number) => z.number().int(`must be an integer`).min(min, `must be at least ${min}`);
const topic = z.string().min(1, 'must be a non-empty topic name');

const schema = z
  .object({
    checkpointIntervalMs: count(0),
    checkpointMaxRecords: count(1),
    maxOutstandingRecords: count(1),
    stateCacheAddresses: count(1),
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
