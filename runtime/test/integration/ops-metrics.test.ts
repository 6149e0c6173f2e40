// Operability of a production runtime on the real Kafka broker and Redis: /metrics counts equal a
// known workload from a Kafka ingress and the admin API, consumer lag settles, the admin token is
// enforced, and dead letters are read from the Kafka topic and replayed.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createKafkaClient, createTopic, waitUntil } from '@continuum/test-infra';
import type { ProdRuntime } from '../../src/prod-runtime.js';
import {
  adminCall,
  OUT_TOPIC,
  sendText,
  serveOpsFunctions,
  type OpsFunctions,
} from '../metrics/ops-fixture.js';
import { adminUrl, counterIngressDoc, prodNames, startOpsRuntime } from './prod-fixture.js';
import { parseExposition, seriesValue, type Sample } from '../metrics/prometheus-text.js';

const TOKEN = 'prod-admin-token';
const FROM_KAFKA = 20;
const FROM_ADMIN = 5;
const PARTITIONS = 3;

describe('operability of a production runtime (Kafka + Redis)', () => {
  const brokers = inject('kafkaBrokers').split(',');
  const names = prodNames('ops');
  let fns: OpsFunctions;
  let prod: ProdRuntime;
  let admin: string;
  let samples: Sample[];
  const scrape = async (): Promise<Sample[]> => {
    const r = await adminCall(admin, '/metrics', { token: TOKEN });
    expect(r.status).toBe(200);
    return parseExposition(r.text);
  };

  beforeAll(async () => {
    await createTopic(brokers, names.input, 2);
    await createTopic(brokers, OUT_TOPIC, 1);
    fns = await serveOpsFunctions();
    prod = await startOpsRuntime(fns, names, {
      partitions: PARTITIONS,
      extraDocs: [counterIngressDoc('ops/in', names)],
      adminPort: 0,
      adminToken: TOKEN,
      metricsSampleIntervalMs: 500,
    });
    admin = adminUrl(prod);

    const producer = createKafkaClient(brokers).producer();
    await producer.connect();
    await producer.send({
      topic: names.input,
      messages: Array.from({ length: FROM_KAFKA }, (_, i) => ({
        key: `k${i % 4}`,
        value: JSON.stringify(`kafka ${i}`),
      })),
    });
    await producer.disconnect();
    for (let i = 0; i < FROM_ADMIN; i++) await sendText(admin, `ops/counter/a${i}`, `admin ${i}`, TOKEN);
    await sendText(admin, 'ops/flaky/p1', 'prod failure', TOKEN);

    await waitUntil(() => fns.sunk.length === FROM_KAFKA + FROM_ADMIN, {
      timeoutMs: 60_000,
      what: 'the sink to receive every message',
      intervalMs: 100,
    });
    samples = await waitUntil(
      async () => {
        const s = await scrape();
        const egress = seriesValue(s, 'continuum_egress_records_total', { topic: OUT_TOPIC });
        const dead = seriesValue(s, 'continuum_committed_records_total', { kind: 'dead_letter' });
        return egress === FROM_KAFKA + FROM_ADMIN && dead === 1 ? s : undefined;
      },
      { timeoutMs: 30_000, what: 'every egress record and the dead letter to be committed', intervalMs: 100 },
    );
  }, 180_000);

  afterAll(async () => {
    await prod?.stop();
    await fns?.close();
  });

  it('counts what came in from Kafka and from the admin API, per source', () => {
    expect(seriesValue(samples, 'continuum_ingress_messages_total', { source: 'kafka:ops/in' })).toBe(
      FROM_KAFKA,
    );
    expect(seriesValue(samples, 'continuum_ingress_messages_total', { source: 'admin' })).toBe(
      FROM_ADMIN + 1,
    );
  });

  it('counts invocations, effects and committed egress equal to what was sent', () => {
    const all = FROM_KAFKA + FROM_ADMIN;
    expect(
      seriesValue(samples, 'continuum_function_invocations_total', { function_type: 'ops/counter' }),
    ).toBe(all);
    expect(seriesValue(samples, 'continuum_function_invocations_total', { function_type: 'ops/sink' })).toBe(
      all,
    );
    expect(
      seriesValue(samples, 'continuum_function_effects_total', {
        function_type: 'ops/counter',
        kind: 'egress',
      }),
    ).toBe(all);
    expect(seriesValue(samples, 'continuum_batch_size_sum', { function_type: 'ops/counter' })).toBe(all);
    expect(seriesValue(samples, 'continuum_egress_records_total', { topic: OUT_TOPIC })).toBe(all);
    expect(seriesValue(samples, 'continuum_committed_records_total', { kind: 'internal' })).toBe(all);
    expect(seriesValue(samples, 'continuum_dead_letters_total', { code: 'FUNCTION_CALL_FAILED' })).toBe(1);
    expect(seriesValue(samples, 'continuum_owned_partitions')).toBe(PARTITIONS);
    expect(seriesValue(samples, 'continuum_checkpoint_duration_seconds_count')).toBeGreaterThan(0);
  });

  it('reports consumer lag per partition, back to (almost) nothing once checkpoints caught up', async () => {
    // On a loaded machine a slow heartbeat can move partitions for a moment; lag is per owner.
    await waitUntil(() => prod.runtime.ready && prod.runtime.ownedPartitions.length === PARTITIONS, {
      timeoutMs: 60_000,
      what: 'the runtime to own every partition again',
      intervalMs: 100,
    });
    await prod.runtime.flush();
    // Kafka transaction markers take offsets the consumer never sees as records: a caught-up
    // partition can show one or two of them.
    const settled = await waitUntil(
      async () => {
        const s = await scrape();
        const lags = [0, 1, 2].map((p) => seriesValue(s, 'continuum_consumer_lag', { partition: String(p) }));
        return lags.every((l) => l !== undefined && l <= 2) ? lags : undefined;
      },
      { timeoutMs: 60_000, what: 'the consumer lag of every partition to settle', intervalMs: 100 },
    );
    expect(settled).toHaveLength(PARTITIONS);
    const partitions = (await adminCall(admin, '/v1/partitions', { token: TOKEN })).body as {
      partitions: { partition: number; endOffset: number; committedOffset: number; status: string }[];
    };
    expect(partitions.partitions.map((p) => p.status)).toEqual(['running', 'running', 'running']);
    for (const p of partitions.partitions) expect(p.committedOffset).toBeGreaterThan(0);
  });

  it('enforces the admin token', async () => {
    expect((await adminCall(admin, '/metrics')).status).toBe(401);
    expect((await adminCall(admin, '/v1/dead-letters', { token: 'nope' })).status).toBe(401);
    // Probes need no token (200 when ready, 503 while a partition recovers).
    const probe = await adminCall(admin, '/readyz');
    expect([200, 503]).toContain(probe.status);
    expect(probe.body).toMatchObject({ ready: probe.status === 200 });
  });

  it('lists the dead letter from the Kafka topic and replays it once the endpoint works', async () => {
    type Letter = { id: string; code: string; target?: string; reason: string };
    const letter = await waitUntil(
      async () => {
        const r = await adminCall(admin, '/v1/dead-letters', { token: TOKEN });
        return (r.body as { items: Letter[] }).items.find((l) => l.target === 'ops/flaky/p1');
      },
      { timeoutMs: 30_000, what: 'the dead letter in the listing', intervalMs: 100 },
    );
    expect(letter.code).toBe('FUNCTION_CALL_FAILED');
    expect(letter.reason).toContain('flaky is down');
    fns.flakyBroken.on = false;
    const replay = await adminCall(admin, `/v1/dead-letters/${letter.id}/replay`, {
      method: 'POST',
      token: TOKEN,
    });
    expect(replay.status).toBe(200);
    await waitUntil(() => fns.flakyReceived.includes('prod failure'), {
      timeoutMs: 30_000,
      what: 'the replayed message at ops/flaky',
      intervalMs: 100,
    });
    const after = await scrape();
    expect(seriesValue(after, 'continuum_ingress_messages_total', { source: 'replay' })).toBe(1);
  });

  it('serves the overview the dashboard draws, with the production mode and this process as owner', async () => {
    const r = await adminCall(admin, '/v1/overview', { token: TOKEN });
    expect(r.status).toBe(200);
    const o = r.body as {
      mode: string;
      totals: { ingress: number; invocations: number; egress: number };
      partitions: unknown[];
      deadLetters: { total: number };
    };
    expect(o.mode).toBe('production');
    expect(o.totals.ingress).toBe(FROM_KAFKA + FROM_ADMIN + 2);
    expect(o.totals.egress).toBe(FROM_KAFKA + FROM_ADMIN);
    expect(o.partitions).toHaveLength(PARTITIONS);
    expect(o.deadLetters.total).toBe(1);
  });
});
