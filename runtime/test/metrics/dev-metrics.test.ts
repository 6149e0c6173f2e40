// /metrics of a dev runtime after a known workload: every count equals what was sent, failures
// and dead letters are counted by code, and gauges settle once the work is done.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevRuntime, type DevRuntime } from '../../src/dev-runtime.js';
import { silentLogger } from '../../src/logger.js';
import { parseModule } from '../../src/module/index.js';
import { readTopic } from '../dev/support.js';
import { adminCall, OUT_TOPIC, sendText, serveOpsFunctions, type OpsFunctions } from './ops-fixture.js';
import { parseExposition, seriesValue, type Sample } from './prometheus-text.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

const TOKEN = 'metrics-test-token';
const COUNTER_MESSAGES = 24;
const KEYS = 4;
const BROKEN = 2;
const UNKNOWN = 3;
const PARTITIONS = 2;

describe('metrics of a dev runtime under a known workload', () => {
  let fns: OpsFunctions;
  let dev: DevRuntime;
  let admin: string;
  let samples: Sample[];

  beforeAll(async () => {
    fns = await serveOpsFunctions();
    dev = await startDevRuntime({
      module: parseModule(fns.moduleDocs.join('\n---\n'), 'ops-module.yaml'),
      partitions: PARTITIONS,
      adminPort: 0,
      adminToken: TOKEN,
      logger: silentLogger,
      task: { checkpointIntervalMs: 20 },
    });
    admin = `http://127.0.0.1:${dev.servers.find((s) => s.name === 'admin')!.port}`;

    for (let i = 0; i < COUNTER_MESSAGES; i++)
      await sendText(admin, `ops/counter/k${i % KEYS}`, `m${i}`, TOKEN);
    for (let i = 0; i < BROKEN; i++) await sendText(admin, `ops/flaky/b${i}`, `broken ${i}`, TOKEN);
    for (let i = 0; i < UNKNOWN; i++) await sendText(admin, `nobody/home/u${i}`, `lost ${i}`, TOKEN);

    await waitUntil(() => fns.sunk.length === COUNTER_MESSAGES, {
      timeoutMs: 10_000,
      what: 'the sink to receive every forwarded message',
    });
    await waitUntil(async () => (await readTopic(dev.log, OUT_TOPIC)).length === COUNTER_MESSAGES, {
      timeoutMs: 10_000,
      what: 'every egress record to be committed',
    });
    await waitUntil(
      async () => (await readTopic(dev.log, 'continuum-dead-letters')).length === BROKEN + UNKNOWN,
      { timeoutMs: 10_000, what: 'the dead letters to be committed' },
    );
    await dev.runtime.flush();
    // A checkpoint's own marker record is passed by the next checkpoint, a tick later.
    await waitUntil(
      async () => {
        const res = await adminCall(admin, '/metrics', { token: TOKEN });
        expect(res.status).toBe(200);
        expect(res.contentType).toContain('text/plain');
        samples = parseExposition(res.text);
        return seriesValue(samples, 'continuum_consumer_lag') === 0;
      },
      { timeoutMs: 10_000, what: 'the consumer lag to settle at 0' },
    );
  });

  afterAll(async () => {
    await dev?.stop();
    await fns?.close();
  });

  const value = (name: string, labels: Record<string, string> = {}): number | undefined =>
    seriesValue(samples, name, labels);

  it('counts every message taken from outside by its source', () => {
    expect(value('continuum_ingress_messages_total', { source: 'admin' })).toBe(
      COUNTER_MESSAGES + BROKEN + UNKNOWN,
    );
  });

  it('counts invocations per function type, equal to the messages each received', () => {
    expect(value('continuum_function_invocations_total', { function_type: 'ops/counter' })).toBe(
      COUNTER_MESSAGES,
    );
    expect(value('continuum_function_invocations_total', { function_type: 'ops/sink' })).toBe(
      COUNTER_MESSAGES,
    );
    expect(value('continuum_function_invocations_total', { function_type: 'ops/flaky' })).toBeUndefined();
  });

  it('counts what functions produced, by kind', () => {
    const counter = { function_type: 'ops/counter' };
    expect(value('continuum_function_effects_total', { ...counter, kind: 'message' })).toBe(COUNTER_MESSAGES);
    expect(value('continuum_function_effects_total', { ...counter, kind: 'egress' })).toBe(COUNTER_MESSAGES);
    expect(value('continuum_function_effects_total', { ...counter, kind: 'state' })).toBeGreaterThanOrEqual(
      1,
    );
    expect(value('continuum_function_effects_total', { function_type: 'ops/sink' })).toBeUndefined();
  });

  it('counts committed egress records per topic', () => {
    expect(value('continuum_egress_records_total', { topic: OUT_TOPIC })).toBe(COUNTER_MESSAGES);
    expect(value('continuum_committed_records_total', { kind: 'egress' })).toBe(COUNTER_MESSAGES);
    // Forwarded messages to the sink are internal records.
    expect(value('continuum_committed_records_total', { kind: 'internal' })).toBe(COUNTER_MESSAGES);
    expect(value('continuum_committed_records_total', { kind: 'dead_letter' })).toBe(BROKEN + UNKNOWN);
  });

  it('sums batch sizes to the messages sent, and times every batch', () => {
    expect(value('continuum_batch_size_sum', { function_type: 'ops/counter' })).toBe(COUNTER_MESSAGES);
    const batches = value('continuum_batch_size_count', { function_type: 'ops/counter' })!;
    expect(batches).toBeGreaterThanOrEqual(KEYS);
    expect(batches).toBeLessThanOrEqual(COUNTER_MESSAGES);
    expect(
      value('continuum_invocation_duration_seconds_count', { function_type: 'ops/counter' }),
    ).toBeGreaterThanOrEqual(batches);
    expect(
      value('continuum_invocation_duration_seconds_bucket', { function_type: 'ops/counter', le: '+Inf' }),
    ).toBe(value('continuum_invocation_duration_seconds_count', { function_type: 'ops/counter' }));
  });

  it('counts failed calls, their retries and their dead letters by code', () => {
    expect(
      value('continuum_function_failed_messages_total', {
        function_type: 'ops/flaky',
        code: 'FUNCTION_CALL_FAILED',
      }),
    ).toBe(BROKEN);
    expect(value('continuum_dead_letters_total', { code: 'FUNCTION_CALL_FAILED' })).toBe(BROKEN);
    expect(value('continuum_dead_letters_total', { code: 'FUNCTION_UNKNOWN' })).toBe(UNKNOWN);
    expect(
      value('continuum_function_retries_total', { function_type: 'ops/flaky', reason: 'attempt' }),
    ).toBeGreaterThan(0);
    const flaky = samples.find(
      (s) => s.name === 'continuum_endpoint_calls_total' && s.labels.endpoint?.endsWith('/flaky'),
    );
    expect(flaky).toMatchObject({ labels: { result: 'FUNCTION_CALL_FAILED' }, value: BROKEN });
    expect(
      value('continuum_endpoint_attempt_failures_total', {
        endpoint: flaky!.labels.endpoint!,
        kind: 'status',
      }),
    ).toBeGreaterThanOrEqual(BROKEN);
    const ok = samples.filter((s) => s.name === 'continuum_endpoint_calls_total' && s.labels.result === 'ok');
    expect(ok.reduce((n, s) => n + s.value, 0)).toBeGreaterThanOrEqual(KEYS);
  });

  it('counts a state lookup for every message that reached an address', () => {
    const lookups = value('continuum_state_cache_lookups_total')!;
    expect(lookups).toBe(COUNTER_MESSAGES * 2 + BROKEN);
    // One miss per distinct address: 4 counters, 4 sinks, 2 flaky ones.
    expect(value('continuum_state_cache_lookups_total', { result: 'miss' })).toBe(KEYS * 2 + BROKEN);
    expect(value('continuum_state_cache_hit_ratio')).toBeCloseTo((lookups - KEYS * 2 - BROKEN) / lookups, 5);
  });

  it('reports checkpoints, owned partitions, zero lag and empty mailboxes once the work is done', () => {
    expect(value('continuum_checkpoints_total')).toBeGreaterThan(0);
    expect(value('continuum_checkpoint_duration_seconds_count')).toBe(value('continuum_checkpoints_total'));
    // Records of all kinds, plus each checkpoint's own marker in its partition.
    expect(value('continuum_checkpoint_records_sum')).toBeGreaterThanOrEqual(
      COUNTER_MESSAGES * 2 + BROKEN + UNKNOWN,
    );
    expect(value('continuum_checkpoint_bytes_sum')).toBeGreaterThan(0);
    expect(value('continuum_owned_partitions')).toBe(PARTITIONS);
    expect(value('continuum_ready')).toBe(1);
    for (let p = 0; p < PARTITIONS; p++) {
      expect(value('continuum_consumer_lag', { partition: String(p) })).toBe(0);
      expect(value('continuum_mailbox_messages', { partition: String(p) })).toBe(0);
      expect(value('continuum_partition_paused', { partition: String(p) })).toBe(0);
    }
    expect(value('continuum_in_flight_calls')).toBe(0);
    expect(value('continuum_cached_addresses')).toBe(KEYS * 2 + BROKEN);
  });

  it('includes process memory', () => {
    expect(value('process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
    expect(value('nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
  });

  it('reports the lag while a partition works through new records, and 0 once they are checkpointed', async () => {
    const lagOf = async (): Promise<number> =>
      seriesValue(
        parseExposition((await adminCall(admin, '/metrics', { token: TOKEN })).text),
        'continuum_consumer_lag',
      )!;
    expect(await lagOf()).toBe(0);
    // ops/flaky is still broken: the batch of these ten takes its whole 300 ms call budget.
    await dev.runtime.send(
      Array.from({ length: 10 }, () => ({
        target: { namespace: 'ops', type: 'flaky', id: 'slow' },
        argument: { typename: 'ops/Text', hasValue: true, value: new TextEncoder().encode('"slow"') },
      })),
      'test',
    );
    expect(await lagOf()).toBeGreaterThanOrEqual(10);
    await waitUntil(
      async () => (await readTopic(dev.log, 'continuum-dead-letters')).length === BROKEN + UNKNOWN + 10,
      { timeoutMs: 10_000, what: 'the ten slow messages to be dead-lettered' },
    );
    await dev.runtime.flush();
    await waitUntil(async () => (await lagOf()) === 0, { timeoutMs: 5000, what: 'the lag to return to 0' });
    const final = parseExposition((await adminCall(admin, '/metrics', { token: TOKEN })).text);
    expect(seriesValue(final, 'continuum_ingress_messages_total', { source: 'test' })).toBe(10);
    expect(seriesValue(final, 'continuum_dead_letters_total', { code: 'FUNCTION_CALL_FAILED' })).toBe(
      BROKEN + 10,
    );
  });
});
