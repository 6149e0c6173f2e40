// Tracing on a dev runtime with an in-memory exporter: one trace spans the message's ingress, the
// function calls it causes and its egress, and function endpoints receive the W3C traceparent
// of the call span; a Kafka ingress record (moved by the ingress routing onto the embedded log)
// continues the trace of its upstream traceparent header. Also the traceparent codec, and that
// tracing is off by default.
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevRuntime, type DevRuntime } from '../../src/dev-runtime.js';
import { silentLogger } from '../../src/logger.js';
import { parseModule } from '../../src/module/index.js';
import { routeIngressRecord } from '../../src/core/ingress-routing.js';
import type { LogRecord } from '../../src/log/log.js';
import { formatTraceparent, parseTraceparent, Tracing, TRACEPARENT } from '../../src/tracing/tracing.js';
import { readTopic } from '../dev/support.js';
import { OUT_TOPIC, sendText, serveOpsFunctions, type OpsFunctions } from '../metrics/ops-fixture.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

describe('traceparent', () => {
  it('round-trips a span context and rejects malformed or all-zero values', () => {
    const sc = {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      traceFlags: 1,
    };
    const text = formatTraceparent(sc);
    expect(text).toBe('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    expect(parseTraceparent(text)).toEqual({ ...sc, isRemote: true });
    for (const bad of [
      undefined,
      '',
      '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
      '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01',
    ])
      expect(parseTraceparent(bad)).toBeUndefined();
  });
});

describe('tracing a message through a dev runtime', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  let fns: OpsFunctions;
  let dev: DevRuntime;
  let admin: string;

  beforeAll(async () => {
    fns = await serveOpsFunctions();
    dev = await startDevRuntime({
      module: parseModule(fns.moduleDocs.join('\n---\n'), 'ops-module.yaml'),
      partitions: 2,
      adminPort: 0,
      logger: silentLogger,
      task: { checkpointIntervalMs: 20 },
      tracerProvider: provider,
    });
    admin = `http://127.0.0.1:${dev.servers.find((s) => s.name === 'admin')!.port}`;
  });

  afterAll(async () => {
    await dev?.stop();
    await fns?.close();
    await provider.shutdown();
  });

  it('one trace spans ingress, the function calls the message causes, and its egress', async () => {
    await sendText(admin, 'ops/counter/t1', 'traced', undefined);
    await waitUntil(() => fns.sunk.includes('traced'), {
      timeoutMs: 10_000,
      what: 'the forwarded message at the sink',
    });
    await waitUntil(async () => (await readTopic(dev.log, OUT_TOPIC)).length === 1, {
      timeoutMs: 10_000,
      what: 'the egress record',
    });
    let spans: ReadableSpan[] = [];
    await waitUntil(
      () => {
        spans = exporter.getFinishedSpans();
        // The sink's span ends when its answer is back, a moment after it saw the message.
        return (
          spans.some((s) => s.name === `egress ${OUT_TOPIC}`) &&
          spans.some((s) => s.name === 'invoke ops/sink')
        );
      },
      { timeoutMs: 10_000, what: 'the egress span and the sink call span' },
    );

    const ingress = spans.find((s) => s.name === 'ingress admin')!;
    expect(ingress).toBeDefined();
    expect(ingress.parentSpanContext).toBeUndefined();
    expect(ingress.attributes['continuum.target']).toBe('ops/counter/t1');
    const traceId = ingress.spanContext().traceId;
    const trace = spans.filter((s) => s.spanContext().traceId === traceId);
    const parentOf = (s: ReadableSpan): string | undefined => s.parentSpanContext?.spanId;

    // The counter's first call may only negotiate its state; every call is a child of the ingress.
    const counterCalls = trace.filter((s) => s.name === 'invoke ops/counter');
    expect(counterCalls.length).toBeGreaterThanOrEqual(1);
    for (const c of counterCalls) expect(parentOf(c)).toBe(ingress.spanContext().spanId);
    const answered = counterCalls.find((c) => c.attributes['continuum.incomplete_context'] !== true)!;
    expect(answered.attributes['continuum.address']).toBe('ops/counter/t1');

    const sinkCalls = trace.filter((s) => s.name === 'invoke ops/sink');
    expect(sinkCalls.length).toBeGreaterThanOrEqual(1);
    for (const c of sinkCalls) expect(parentOf(c)).toBe(answered.spanContext().spanId);

    const egress = trace.find((s) => s.name === `egress ${OUT_TOPIC}`)!;
    expect(parentOf(egress)).toBe(answered.spanContext().spanId);

    // Function endpoints saw the call span as the parent of their work.
    for (const call of [...counterCalls, ...sinkCalls])
      expect(fns.traceparents).toContain(formatTraceparent(call.spanContext()));
    // Nothing else joined the trace.
    expect(trace.length).toBe(1 + counterCalls.length + sinkCalls.length + 1);
  });

  it('marks a failed call and its dead letter as errors in the trace', async () => {
    fns.flakyBroken.on = true;
    exporter.reset();
    await sendText(admin, 'ops/flaky/t2', 'doomed', undefined);
    let spans: ReadableSpan[] = [];
    await waitUntil(
      () => {
        spans = exporter.getFinishedSpans();
        return spans.some((s) => s.name === 'dead-letter');
      },
      { timeoutMs: 10_000, what: 'the dead-letter span' },
    );
    const call = spans.find((s) => s.name === 'invoke ops/flaky')!;
    expect(call.status.code).toBe(2);
    expect(call.attributes['continuum.error_code']).toBe('FUNCTION_CALL_FAILED');
    const dead = spans.find((s) => s.name === 'dead-letter')!;
    expect(dead.parentSpanContext?.spanId).toBe(call.spanContext().spanId);
    expect(dead.attributes['continuum.dead_letter.code']).toBe('FUNCTION_CALL_FAILED');
    expect(String(dead.attributes['continuum.dead_letter.reason'])).toContain('flaky is down');
  });
});

