// Function addresses as the runtime keys them: the internal-log record key, the state key and the
// partition an address belongs to. Partitioning is fixed for the life of a deployment.
import type { Address } from '@continuum/sdk/protocol';
import { ContinuumError } from '../errors.js';
import { partitionForKey, type Partitioning } from '../log/partitioner.js';

/**
 * `namespace/type/id`. Function types contain exactly one `/` (spec §1.4), so the first two
 * slashes delimit the parts and the id may contain anything, slashes included.
 */
export function addressKey(a: Address): string {
  return `${a.namespace}/${a.type}/${a.id}`;
}

export function functionTypeOf(a: Address): string {
  return `${a.namespace}/${a.type}`;
}

export function parseAddressKey(key: string): Address {
  const first = key.indexOf('/');
  const second = first < 0 ? -1 : key.indexOf('/', first + 1);
  if (first <= 0 || second <= first + 1) {
    throw new ContinuumError(
      'ADDRESS_INVALID',
      `"${key}" is not an address key: expected <namespace>/<type>/<id>`,
    );
  }
  return { namespace: key.slice(0, first), type: key.slice(first + 1, second), id: key.slice(second + 1) };
}

/** Splits a `namespace/name` type name; exactly one `/` with both parts non-empty. */
export function parseTypeName(typename: string): { namespace: string; name: string } {
  const i = typename.indexOf('/');
  if (i <= 0 || i === typename.length - 1 || typename.indexOf('/', i + 1) >= 0) {
    throw new ContinuumError(
      'TYPENAME_INVALID',
      `"${typename}" is not a type name: expected <namespace>/<name> with exactly one "/"`,
    );
  }
  return { namespace: typename.slice(0, i), name: typename.slice(i + 1) };
}

// Key partitioning is the log's (the same hash as Kafka's partitioner); addresses use it too.
export { murmur2, partitionForKey, partitionings, type Partitioning } from '../log/partitioner.js';

export function partitionOf(a: Address, partitions: number, partitioning: Partitioning): number {
  return partitionForKey(partitioning === 'id' ? a.id : addressKey(a), partitions);
}
