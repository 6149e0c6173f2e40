// The co-partitioned assignment: partition p of every topic goes to the same process in every
// group, whatever member ids the broker gave; and the `id` partitioning puts an id on the internal
// partition whose number modulo the ingress count is the partition a Kafka producer chose for it.
import { describe, expect, it } from 'vitest';
import { Partitioners } from 'kafkajs';
import { coPartition } from '../../src/log/kafka/co-partition-assignor.js';
import { partitionOf } from '../../src/core/address.js';

/** identity → topic → partitions, from an assignment keyed by member id. */
function byIdentity(
  members: { memberId: string; identity: string }[],
  assignment: Map<string, Record<string, number[]>>,
): Map<string, Record<string, number[]>> {
  return new Map(members.map((m) => [m.identity, assignment.get(m.memberId)!]));
}

describe('co-partitioned assignment', () => {
  it('gives partition p of every group and topic to the same process, whatever the member ids', () => {
    const processes = ['pod-b', 'pod-a', 'pod-c'];
    // Member ids are the broker's and differ per group, in another order than the identities.
    const internalMembers = processes.map((identity, i) => ({ memberId: `internal-${9 - i}`, identity }));
    const ingressMembers = processes.map((identity, i) => ({ memberId: `ingress-${i}`, identity }));
    const internal = byIdentity(
      internalMembers,
      coPartition(internalMembers, [{ topic: 'internal', partitions: [5, 0, 1, 2, 3, 4, 6, 7, 8] }]),
    );
    const ingress = byIdentity(
      ingressMembers,
      coPartition(ingressMembers, [{ topic: 'orders', partitions: [0, 1, 2, 3, 4, 5, 6, 7, 8] }]),
    );
    for (const identity of processes) {
      expect(internal.get(identity)!.internal).toEqual(ingress.get(identity)!.orders);
      expect(internal.get(identity)!.internal).toHaveLength(3);
    }
    // Ranked by identity: pod-a first.
    expect(internal.get('pod-a')!.internal).toEqual([0, 3, 6]);
  });

  it('with a member count dividing the ingress count, internal partition q goes with ingress partition q mod n', () => {
    const members = [
      { memberId: 'm2', identity: 'p1' },
      { memberId: 'm1', identity: 'p2' },
    ];
    const a = byIdentity(
      members,
      coPartition(members, [
        { topic: 'internal', partitions: Array.from({ length: 32 }, (_, i) => i) },
        { topic: 'in', partitions: Array.from({ length: 8 }, (_, i) => i) },
      ]),
    );
    for (const identity of ['p1', 'p2']) {
      const { internal, in: ingress } = a.get(identity)!;
      expect(internal).toHaveLength(16);
      expect(internal!.every((q) => ingress!.includes(q % 8))).toBe(true);
    }
  });

  it('a member without assignments still gets an (empty) one; no members, none', () => {
    const members = [
      { memberId: 'a', identity: 'x' },
      { memberId: 'b', identity: 'y' },
      { memberId: 'c', identity: 'z' },
    ];
    const a = coPartition(members, [{ topic: 't', partitions: [0] }]);
    expect(a.get('a')).toEqual({ t: [0] });
    expect(a.get('b')).toEqual({});
    expect(a.get('c')).toEqual({});
    expect(coPartition([], [{ topic: 't', partitions: [0, 1] }]).size).toBe(0);
  });
});

describe('id partitioning', () => {
  it("puts an id on the internal partition congruent to the one Kafka's default producer partitioner picks for it", () => {
    const kafkaPartitioner = Partitioners.DefaultPartitioner();
    const ingressPartitions = 8;
    const metadata = {
      partitionMetadata: Array.from({ length: ingressPartitions }, (_, i) => ({
        partitionId: i,
        leader: 0,
        partitionErrorCode: 0,
        replicas: [0],
        isr: [0],
      })),
      topic: 'orders',
    };
    for (let i = 0; i < 500; i++) {
      const id = `customer-${i}-ü`;
      const ingress = kafkaPartitioner({ ...metadata, message: { key: id, value: 'v' } });
      const target = { namespace: 'shop', type: 'cart', id };
      expect(partitionOf(target, 32, 'id') % ingressPartitions).toBe(ingress);
      expect(partitionOf({ ...target, type: 'other' }, 32, 'id')).toBe(partitionOf(target, 32, 'id'));
    }
  });

  it('the address partitioning hashes the whole address', () => {
    const spread = new Set<number>();
    for (const type of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']) {
      spread.add(partitionOf({ namespace: 'ns', type, id: 'same' }, 32, 'address'));
    }
    expect(spread.size).toBeGreaterThan(1);
  });
});
