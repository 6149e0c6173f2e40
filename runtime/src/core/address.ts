// Function addresses as the runtime keys them: the internal-log record key, the state key and the
// partition an address belongs to. Partitioning is fixed for the life of a deployment.
import type { Address } from '@continuum/sdk/protocol';
import { ContinuumError } from '../errors.js';

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

/**
 * Kafka's murmur2 (the Java client's default partitioner), so that a key lands on the same
 * partition whether our runtime or a Kafka tool computed it.
 */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  const seed = 0x9747b28c;
  const m = 0x5bd1e995;
  const r = 24;
  let h = (seed ^ length) | 0;
  const length4 = length >> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k =
      (data[i4]! & 0xff) |
      ((data[i4 + 1]! & 0xff) << 8) |
      ((data[i4 + 2]! & 0xff) << 16) |
      ((data[i4 + 3]! & 0xff) << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const rest = length & 3;
  const base = length & ~3;
  if (rest === 3) h ^= (data[base + 2]! & 0xff) << 16;
  if (rest >= 2) h ^= (data[base + 1]! & 0xff) << 8;
  if (rest >= 1) {
    h ^= data[base]! & 0xff;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

const encoder = new TextEncoder();

/** Partition of a record key among `partitions`, as Kafka's default partitioner computes it. */
export function partitionForKey(key: string, partitions: number): number {
  return (murmur2(encoder.encode(key)) & 0x7fffffff) % partitions;
}

export function partitionOf(a: Address, partitions: number): number {
  return partitionForKey(addressKey(a), partitions);
}
