// Which partition a keyed record without an explicit partition goes to: the hash Kafka's default
// partitioner uses, so every adapter of the `Log` port and every Kafka tool agree.

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

/**
 * How an address picks its internal partition, fixed for the life of a deployment (its state lives
 * per partition):
 * - `id`: Kafka's default partitioner over the id alone. An ingress record keyed by its target id
 *   (the StateFun Kafka ingress rule) then lands on internal partition `p` exactly when a Kafka
 *   producer's default partitioner put it on ingress partition `p mod n` (n = the ingress topic's
 *   partition count, when it divides the internal one), so a process that owns both can hand it
 *   over without a broker crossing (co-partitioning, kafka/co-partition-assignor.ts). Every
 *   function type with the same id shares a partition.
 * - `address`: the hash of the whole `namespace/type/id` (deployments made before `id` existed).
 */
export type Partitioning = 'id' | 'address';

export const partitionings: readonly Partitioning[] = ['id', 'address'];

const encoder = new TextEncoder();
/** Reused for the UTF-8 bytes of keys (one per record: an allocation each was measurable). */
let scratch = new Uint8Array(256);

/** Partition of a record key among `partitions`, as Kafka's default partitioner computes it. */
export function partitionForKey(key: string, partitions: number): number {
  // UTF-8 takes at most 3 bytes per UTF-16 code unit.
  if (key.length * 3 > scratch.length) scratch = new Uint8Array(key.length * 3);
  const { written } = encoder.encodeInto(key, scratch);
  return (murmur2(scratch.subarray(0, written)) & 0x7fffffff) % partitions;
}
