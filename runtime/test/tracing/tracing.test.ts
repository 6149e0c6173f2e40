// Tracing on a dev runtime with an in-memory exporter: one trace spans the message's ingress, the
// function calls it causes and its egress, and function endpoints receive the W3C traceparent
// of the call span. Also the traceparent codec, and that tracing is off by default.
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
import { formatTraceparent, parseTraceparent, TRACEPARENT } from '../../src/tracing/tracing.js';
import { readTopic, waitFor } from '../dev/support.js';
import { OUT_TOPIC, sendText, serveOpsFunctions, type OpsFunctions } from '../metrics/ops-fixture.js';

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
    await waitFor(() => fns.sunk.includes('traced'), 'the forwarded message at the sink');
    await waitFor(async () => (await readTopic(dev.log, OUT_TOPIC)).length === 1, 'the egress record');
    let spans: ReadableSpan[] = [];
    await waitFor(() => {
      spans = exporter.getFinishedSpans();
      // The sink's span ends when its answer is back, a moment after it saw the message.
      return (
        spans.some((s) => s.name === `egress ${OUT_TOPIC}`) && spans.some((s) => s.name === 'invoke ops/sink')
      );
    }, 'the egress span and the sink call span');

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
    await waitFor(() => {
      spans = exporter.getFinishedSpans();
      return spans.some((s) => s.name === 'dead-letter');
    }, 'the dead-letter span');
    const call = spans.find((s) => s.name === 'invoke ops/flaky')!;
    expect(call.status.code).toBe(2);
    expect(call.attributes['continuum.error_code']).toBe('FUNCTION_CALL_FAILED');
    const dead = spans.find((s) => s.name === 'dead-letter')!;
    expect(dead.parentSpanContext?.spanId).toBe(call.spanContext().spanId);
    expect(dead.attributes['continuum.dead_letter.code']).toBe('FUNCTION_CALL_FAILED');
    expect(String(dead.attributes['continuum.dead_letter.reason'])).toContain('flaky is down');
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
      await waitFor(() => fns.sunk.includes('plain'), 'the forwarded message');
      await waitFor(async () => (await readTopic(dev.log, OUT_TOPIC)).length === 1, 'the egress record');
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
});
