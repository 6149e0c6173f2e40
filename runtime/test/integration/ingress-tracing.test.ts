// Trace propagation from a Kafka ingress on the real Kafka broker and Redis: a record produced with
// a W3C traceparent header continues its producer's trace through the ingress, every function call
// it causes (the endpoints receive that trace id) and its egress; a record without one starts its
// own trace at the ingress.
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createKafkaClient, createTopic, waitUntil } from '@continuum/test-infra';
import type { ProdRuntime } from '../../src/prod-runtime.js';
import { formatTraceparent, parseTraceparent } from '../../src/tracing/tracing.js';
import { OUT_TOPIC, serveOpsFunctions, type OpsFunctions } from '../metrics/ops-fixture.js';
import { counterIngressDoc, prodNames, startOpsRuntime } from './prod-fixture.js';

const UPSTREAM_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const UPSTREAM_SPAN = '00f067aa0ba902b7';

describe('trace propagation from a Kafka ingress (Kafka + Redis)', () => {
  const brokers = inject('kafkaBrokers').split(',');
  const names = prodNames('trace');
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  let fns: OpsFunctions;
  let prod: ProdRuntime;
  let spans: ReadableSpan[] = [];

  /** The ingress span of the message to `ops/counter/<key>`, and the spans of its trace. */
  const traceOf = (key: string): { ingress: ReadableSpan; trace: ReadableSpan[] } => {
    const ingress = spans.find(
      (s) => s.name === 'ingress kafka:trace/in' && s.attributes['continuum.target'] === `ops/counter/${key}`,
    );
    expect(ingress, `the ingress span of ${key}`).toBeDefined();
    const traceId = ingress!.spanContext().traceId;
    return { ingress: ingress!, trace: spans.filter((s) => s.spanContext().traceId === traceId) };
  };

  beforeAll(async () => {
    await createTopic(brokers, names.input, 2);
    await createTopic(brokers, OUT_TOPIC, 1);
    fns = await serveOpsFunctions();
    prod = await startOpsRuntime(fns, names, {
      partitions: 2,
      extraDocs: [counterIngressDoc('trace/in', names)],
      tracerProvider: provider,
    });

    const producer = createKafkaClient(brokers).producer();
    await producer.connect();
    await producer.send({
      topic: names.input,
      messages: [
        {
          key: 'traced',
          value: JSON.stringify('from upstream'),
          headers: { traceparent: `00-${UPSTREAM_TRACE}-${UPSTREAM_SPAN}-01` },
        },
        { key: 'untraced', value: JSON.stringify('no upstream') },
      ],
    });
    await producer.disconnect();

    await waitUntil(() => fns.sunk.length === 2, {
      timeoutMs: 60_000,
      what: 'the sink to receive both messages',
      intervalMs: 100,
    });
    await waitUntil(
      () => {
        spans = exporter.getFinishedSpans();
        return (
          spans.filter((s) => s.name === `egress ${OUT_TOPIC}`).length === 2 &&
          spans.filter((s) => s.name === 'invoke ops/sink').length >= 2
        );
      },
      { timeoutMs: 30_000, what: 'the egress and sink call spans of both messages', intervalMs: 100 },
    );
  }, 180_000);

  afterAll(async () => {
    await prod?.stop();
    await fns?.close();
    await provider.shutdown();
  });

  it('continues the upstream trace from the ingress span to the function endpoints', () => {
    const { ingress, trace } = traceOf('traced');
    expect(ingress.spanContext().traceId).toBe(UPSTREAM_TRACE);
    expect(ingress.parentSpanContext?.spanId).toBe(UPSTREAM_SPAN);
    expect(ingress.attributes['messaging.destination.name']).toBe(names.input);

    const counterCalls = trace.filter((s) => s.name === 'invoke ops/counter');
    expect(counterCalls.length).toBeGreaterThanOrEqual(1);
    for (const c of counterCalls) expect(c.parentSpanContext?.spanId).toBe(ingress.spanContext().spanId);
    expect(trace.filter((s) => s.name === 'invoke ops/sink').length).toBeGreaterThanOrEqual(1);
    expect(trace.filter((s) => s.name === `egress ${OUT_TOPIC}`)).toHaveLength(1);

    // The function endpoints received the upstream trace id in their traceparent header.
    const received = fns.traceparents.filter((t) => parseTraceparent(t)?.traceId === UPSTREAM_TRACE);
    const calls = trace.filter((s) => s.name.startsWith('invoke '));
    expect(received.length).toBeGreaterThanOrEqual(2); // ops/counter, then ops/sink
    for (const call of calls) expect(received).toContain(formatTraceparent(call.spanContext()));
  });

  it('starts a new trace at the ingress for a record without a traceparent', () => {
    const { ingress, trace } = traceOf('untraced');
    expect(ingress.parentSpanContext).toBeUndefined();
    expect(ingress.spanContext().traceId).not.toBe(UPSTREAM_TRACE);
    const counterCalls = trace.filter((s) => s.name === 'invoke ops/counter');
    expect(counterCalls.length).toBeGreaterThanOrEqual(1);
    for (const c of counterCalls) expect(c.parentSpanContext?.spanId).toBe(ingress.spanContext().spanId);
  });
});
