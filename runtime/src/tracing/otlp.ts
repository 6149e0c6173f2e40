// Sends spans to an OpenTelemetry collector over OTLP/HTTP with the JSON encoding (POST
// <endpoint>/v1/traces), batched, and builds the tracer provider `statefun dev|run` uses when
// an OTLP endpoint is configured. Failures are logged, rate-limited, and never block the runtime.
import type { AttributeValue, Attributes, HrTime } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';

type ExportCallback = Parameters<SpanExporter['export']>[1];

/** Options of {@link OtlpJsonExporter}. */
export interface OtlpExporterOptions {
  /** Collector base URL, e.g. `http://otel-collector:4318` (`/v1/traces` is appended). */
  endpoint: string;
  /** `service.name` of the resource. @defaultValue 'continuum-runtime' */
  serviceName?: string | undefined;
  /** Extra HTTP headers (e.g. an API key of a hosted collector). */
  headers?: Record<string, string> | undefined;
  /** Per request. @defaultValue 10000 */
  timeoutMs?: number | undefined;
  logger?: Logger | undefined;
}

const warnEveryMs = 60_000;

/** A span exporter speaking OTLP/HTTP JSON. */
export class OtlpJsonExporter implements SpanExporter {
  private readonly url: string;
  private readonly log: Logger;
  private lastWarning = 0;
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly opts: OtlpExporterOptions) {
    this.url = `${opts.endpoint.replace(/\/+$/, '')}/v1/traces`;
    this.log = opts.logger ?? silentLogger;
  }

  export(spans: ReadableSpan[], done: ExportCallback): void {
    const body = JSON.stringify(this.encode(spans));
    const sent = fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...this.opts.headers },
      body,
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
    })
      .then(async (res) => {
        await res.arrayBuffer().catch(() => undefined);
        if (!res.ok) throw new Error(`the collector answered HTTP ${res.status}`);
        done({ code: 0 });
      })
      .catch((err: unknown) => {
        const now = Date.now();
        if (now - this.lastWarning > warnEveryMs) {
          this.lastWarning = now;
          this.log.warn('exporting spans failed; spans are dropped until the collector answers', {
            endpoint: this.opts.endpoint,
            spans: spans.length,
            err,
          });
        }
        done({ code: 1, error: err instanceof Error ? err : new Error(String(err)) });
      })
      .finally(() => this.pending.delete(sent));
    this.pending.add(sent);
  }

  async forceFlush(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  async shutdown(): Promise<void> {
    await this.forceFlush();
  }

  /** The OTLP JSON request body for `spans` (ids in hex, times as nanosecond strings). */
  encode(spans: readonly ReadableSpan[]): unknown {
    return {
      resourceSpans: [
        {
          resource: {
            attributes: attributes({ 'service.name': this.opts.serviceName ?? 'continuum-runtime' }),
          },
          scopeSpans: [
            {
              scope: { name: 'continuum-runtime' },
              spans: spans.map((s) => {
                const sc = s.spanContext();
                return {
                  traceId: sc.traceId,
                  spanId: sc.spanId,
                  parentSpanId: s.parentSpanContext?.spanId,
                  name: s.name,
                  // OTLP numbers kinds from 1 (INTERNAL); the API from 0.
                  kind: s.kind + 1,
                  startTimeUnixNano: nanos(s.startTime),
                  endTimeUnixNano: nanos(s.endTime),
                  attributes: attributes(s.attributes),
                  links: s.links.map((l) => ({ traceId: l.context.traceId, spanId: l.context.spanId })),
                  status:
                    s.status.message === undefined
                      ? { code: s.status.code }
                      : { code: s.status.code, message: s.status.message },
                };
              }),
            },
          ],
        },
      ],
    };
  }
}

/** Options of {@link otlpTracerProvider}. */
export interface OtlpTracingOptions extends OtlpExporterOptions {
  /** Share of new traces recorded (traces started upstream follow their parent). @defaultValue 1 */
  sampleRatio?: number | undefined;
}

/** A tracer provider that batches spans to an OTLP collector. Shut it down to flush. */
export function otlpTracerProvider(opts: OtlpTracingOptions): BasicTracerProvider {
  return new BasicTracerProvider({
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(opts.sampleRatio ?? 1) }),
    spanProcessors: [
      new BatchSpanProcessor(new OtlpJsonExporter(opts), {
        maxQueueSize: 4096,
        maxExportBatchSize: 512,
        scheduledDelayMillis: 2000,
      }),
    ],
  });
}

function nanos(t: HrTime): string {
  return (BigInt(t[0]) * 1_000_000_000n + BigInt(t[1])).toString();
}

function attributes(attrs: Attributes): { key: string; value: unknown }[] {
  return Object.entries(attrs).flatMap(([key, v]) => (v === undefined ? [] : [{ key, value: anyValue(v) }]));
}

function anyValue(v: AttributeValue): unknown {
  if (Array.isArray(v))
    return { arrayValue: { values: v.filter((x) => x !== null && x !== undefined).map((x) => anyValue(x)) } };
  switch (typeof v) {
    case 'string':
      return { stringValue: v };
    case 'boolean':
      return { boolValue: v };
    default:
      return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
  }
}
