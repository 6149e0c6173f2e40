// Barrier tokens of a Kafka ingress are unique across processes and restarts. A task takes the
// first barrier record carrying the token it waits for; when another process (or an earlier run of
// this one) had written the same token into the partition, the lane handed over before the task had
// read the records the lane appended ahead of its own barrier, those arrived after later records of
// the same source and were dropped as repeats: events were lost under process kills.
import { describe, expect, it } from 'vitest';
import { Header } from '../../src/core/envelope.js';
import type { BarrierWaiter, HandOffTarget } from '../../src/core/ingress-handoff.js';
import { KafkaIngress } from '../../src/ingress/kafka-ingress.js';
import type { IngressSource, SourceGroup } from '../../src/ingress/source.js';
import type { OutRecord } from '../../src/log/log.js';
import { silentLogger } from '../../src/logger.js';
import { parseModule } from '../../src/module/index.js';

const module = parseModule(
  [
    'kind: io.statefun.endpoints.v2/http',
    'spec: {functions: ex/*, urlPathTemplate: "http://127.0.0.1:8000/{function.name}"}',
    '---',
    'kind: io.statefun.kafka.v1/ingress',
    'spec: {id: ex/in, address: "127.0.0.1:9092", startupPosition: {type: earliest},',
    '       topics: [{topic: clicks, valueType: io.statefun.types/int, targets: [ex/counter]}]}',
  ].join('\n'),
  'barrier-tokens.yaml',
);

/** An ingress source nobody starts: the lanes are all this test uses. */
const idleSource: IngressSource = {
  group: () => ({}) as SourceGroup,
  partitionCounts: () => Promise.resolve([]),
  offsets: () => Promise.resolve([]),
  offsetsAt: () => Promise.resolve([]),
  explain: (what) => new Error(what),
};

/** The barrier token the first lane of a fresh ingress (a process that just started) writes. */
function firstToken(): string {
  const task: HandOffTarget = {
    takeFromIngress: () => true,
    expectBarrier: (_lane: string, _token: string, _waiter: BarrierWaiter) => undefined,
  };
  const ingress = new KafkaIngress({
    ingress: module.kafkaIngresses[0]!,
    source: idleSource,
    internalTopic: 'internal',
    partitions: 4,
    partitioning: 'id',
    deadLetterTopic: 'dlq',
    runtimeGroupId: 'g',
    logger: silentLogger,
    handOff: () => task,
  });
  const mover = { changed: () => undefined } as unknown as Parameters<KafkaIngress['lanes']>[1];
  const lanes = ingress.lanes({ topic: 'clicks', partition: 0 }, mover)!;
  const out: OutRecord[] = [];
  lanes.route({ topic: 'internal', partition: 1, key: 'ex/counter/a', value: new Uint8Array([1]) }, 7, out);
  lanes.barriers(out);
  const tokens = out.map((r) => r.headers?.[Header.barrier]).filter((t) => t !== undefined);
  expect(tokens).toHaveLength(1);
  return tokens[0]!;
}

describe('barrier tokens', () => {
  it('differ between two processes (or two runs of one) moving the same ingress partition', () => {
    const a = firstToken();
    const b = firstToken();
    expect(a).not.toBe(b);
    // Still readable: the ingress, topic and partition lead.
    expect(a.startsWith('ex/in|clicks|0|')).toBe(true);
  });
});
