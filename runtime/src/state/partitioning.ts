// Which partitioning (log/partitioner.ts) a production deployment uses, kept in Redis next to its
// state: an address's state lives in its partition's keys, so once state exists the partitioning
// can never change. The first process of a new deployment records the configured one (default
// `id`); every later process adopts what is recorded and refuses to start when it was configured
// explicitly with another. A deployment whose state predates the record (partition 0 has an owner
// epoch but nothing is recorded) used `address`, which is then recorded for it.
import type { Redis } from 'ioredis';
import { ContinuumError } from '../errors.js';
import type { Partitioning } from '../log/partitioner.js';
import { partitionings } from '../log/partitioner.js';
import { redisPartitionKeys } from './redis-keys.js';

export interface PartitioningChoice {
  partitioning: Partitioning;
  /** Where it came from: recorded before, recorded now for a new deployment, or for an older one. */
  origin: 'recorded' | 'new' | 'existing-state';
}

/** The Redis key holding a deployment's partitioning. */
export function partitioningKey(keyPrefix: string): string {
  return `${keyPrefix}:{deployment}:partitioning`;
}

/**
 * The deployment's partitioning. `configured` is what the operator asked for (undefined: adopt the
 * recorded one, `fallback` for a new deployment).
 */
export async function resolvePartitioning(
  redis: Redis,
  keyPrefix: string,
  configured: Partitioning | undefined,
  fallback: Partitioning,
): Promise<PartitioningChoice> {
  const key = partitioningKey(keyPrefix);
  const recorded = parse(await redis.get(key), key);
  if (recorded !== undefined)
    return { partitioning: check(recorded, configured, 'recorded'), origin: 'recorded' };
  const older = (await redis.exists(redisPartitionKeys(keyPrefix, 0).epoch)) === 1;
  const chosen: Partitioning = older ? 'address' : (configured ?? fallback);
  if (older) check(chosen, configured, 'existing-state');
  // Two processes of a new deployment may race: the first SET wins and the other adopts it.
  const set = await redis.set(key, chosen, 'NX');
  if (set === null) {
    const winner = parse(await redis.get(key), key) ?? chosen;
    return { partitioning: check(winner, configured, 'recorded'), origin: 'recorded' };
  }
  return { partitioning: chosen, origin: older ? 'existing-state' : 'new' };
}

function parse(value: string | null, key: string): Partitioning | undefined {
  if (value === null) return undefined;
  if ((partitionings as readonly string[]).includes(value)) return value as Partitioning;
  throw new ContinuumError(
    'PARTITIONING_MISMATCH',
    `Redis key ${key} holds "${value}", which is not a partitioning (${partitionings.join(', ')})`,
  );
}

function check(
  actual: Partitioning,
  configured: Partitioning | undefined,
  why: PartitioningChoice['origin'],
): Partitioning {
  if (configured === undefined || configured === actual) return actual;
  const reason =
    why === 'existing-state'
      ? 'its state was written before the partitioning was recorded, with'
      : 'it was created with';
  throw new ContinuumError(
    'PARTITIONING_MISMATCH',
    `CONTINUUM_PARTITIONING=${configured}, but this deployment's state is partitioned by ${actual} (${reason} "${actual}"); ` +
      `addresses would look for their state in other partitions. Unset CONTINUUM_PARTITIONING (or set it to ${actual}).`,
  );
}
