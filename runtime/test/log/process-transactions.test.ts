// How the process's shared transactions treat failures, on a scripted stand-in for the kafkajs
// producer (the behaviour against the real broker is in test/integration): a retriable broker
// error before the commit request is retried in place instead of failing the parts, an error of
// the commit request itself (outcome unknown) fails every part and is never retried, and parts
// that arrive while a transaction runs share the next one.
import type { Kafka } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { ProcessTransactions, type TxnPart } from '../../src/log/kafka/process-transactions.js';
import { silentLogger } from '../../src/logger.js';

type Step = 'sendBatch' | 'sendOffsets' | 'commit';

/**
 * Producers whose steps fail as scripted; they record the transactions that committed (their
 * record counts, and the transactional ids of the producers that committed them).
 */
function scriptedKafka(
  failures: { step: Step; type: string }[],
  onOffsets?: () => void,
): { kafka: Kafka; committed: number[]; committedBy: string[]; resume: () => void } {
  const committed: number[] = [];
  const committedBy: string[] = [];
  const hung: (() => void)[] = [];
  const fail = (step: Step): Promise<void> => {
    const i = failures.findIndex((f) => f.step === step);
    if (i < 0) return Promise.resolve();
    const [f] = failures.splice(i, 1);
    // The client never answers, until the test resumes it.
    if (f!.type === 'HANG') return new Promise<void>((resolve) => void hung.push(resolve));
    return Promise.reject(Object.assign(new Error(`${f!.type} in ${step}`), { type: f!.type }));
  };
  const producer = (transactionalId: string) => ({
    connect: () => Promise.resolve(),
    disconnect: () => Promise.resolve(),
    transaction: () => {
      let records = 0;
      let active = true;
      return Promise.resolve({
        sendBatch: async (b: { topicMessages: { messages: unknown[] }[] }) => {
          await fail('sendBatch');
          records += b.topicMessages.reduce((n, t) => n + t.messages.length, 0);
        },
        sendOffsets: () => {
          onOffsets?.();
          return fail('sendOffsets');
        },
        commit: async () => {
          await fail('commit');
          active = false;
          committed.push(records);
          committedBy.push(transactionalId);
        },
        abort: () => {
          active = false;
          return Promise.resolve();
        },
        isActive: () => active,
      });
    },
  });
  return {
    kafka: {
      producer: ({ transactionalId }: { transactionalId: string }) => producer(transactionalId),
    } as unknown as Kafka,
    committed,
    committedBy,
    resume: () => {
      for (const r of hung.splice(0)) r();
    },
  };
}

const part = (n: number): TxnPart => ({
  records: Array.from({ length: n }, () => ({
    topic: 't',
    partition: 0,
    key: 'k',
    value: new Uint8Array(1),
  })),
  offsets: [{ groupId: 'g', topic: 'in', partition: 0, offset: 1, metadata: null }],
});