describe('a Kafka ingress record with an upstream traceparent', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const UPSTREAM_TRACE = '0af7651916cd43dd8448eb211c80319c';
  const UPSTREAM_SPAN = 'b7ad6b7169203331';
  let fns: OpsFunctions;
  let dev: DevRuntime;
  let ingressTracing: Tracing;
  let offset = 0;

  beforeAll(async () => {
    fns = await serveOpsFunctions();
    dev = await startDevRuntime({
      module: parseModule(fns.moduleDocs.join('\n---\n'), 'ops-module.yaml'),
      partitions: 2,
      logger: silentLogger,
      task: { checkpointIntervalMs: 20 },
      tracerProvider: provider,
    });
    // The runtime's own tracing watches the partition tasks; the ingress gets one on the same provider.
    ingressTracing = new Tracing({
      tracerProvider: provider,
      internalTopic: dev.log.internalTopic,
      deadLetterTopic: 'continuum-dead-letters',
    });
  });

  afterAll(async () => {
    ingressTracing?.close();
    await dev?.stop();
    await fns?.close();
    await provider.shutdown();
  });

  /** Moves one record the way a Kafka ingress does: routed, appended, then the move ends. */
  const move = async (key: string, text: string, headers: Record<string, string>): Promise<void> => {
    const record: LogRecord = {
      topic: 'upstream-events',
      partition: 0,
      offset: offset++,
      key,
      value: new TextEncoder().encode(JSON.stringify(text)),
      headers,
      timestamp: Date.now(),
    };
    const routed = routeIngressRecord(
      record,
      { topic: 'upstream-events', valueType: 'ops/Text', targets: ['ops/counter'] },
      {
        internalTopic: dev.log.internalTopic,
        partitions: dev.log.partitions,
        partitioning: 'address',
        deadLetterTopic: 'continuum-dead-letters',
        ingressId: 'ops/in',
        observer: ingressTracing.observer,
      },
      Date.now(),
    );
    expect(routed.deadLetter).toBe(false);
    await dev.log.append(routed.records);
    routed.observation?.ended?.(undefined);
  };

  const spansOf = async (text: string): Promise<{ ingress: ReadableSpan; trace: ReadableSpan[] }> => {
    await waitUntil(() => fns.sunk.includes(text), { timeoutMs: 10_000, what: `${text} at the sink` });
    let spans: ReadableSpan[] = [];
    let ingress: ReadableSpan | undefined;
    await waitUntil(
      () => {
        spans = exporter.getFinishedSpans();
        ingress = spans.find(
          (s) =>
            s.name === 'ingress kafka:ops/in' && s.attributes['continuum.target'] === `ops/counter/${text}`,
        );
        const traceId = ingress?.spanContext().traceId;
        return spans.some((s) => s.name === 'invoke ops/sink' && s.spanContext().traceId === traceId);
      },
      { timeoutMs: 10_000, what: `the spans of ${text}` },
    );
    const traceId = ingress!.spanContext().traceId;
    return { ingress: ingress!, trace: spans.filter((s) => s.spanContext().traceId === traceId) };
  };

  it('continues the upstream trace: its ingress span is a child of the upstream span, and function endpoints get that trace id', async () => {
    await move('up1', 'up1', { traceparent: `00-${UPSTREAM_TRACE}-${UPSTREAM_SPAN}-01`, other: 'x' });
    const { ingress, trace } = await spansOf('up1');
    expect(ingress.spanContext().traceId).toBe(UPSTREAM_TRACE);
    expect(ingress.parentSpanContext?.spanId).toBe(UPSTREAM_SPAN);
    expect(ingress.attributes).toMatchObject({
      'continuum.source': 'kafka:ops/in',
      'messaging.destination.name': 'upstream-events',
    });
    const counterCalls = trace.filter((s) => s.name === 'invoke ops/counter');
    expect(counterCalls.length).toBeGreaterThanOrEqual(1);
    for (const c of counterCalls) expect(c.parentSpanContext?.spanId).toBe(ingress.spanContext().spanId);
    // Every request of this message to a function endpoint carried the upstream trace id.
    const upstream = fns.traceparents.filter((t) => parseTraceparent(t)?.traceId === UPSTREAM_TRACE);
    expect(upstream.length).toBeGreaterThanOrEqual(2); // ops/counter, then ops/sink
    for (const call of trace.filter((s) => s.name.startsWith('invoke ')))
      expect(upstream).toContain(formatTraceparent(call.spanContext()));
  });

  it('starts a new trace for a record without a traceparent or with a malformed one', async () => {
    await move('plain1', 'plain1', {});
    await move('bad1', 'bad1', { traceparent: '00-not-a-trace-01' });
    for (const text of ['plain1', 'bad1']) {
      const { ingress, trace } = await spansOf(text);
      expect(ingress.parentSpanContext).toBeUndefined();
      expect(ingress.spanContext().traceId).not.toBe(UPSTREAM_TRACE);
      expect(trace.some((s) => s.name === 'invoke ops/counter')).toBe(true);
    }
  });
});

