// The OTLP/HTTP JSON exporter against a loopback collector: a dev runtime's trace arrives as
// OTLP JSON with hex ids, parent links, kinds, attributes and the service name; a collector that
// is down costs spans, never the runtime.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevRuntime, type DevRuntime } from '../../src/dev-runtime.js';
import { createLogger, silentLogger } from '../../src/logger.js';
import { parseModule } from '../../src/module/index.js';
import { otlpTracerProvider } from '../../src/tracing/otlp.js';
import { serveOnLoopback, type LoopbackServer } from '../dev/support.js';
import { sendText, serveOpsFunctions, type OpsFunctions } from '../metrics/ops-fixture.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: { key: string; value: Record<string, unknown> }[];
  status: { code: number; message?: string };
}
interface OtlpRequest {
  resourceSpans: {
    resource: { attributes: { key: string; value: { stringValue?: string } }[] };
    scopeSpans: { scope: { name: string }; spans: OtlpSpan[] }[];
  }[];
}

describe('OTLP export', () => {
  const requests: { path: string; contentType: string | undefined; body: OtlpRequest }[] = [];
  let collector: LoopbackServer;
  let fns: OpsFunctions;
  let dev: DevRuntime;
  let provider: ReturnType<typeof otlpTracerProvider>;

  beforeAll(async () => {
    collector = await serveOnLoopback((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        requests.push({
          path: req.url ?? '',
          contentType: req.headers['content-type'],
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpRequest,
        });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    provider = otlpTracerProvider({
      endpoint: `http://127.0.0.1:${collector.port}/`,
      serviceName: 'continuum-test',
    });
    fns = await serveOpsFunctions();
    dev = await startDevRuntime({
      module: parseModule(fns.moduleDocs.join('\n---\n'), 'ops-module.yaml'),
      partitions: 1,
      adminPort: 0,
      logger: silentLogger,
      task: { checkpointIntervalMs: 20 },
      tracerProvider: provider,
    });
  });

  afterAll(async () => {
    await dev?.stop();
    await fns?.close();
    await provider?.shutdown();
    await collector?.close();
  });

  it('sends a dev runtime trace to the collector as OTLP JSON', async () => {
    const admin = `http://127.0.0.1:${dev.servers.find((s) => s.name === 'admin')!.port}`;
    await sendText(admin, 'ops/counter/o1', 'exported', undefined);
    await waitUntil(() => fns.sunk.includes('exported'), {
      timeoutMs: 10_000,
      what: 'the forwarded message',
    });
    let spans: OtlpSpan[] = [];
    await waitUntil(
      async () => {
        await provider.forceFlush();
        spans = requests.flatMap((r) =>
          r.body.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((s) => s.spans)),
        );
        return spans.some((s) => s.name === 'invoke ops/sink');
      },
      { timeoutMs: 15_000, what: 'the sink call span at the collector' },
    );
    expect(requests[0]).toMatchObject({ path: '/v1/traces', contentType: 'application/json' });
    expect(requests[0]!.body.resourceSpans[0]!.resource.attributes).toContainEqual({
      key: 'service.name',
      value: { stringValue: 'continuum-test' },
    });
    const ingress = spans.find((s) => s.name === 'ingress admin')!;
    expect(ingress.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(ingress.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(ingress.parentSpanId).toBeUndefined();
    expect(ingress.kind).toBe(4); // PRODUCER
    expect(ingress.attributes).toContainEqual({
      key: 'continuum.target',
      value: { stringValue: 'ops/counter/o1' },
    });
    const counter = spans.filter((s) => s.name === 'invoke ops/counter');
    expect(counter.length).toBeGreaterThanOrEqual(1);
    for (const c of counter) {
      expect(c).toMatchObject({ traceId: ingress.traceId, parentSpanId: ingress.spanId, kind: 3 });
      expect(BigInt(c.endTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(c.startTimeUnixNano));
      expect(c.attributes).toContainEqual({ key: 'continuum.batch_size', value: { intValue: '1' } });
    }
    const sink = spans.find((s) => s.name === 'invoke ops/sink')!;
    expect(sink.traceId).toBe(ingress.traceId);
    expect(counter.map((c) => c.spanId)).toContain(sink.parentSpanId);
  });

  it('drops spans when the collector is down: ending spans never fails, one warning is logged', async () => {
    await collector.close();
    const warnings: string[] = [];
    const down = otlpTracerProvider({
      endpoint: `http://127.0.0.1:${collector.port}`,
      timeoutMs: 1000,
      logger: createLogger({ level: 'warn', format: 'json', write: (l) => warnings.push(l) }),
    });
    const tracer = down.getTracer('t');
    for (let i = 0; i < 3; i++) expect(() => tracer.startSpan(`lost ${i}`).end()).not.toThrow();
    // The SDK reports the failed export to whoever flushes; the runtime's shutdown ignores it.
    await down.forceFlush().catch(() => undefined);
    await down.forceFlush().catch(() => undefined);
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({
      level: 'warn',
      msg: expect.stringContaining('exporting spans failed'),
    });
    await down.shutdown().catch(() => undefined);
  });
});