describe('process transactions on failures', () => {
  it('retries CONCURRENT_TRANSACTIONS in place: the part commits, nothing fails', async () => {
    const { kafka, committed } = scriptedKafka([
      { step: 'sendBatch', type: 'CONCURRENT_TRANSACTIONS' },
      { step: 'sendOffsets', type: 'CONCURRENT_TRANSACTIONS' },
    ]);
    const txns = new ProcessTransactions({ kafka, logger: silentLogger, idPrefix: 'x' });
    await txns.commit(part(3));
    expect(committed).toEqual([3]);
    expect(txns.stats).toMatchObject({ transactions: 1, retried: 2 });
    await txns.close();
  });

  it('gives up an attempt the client never ends: its parts fail, the next part commits, the resumed attempt never commits', async () => {
    const { kafka, committed, resume } = scriptedKafka([{ step: 'sendOffsets', type: 'HANG' }]);
    const txns = new ProcessTransactions({
      kafka,
      logger: silentLogger,
      idPrefix: 'x',
      lanes: 1,
      lingerMs: 0,
      attemptTimeoutMs: 100,
    });
    await expect(txns.commit(part(2))).rejects.toThrow(/no end within 100 ms/u);
    await txns.commit(part(3));
    expect(committed).toEqual([3]);
    // The client answers the hung request after all: that attempt must not commit now.
    resume();
    await new Promise((r) => setTimeout(r, 20));
    expect(committed).toEqual([3]);
    await txns.close();
  });

  it('fails every part when the commit request itself fails, and does not send it again', async () => {
    const { kafka, committed } = scriptedKafka([{ step: 'commit', type: 'REQUEST_TIMED_OUT' }]);
    const txns = new ProcessTransactions({ kafka, logger: silentLogger, idPrefix: 'x' });
    await expect(txns.commit(part(1))).rejects.toMatchObject({ code: 'KAFKA_UNAVAILABLE' });
    expect(committed).toEqual([]);
    expect(txns.stats.retried).toBe(0);
    // The next part goes through a fresh producer.
    await txns.commit(part(2));
    expect(committed).toEqual([2]);
    await txns.close();
  });

  it('fails the parts after a non-retriable error before the commit', async () => {
    const { kafka } = scriptedKafka([{ step: 'sendBatch', type: 'INVALID_PRODUCER_EPOCH' }]);
    const txns = new ProcessTransactions({ kafka, logger: silentLogger, idPrefix: 'x' });
    await expect(txns.commit(part(1))).rejects.toMatchObject({ code: 'FENCED' });
    await txns.close();
  });

  it('puts the parts that arrive while a transaction runs into the next one together', async () => {
    const { kafka, committed } = scriptedKafka([]);
    const txns = new ProcessTransactions({ kafka, logger: silentLogger, idPrefix: 'x', lanes: 1 });
    await Promise.all([txns.commit(part(1)), txns.commit(part(2)), txns.commit(part(3))]);
    // The first starts alone at once; the two queued behind it share the second transaction.
    expect(committed).toEqual([1, 5]);
    await txns.close();
  });

  it('lets an urgent part (a reply someone waits for) start its transaction without the linger', async () => {
    const { kafka, committed } = scriptedKafka([]);
    const txns = new ProcessTransactions({
      kafka,
      logger: silentLogger,
      idPrefix: 'x',
      lanes: 1,
      lingerMs: 60_000,
    });
    await txns.commit(part(1)); // starts at once: nothing ran before it
    // Within the linger: a plain part waits for it, an urgent one starts the transaction now and
    // takes the waiting part along.
    const plain = txns.commit(part(2));
    let plainDone = false;
    void plain.then(() => (plainDone = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(plainDone).toBe(false);
    await txns.commit({ ...part(3), urgent: true });
    await plain;
    expect(committed).toEqual([1, 5]);
    await txns.close();
  });

  it('lets urgent parts that arrive while a transaction runs share the next one, not take the idle lane each', async () => {
    // The broker's cost is per transaction: two urgent parts started on the second lane at once
    // would each pay for one. They wait for the running transaction and go together after it.
    const { kafka, committed, resume } = scriptedKafka([{ step: 'sendBatch', type: 'HANG' }]);
    const txns = new ProcessTransactions({
      kafka,
      logger: silentLogger,
      idPrefix: 'x',
      lanes: 2,
      lingerMs: 60_000, // (once the linger is up, waiting parts take the second lane)
    });
    const first = txns.commit({ ...part(1), urgent: true });
    await new Promise((r) => setTimeout(r, 20));
    const second = txns.commit({ ...part(2), urgent: true });
    const third = txns.commit({ ...part(3), urgent: true });
    await new Promise((r) => setTimeout(r, 50));
    expect(committed).toEqual([]); // the second lane stayed idle
    resume();
    await Promise.all([first, second, third]);
    expect(committed).toEqual([1, 5]);
    await txns.close();
  });

  it('starts each transaction on the lane that has been idle longest, not on the one that just committed', async () => {
    // The coordinator still writes the markers of a lane's last transaction for a few ms after
    // its commit; the lane's next transaction would meet CONCURRENT_TRANSACTIONS meanwhile.
    const { kafka, committedBy } = scriptedKafka([]);
    const txns = new ProcessTransactions({
      kafka,
      logger: silentLogger,
      idPrefix: 'x',
      identity: 'p',
      lanes: 2,
    });
    for (let i = 0; i < 4; i++) await txns.commit({ ...part(1), urgent: true });
    expect(committedBy).toEqual(['x.p.0', 'x.p.1', 'x.p.0', 'x.p.1']);
    await txns.close();
  });

  it("sends the offsets while the parts' prepares run, not after them", async () => {
    // A prepare that can only finish once the offsets went out: run one after the other, the
    // commit would never happen.
    let offsetsSent!: () => void;
    const sent = new Promise<void>((r) => (offsetsSent = r));
    const { kafka, committed } = scriptedKafka([], () => offsetsSent());
    const txns = new ProcessTransactions({ kafka, logger: silentLogger, idPrefix: 'x' });
    await txns.commit({ ...part(2), prepare: () => sent });
    expect(committed).toEqual([2]);
    await txns.close();
  });

  it('drops a part whose prepare failed and commits the others without it', async () => {
    const { kafka, committed } = scriptedKafka([]);
    const txns = new ProcessTransactions({ kafka, logger: silentLogger, idPrefix: 'x', lanes: 1 });
    const first = txns.commit(part(1));
    const bad = txns.commit({ ...part(2), prepare: () => Promise.reject(new Error('stage refused')) });
    const good = txns.commit(part(3));
    await first;
    await expect(bad).rejects.toThrow('stage refused');
    await good;
    expect(committed).toEqual([1, 3]);
    expect(txns.stats.dropped).toBe(1);
    await txns.close();
  });
});