describe('tracing off (the default)', () => {
  it('adds no traceparent to records or HTTP requests', async () => {
    const fns = await serveOpsFunctions();
    const dev = await startDevRuntime({
      module: parseModule(fns.moduleDocs.join('\n---\n'), 'ops-module.yaml'),
      partitions: 1,
      adminPort: 0,
      logger: silentLogger,
      task: { checkpointIntervalMs: 20 },
    });
    try {
      const admin = `http://127.0.0.1:${dev.servers.find((s) => s.name === 'admin')!.port}`;
      await sendText(admin, 'ops/counter/plain', 'plain', undefined);
      await waitUntil(() => fns.sunk.includes('plain'), { timeoutMs: 10_000, what: 'the forwarded message' });
      await waitUntil(async () => (await readTopic(dev.log, OUT_TOPIC)).length === 1, {
        timeoutMs: 10_000,
        what: 'the egress record',
      });
      expect(fns.traceparents).toEqual([]);
      const records = [
        ...(await readTopic(dev.log, dev.log.internalTopic)),
        ...(await readTopic(dev.log, OUT_TOPIC)),
      ];
      expect(records.length).toBeGreaterThan(0);
      for (const r of records) expect(r.headers[TRACEPARENT]).toBeUndefined();
    } finally {
      await dev.stop();
      await fns.close();
    }
  });

  it('a Kafka ingress without tracing passes no upstream traceparent on', () => {
    const routed = routeIngressRecord(
      {
        topic: 'upstream-events',
        partition: 0,
        offset: 0,
        key: 'k',
        value: new TextEncoder().encode('"v"'),
        headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
        timestamp: 1,
      },
      { topic: 'upstream-events', valueType: 'ops/Text', targets: ['ops/counter', 'ops/sink'] },
      {
        internalTopic: 'internal',
        partitions: 2,
        partitioning: 'address',
        deadLetterTopic: 'dlq',
        ingressId: 'ops/in',
      },
      1,
    );
    expect(routed.records).toHaveLength(2);
    for (const r of routed.records) expect(r.headers?.[TRACEPARENT]).toBeUndefined();
    expect(routed.observation).toBeUndefined();
  });
});
