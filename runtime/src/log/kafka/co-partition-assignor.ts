// Co-partitioned group assignment: partition `p` of every topic goes to the same runtime process,
// in the internal group and in every ingress group alike. With the `id` partitioning
// (partitioner.ts) an ingress record keyed by its target id, on ingress partition `i`, targets an
// internal partition `q` with `q mod n = i` (n = the ingress topic's partition count, which divides
// the internal count); when the process that reads ingress partition `i` also owns `q`, it hands
// the record to `q`'s task instead of writing it to the internal topic and reading it back
// (core/ingress-handoff.ts). Without this, kafkajs's round-robin assignor orders members by their
// broker-given member ids, which differ from group to group, and with two processes half the
// records would cross the broker twice.
//
// Each member announces its process identity in its subscription's user data; the group leader
// ranks the members by identity and gives partition `p` of each topic to the member of rank
// `p mod members`. Two groups with the same processes therefore agree on every partition whose
// number modulo the member count is the same — always when the topics have equal partition counts,
// and when the member count divides the smaller one otherwise (2 processes, 8 and 32 partitions).
// Members of an older release (round-robin only) make the group fall back to round-robin, which
// every member still lists second.
import { AssignerProtocol, PartitionAssigners, type PartitionAssigner } from 'kafkajs';

export const coPartitionAssignorName = 'ContinuumCoPartition';
const version = 1;

export interface RankedMember {
  memberId: string;
  /** The process identity the member announced (empty when it announced none). */
  identity: string;
}

/**
 * The assignment: member id → topic → partitions. Pure: the same members and partitions give the
 * same answer in every group, whatever the member ids.
 */
export function coPartition(
  members: readonly RankedMember[],
  topics: readonly { topic: string; partitions: readonly number[] }[],
): Map<string, Record<string, number[]>> {
  const ranked = [...members].sort((a, b) =>
    a.identity === b.identity ? compare(a.memberId, b.memberId) : compare(a.identity, b.identity),
  );
  const out = new Map<string, Record<string, number[]>>(ranked.map((m) => [m.memberId, {}]));
  if (ranked.length === 0) return out;
  for (const { topic, partitions } of topics) {
    for (const p of [...partitions].sort((a, b) => a - b)) {
      const owner = out.get(ranked[p % ranked.length]!.memberId)!;
      (owner[topic] ??= []).push(p);
    }
  }
  return out;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The kafkajs assignors of a member whose process is `identity`: co-partitioned, then round-robin. */
export function coPartitionAssignors(identity: string): PartitionAssigner[] {
  const coPartitioned: PartitionAssigner = ({ cluster }) => ({
    name: coPartitionAssignorName,
    version,
    assign({ members, topics }) {
      const ranked = members.map((m) => ({ memberId: m.memberId, identity: identityOf(m.memberMetadata) }));
      const partitions = topics.map((topic) => ({
        topic,
        partitions: cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId),
      }));
      const assignment = coPartition(ranked, partitions);
      return Promise.resolve(
        [...assignment].map(([memberId, a]) => ({
          memberId,
          memberAssignment: AssignerProtocol.MemberAssignment.encode({
            version,
            assignment: a,
            userData: Buffer.alloc(0),
          }),
        })),
      );
    },
    protocol({ topics }) {
      return {
        name: coPartitionAssignorName,
        metadata: AssignerProtocol.MemberMetadata.encode({
          version,
          topics,
          userData: Buffer.from(identity, 'utf8'),
        }),
      };
    },
  });
  return [coPartitioned, PartitionAssigners.roundRobin];
}

function identityOf(metadata: Buffer): string {
  try {
    const decoded = AssignerProtocol.MemberMetadata.decode(metadata);
    return decoded?.userData?.toString('utf8') ?? '';
  } catch {
    return '';
  }
}
