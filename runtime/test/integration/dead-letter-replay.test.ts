// A dead-letter replay is recorded in the dead-letter topic on the real Kafka broker: a process
// that starts afterwards (a fresh log client, nothing in memory) refuses to replay it again.
import '../../src/log/kafka/kafkajs-patch.js';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { DeadLetterError, DeadLetters } from '../../src/admin/dead-letters.js';
import { Header } from '../../src/core/envelope.js';
import { KafkaLog } from '../../src/log/kafka/kafka-log.js';
import { createLogger, silentLogger } from '../../src/logger.js';
import type { Runtime } from '../../src/runtime.js';
import { EmbeddedStateStore } from '../../src/state/embedded-state-store.js';
import { counter, intValue, runtimeOn } from '../core/harness.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

const brokers = inject('kafkaBrokers').split(',');
const testLogger = process.env.TEST_LOG === '1' ? createLogger({ level: 'debug' }) : silentLogger;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('dead-letter replay on Kafka', () => {
  it('a replay recorded by one process is refused with its time by the next, unless forced', async () => {
    const id = randomUUID().slice(0, 8);
    const dlq = `dlq-${id}`;
    const counted: number[] = [];

    // Each process gets its own internal topic and group: only the dead-letter topic is shared,
    // so nothing but what it holds can tell the second process about the first replay.
    const start = async (process: number): Promise<{ runtime: Runtime; letters: DeadLetters }> => {
      const internalTopic = `internal-${id}-${process}`;
      const log = new KafkaLog({
        connection: { brokers },
        logger: testLogger,
        groupId: `g-${id}-${process}`,
        internalTopic,
        partitions: 2,
        ensureTopics: [{ topic: dlq, partitions: 2 }],
        sessionTimeoutMs: 6000,
        heartbeatIntervalMs: 500,
      });
      const counting = counter();
      const { runtime } = await runtimeOn({
        log,
        store: new EmbeddedStateStore(),
        handlers: {
          'ex/counter': async (req, call) => {
            // The first call only learns which state the function needs; count the real ones.
            if (req.invocation?.state.some((s) => s.stateName === 'n') === true)
              counted.push(req.invocation.invocations.length);
            return counting(req, call);
          },
        },
        task: { deadLetterTopic: dlq },
        logger: testLogger,
      });
      cleanups.push(() => runtime.stop());
      const letters = new DeadLetters({ log: runtime.messageLog, topic: dlq, internalTopic });
      return { runtime, letters };
    };

    const first = await start(1);
    await first.runtime.messageLog.append([
      {
        topic: dlq,
        partition: 1,
        key: 'ex/counter/a',
        value: intValue(7).value,
        headers: {
          [Header.code]: 'FUNCTION_CALL_FAILED',
          [Header.reason]: 'HTTP 500 from the endpoint',
          [Header.target]: 'ex/counter/a',
          [Header.typename]: 'io.statefun.types/int',
          [Header.failedAt]: new Date().toISOString(),
        },
      },
    ]);
    let letterId = '';
    await waitUntil(
      async () => {
        const { items } = await first.letters.list({ limit: 10 });
        letterId = items[0]?.id ?? '';
        return letterId !== '';
      },
      { timeoutMs: 30_000, what: 'the dead letter' },
    );
    const replayed = await first.letters.replay(first.runtime, letterId);
    await waitUntil(() => counted.length === 1, {
      timeoutMs: 90_000,
      what: 'the replayed message at the function',
    });
    await first.runtime.stop();

    const second = await start(2);
    const refused = await second.letters.replay(second.runtime, letterId).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(DeadLetterError);
    expect(refused).toMatchObject({
      code: 'DEAD_LETTER_ALREADY_REPLAYED',
      previous: { at: replayed.replayedAt, target: 'ex/counter/a' },
    });
    expect((refused as Error).message).toContain(`already replayed at ${replayed.replayedAt}`);
    const { items, total } = await second.letters.list({ limit: 10 });
    expect(total).toBe(1);
    expect(items).toEqual([
      expect.objectContaining({ id: letterId, replayed: true, replayedAt: replayed.replayedAt }),
    ]);

    const forced = await second.letters.replay(second.runtime, letterId, {}, { force: true });
    expect(forced.previous?.at).toBe(replayed.replayedAt);
    await waitUntil(() => counted.length === 2, {
      timeoutMs: 90_000,
      what: 'the forced replay at the function',
    });
  }, 180_000);
});
