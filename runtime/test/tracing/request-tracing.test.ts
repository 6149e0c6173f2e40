// Tracing of request-response on a dev runtime with an in-memory exporter: the `traceparent`
// header of an HTTP request to the request-response ingress is continued — the message's ingress
// span is a child of the caller's span and the function call it causes belongs to the same trace
// (and the function endpoint receives that trace) — while a request without the header starts a
// trace of its own.
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { types } from '@continuum/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevRuntime, type DevRuntime } from '../../src/dev-runtime.js';
import { silentLogger } from '../../src/logger.js';
import { parseModule } from '../../src/module/index.js';
import { parseTraceparent } from '../../src/tracing/tracing.js';
import { endpointDoc, serveOnLoopback, sf, type LoopbackServer } from '../dev/support.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

const CALLER_TRACE = '0af7651916cd43dd8448eb211c80319c';
const CALLER_SPAN = 'b7ad6b7169203331';

describe('request-response tracing', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  let service: LoopbackServer;
  let dev: DevRuntime;
  let base: string;
  /** The `traceparent` headers of the requests the function endpoint received. */
  const received: string[] = [];

  beforeAll(async () => {
    // An official-SDK function answering its caller, behind a server that notes each request's traceparent.
    const statefun = new sf.StateFun();
    statefun.bind({
      typename: 'example/echo',
      specs: [],
      fn(context) {
        context.send(
          sf.messageBuilder({
            typename: context.caller!.typename,
            id: context.caller!.id,
            value: `hello ${context.self.id}`,
          }),
        );
      },
    });
    const handle = statefun.handler();
    service = await serveOnLoopback((req, res) => {
      const header = req.headers.traceparent;
      if (typeof header === 'string') received.push(header);
      void handle(req, res);
    });
    const module = [
      endpointDoc('example/*', service.port),
      [
        'kind: io.continuum.http.v1/ingress',
        'spec:',
        '  id: example/requests',
        '  port: 0',
        '  defaultTimeout: 20s',
      ].join('\n'),
    ].join('\n---\n');
    dev = await startDevRuntime({
      module: parseModule(module, 'request-tracing.yaml'),
      logger: silentLogger,
      partitions: 2,
      adminPort: 0,
      task: { checkpointIntervalMs: 20 },
      tracerProvider: provider,
    });
    base = `http://127.0.0.1:${dev.servers.find((s) => s.name === 'http ingress example/requests')!.port}`;
  });

  afterAll(async () => {
    await dev?.stop();
    await service?.close();
    await provider.shutdown();
  });

  const spansFor = async (target: string): Promise<{ ingress: ReadableSpan; invoke: ReadableSpan }> => {
    let found: { ingress: ReadableSpan; invoke: ReadableSpan } | undefined;
    await waitUntil(
      () => {
        const spans = exporter.getFinishedSpans();
        const ingress = spans.find(
          (s) => s.name === 'ingress http:example/requests' && s.attributes['continuum.target'] === target,
        );
        const invoke = spans.find(
          (s) => s.name === 'invoke example/echo' && s.attributes['continuum.address'] === target,
        );
        if (ingress !== undefined && invoke !== undefined) found = { ingress, invoke };
        return found !== undefined;
      },
      { timeoutMs: 10_000, what: `the ingress and invoke spans of ${target}` },
    );
    return found!;
  };

  it("continues the request's traceparent: the ingress span is a child of the caller's span, the function call is in its trace", async () => {
    const res = await fetch(`${base}/v1/invoke/example/echo/traced`, {
      method: 'POST',
      body: Buffer.from(types.string.serialize('hi')),
      headers: {
        'content-type': 'application/vnd.io.statefun.types/string',
        traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01`,
      },
    });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const { ingress, invoke } = await spansFor('example/echo/traced');
    expect(ingress.spanContext().traceId).toBe(CALLER_TRACE);
    expect(ingress.parentSpanContext?.spanId).toBe(CALLER_SPAN);
    expect(invoke.spanContext().traceId).toBe(CALLER_TRACE);
    expect(invoke.parentSpanContext?.spanId).toBe(ingress.spanContext().spanId);
    // The reply, committed by the checkpoint, is a child of the call that produced it.
    let reply: ReadableSpan | undefined;
    await waitUntil(
      () => {
        reply = exporter
          .getFinishedSpans()
          .find(
            (s) =>
              s.name.startsWith('egress continuum-replies') &&
              s.parentSpanContext?.spanId === invoke.spanContext().spanId,
          );
        return reply !== undefined;
      },
      { timeoutMs: 10_000, what: 'the egress span of the reply' },
    );
    expect(reply?.spanContext().traceId).toBe(CALLER_TRACE);
    // The function endpoint is called within that trace, as the child of the call span.
    const sent = received.map((h) => parseTraceparent(h)).filter((sc) => sc?.traceId === CALLER_TRACE);
    expect(sent.map((sc) => sc?.spanId)).toEqual([invoke.spanContext().spanId]);
  });

  it('a request without traceparent (or with a malformed one) starts a trace of its own', async () => {
    for (const [id, headers] of [
      ['untraced', {}],
      ['malformed', { traceparent: `00-${CALLER_TRACE}-nothex-01` }],
    ] as const) {
      const res = await fetch(`${base}/v1/invoke/example/echo/${id}`, {
        method: 'POST',
        body: Buffer.from(types.string.serialize('hi')),
        headers: { 'content-type': 'application/vnd.io.statefun.types/string', ...headers },
      });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      const { ingress, invoke } = await spansFor(`example/echo/${id}`);
      expect(ingress.spanContext().traceId).not.toBe(CALLER_TRACE);
      expect(ingress.parentSpanContext).toBeUndefined();
      expect(invoke.spanContext().traceId).toBe(ingress.spanContext().traceId);
    }
  });
});
