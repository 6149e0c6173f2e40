// The Kafka ingress partitions of a process share one bound on the records they hold in memory:
// a partition that receives records while the others hold the budget pauses its consumer, and
// resumes once they gave it back.
import { describe, expect, it } from 'vitest';
import { waitUntil } from '@continuum/test-infra/wait-until';
import { ProcessBudget } from '../../src/core/process-budget.js';
import type {
  IngressSource,
  SourceGroupListener,
  SourcePartition,
  TopicPartition,
} from '../../src/ingress/source.js';
import { KafkaIngress } from '../../src/ingress/kafka-ingress.js';
import type { LogRecord, OutRecord, RecordSink } from '../../src/log/log.js';
import { silentLogger } from '../../src/logger.js';
import { parseModule } from '../../src/module/index.js';

/** An ingress partition whose commits wait until the test lets them through. */
class FakePartition implements SourcePartition {
  paused = false;
  sink: RecordSink | undefined;
  commits: { records: number; next: number; done: () => void }[] = [];
  holdCommits = true;
  constructor(readonly tp: TopicPartition) {}
  fence(): Promise<void> {
    return Promise.resolve();
  }
  committed(): Promise<number | undefined> {
    return Promise.resolve(0);
  }
  start(_offset: number, sink: RecordSink): void {
    this.sink = sink;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  commit(records: readonly OutRecord[], nextOffset: number): Promise<void> {
    if (!this.holdCommits) return Promise.resolve();
    return new Promise((resolve) =>
      this.commits.push({ records: records.length, next: nextOffset, done: resolve }),
    );
  }
  /** Lets every held commit through, and the ones to come. */
  release(): void {
    this.holdCommits = false;
    for (const c of this.commits.splice(0)) c.done();
  }
  deliver(from: number, n: number): void {
    const records: LogRecord[] = Array.from({ length: n }, (_, i) => ({
      topic: this.tp.topic,
      partition: this.tp.partition,
      offset: from + i,
      key: `k${from + i}`,
      value: new TextEncoder().encode(`"e${from + i}"`),
      headers: {},
      timestamp: 1,
    }));
    this.sink!(records);
  }
}

function fakeSource(partitions: FakePartition[]): IngressSource {
  return {
    group: () => ({
      start: async (listener: SourceGroupListener) => {
        for (const p of partitions) await listener.assigned(p);
      },
      stop: () => Promise.resolve(),
      abandon: () => Promise.resolve(),
      reacquire: () => undefined,
    }),
    partitionCounts: (topics: readonly string[]) =>
      Promise.resolve(topics.map((topic) => ({ topic, partitions: 2 }))),
    offsets: () => Promise.resolve([]),
    offsetsAt: () => Promise.resolve([]),
    endOffset: () => Promise.resolve(0),
    explain: (_what: string, err: unknown) => (err instanceof Error ? err : new Error(String(err))),
  } as unknown as IngressSource;
}

const module = parseModule(
  [
    'kind: io.statefun.endpoints.v2/http',
    'spec: {functions: q/*, urlPathTemplate: "http://127.0.0.1:9/{function.name}"}',
    '---',
    'kind: io.statefun.kafka.v1/ingress',
    'spec:',
    '  id: q/in',
    '  address: 127.0.0.1:9',
    '  startupPosition: {type: earliest}',
    '  topics:',
    '    - topic: input',
    '      valueType: q/Text',
    '      targets: [q/fn]',
  ].join('\n'),
  'ingress-queue-budget.yaml',
);

describe('the process queue budget of the Kafka ingresses', () => {
  it('a partition receiving records while another holds the budget pauses, and resumes once it is given back', async () => {
    const a = new FakePartition({ topic: 'input', partition: 0 });
    const b = new FakePartition({ topic: 'input', partition: 1 });
    b.holdCommits = false;
    const queueBudget = new ProcessBudget('CONTINUUM_INGRESS_MAX_QUEUED_RECORDS', 50);
    const ingress = new KafkaIngress({
      ingress: module.kafkaIngresses[0]!,
      source: fakeSource([a, b]),
      internalTopic: 'internal',
      partitions: 2,
      partitioning: 'address',
      deadLetterTopic: 'dlq',
      runtimeGroupId: 'g',
      logger: silentLogger,
      // Far above what this test sends: only the process budget can pause a partition.
      maxQueued: 10_000,
      maxBatch: 10,
      queueBudget,
    });
    await ingress.start();
    // A takes 10 records into a commit that waits; all 60 are still in memory: the budget is full.
    a.deliver(0, 60);
    await waitUntil(() => a.commits.length === 1, { timeoutMs: 5_000, what: "A's first commit" });
    expect(queueBudget.inUse).toBe(60);
    expect(a.paused).toBe(true);
    // B receives only 5, far below its own bound, and still pauses: the process holds enough.
    b.deliver(0, 5);
    expect(b.paused).toBe(true);
    // B moves what it has; it stays paused while A holds the budget.
    await waitUntil(() => queueBudget.inUse === 60, { timeoutMs: 5_000, what: "B's records moved" });
    expect(b.paused).toBe(true);
    // A's commits go through: its queue drains, the budget falls to half, B resumes.
    a.release();
    await waitUntil(() => !b.paused, { timeoutMs: 5_000, what: 'B resumed' });
    await waitUntil(() => queueBudget.inUse === 0, { timeoutMs: 5_000, what: "A's queue moved" });
    expect(a.paused).toBe(false);
    expect(ingress.stats.moved).toBe(65);
    await ingress.stop();
  });
});
