// Processes starting together race to create the internal topic; the losers must wait for its
// leaders instead of failing their start on the broker's retriable "not there yet" errors.
import { describe, expect, it } from 'vitest';
import { topicMetadataOnceLed } from '../../src/log/kafka/kafka-log.js';

type Meta = { topics: { name: string; partitions: { partitionId: number; leader: number }[] }[] };
const led = (leader: number): Meta => ({
  topics: [{ name: 't', partitions: [0, 1].map((partitionId) => ({ partitionId, leader })) }],
});
const retriable = Object.assign(new Error('This server does not host this topic-partition'), {
  retriable: true,
});

function adminAnswering(...answers: (Meta | Error)[]) {
  let calls = 0;
  return {
    get calls() {
      return calls;
    },
    fetchTopicMetadata: () => {
      const a = answers[Math.min(calls++, answers.length - 1)]!;
      return a instanceof Error ? Promise.reject(a) : Promise.resolve(a);
    },
  };
}

const noSleep = (): Promise<void> => Promise.resolve();

describe('internal topic metadata', () => {
  it('waits through retriable errors and leaderless partitions until every partition has a leader', async () => {
    const admin = adminAnswering(retriable, led(-1), retriable, led(1));
    const meta = await topicMetadataOnceLed(admin as never, 't', 10_000, noSleep);
    expect(meta.topics[0]!.partitions.every((p) => p.leader === 1)).toBe(true);
    expect(admin.calls).toBe(4);
  });

  it('fails at once on an error that is not retriable, and after the timeout on a retriable one', async () => {
    const fatal = Object.assign(new Error('not authorized'), { retriable: false });
    await expect(topicMetadataOnceLed(adminAnswering(fatal) as never, 't', 10_000, noSleep)).rejects.toBe(
      fatal,
    );
    await expect(topicMetadataOnceLed(adminAnswering(retriable) as never, 't', 0, noSleep)).rejects.toBe(
      retriable,
    );
  });
});
