// OpenTelemetry tracing of messages, off unless a TracerProvider is given: one trace per message
// from ingress through every function call it causes to egress (or the dead-letter topic). The
// W3C `traceparent` travels in internal-record headers and, as an HTTP header, to function endpoints.
// A Kafka ingress record that carries a `traceparent` header continues its producer's trace.
import { AsyncLocalStorage } from 'node:async_hooks';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Link,
  type Span,
  type SpanContext,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { addressKey } from '../core/address.js';
import { Header } from '../core/envelope.js';
import type { Address } from '@continuum/sdk/protocol';
import type { LogRecord } from '../log/log.js';
import type {
  BatchObservation,
  IngressMessage,
  MoveObservation,
  ObservedBatch,
  ObservedCheckpoint,
  RuntimeObserver,
  SendObservation,
} from '../observers.js';

/** The W3C Trace Context header, in records and in HTTP requests to function endpoints. */
export const TRACEPARENT = 'traceparent';

/** Options of {@link Tracing}. */
export interface TracingOptions {
  /** Where spans go, e.g. a `BasicTracerProvider` with an OTLP or in-memory exporter. */
  tracerProvider: TracerProvider;
  internalTopic: string;
  deadLetterTopic: string;
}

const traceparentPattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const maxLinks = 32;
// undici announces every request it creates here; the tracer adds the header to the ones it started.
const undiciRequestCreated = 'undici:request:create';

/** `00-<trace id>-<span id>-<flags>` of a span context. */
export function formatTraceparent(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-${sc.traceFlags.toString(16).padStart(2, '0')}`;
}

/** The `traceparent` header of a record from outside (Kafka header names are case-sensitive). */
export function upstreamTraceparent(headers: Readonly<Record<string, string>>): string | undefined {
  const exact = headers[TRACEPARENT];
  if (exact !== undefined) return exact;
  for (const [name, value] of Object.entries(headers)) if (name.toLowerCase() === TRACEPARENT) return value;
  return undefined;
}

/** The remote span context of a `traceparent` value; undefined when absent or malformed. */
export function parseTraceparent(value: string | undefined): SpanContext | undefined {
  if (value === undefined) return undefined;
  const m = traceparentPattern.exec(value.trim().toLowerCase());
  if (m === null) return undefined;
  const [, traceId, spanId, flags] = m as unknown as [string, string, string, string];
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return { traceId, spanId, traceFlags: parseInt(flags, 16), isRemote: true };
}

/**
 * Traces messages through a runtime. Give {@link Tracing.observer} to the runtime (combined with
 * the metrics observer) and call {@link Tracing.close} when the runtime stops.
 *
 * Spans: `ingress <source>` (a message appended from outside; for a Kafka ingress record with a
 * valid `traceparent` header, a child of that upstream span), `invoke <namespace/type>` (one
 * function call, a child of the message's trace; further messages of the batch are links),
 * `egress <topic>` and `dead-letter` (records committed by a checkpoint, children of the call
 * that produced them).
 */
export class Tracing {
  readonly observer: RuntimeObserver;
  private readonly tracer: Tracer;
  private readonly current = new AsyncLocalStorage<string>();
  private readonly onRequest: (message: unknown) => void;

  constructor(private readonly opts: TracingOptions) {
    this.tracer = opts.tracerProvider.getTracer('continuum-runtime');
    this.onRequest = (message) => {
      const traceparent = this.current.getStore();
      if (traceparent === undefined) return;
      const request = (message as { request?: { addHeader?: unknown } } | undefined)?.request;
      if (typeof request?.addHeader === 'function')
        (request.addHeader as (k: string, v: string) => void).call(request, TRACEPARENT, traceparent);
    };
    subscribe(undiciRequestCreated, this.onRequest);
    this.observer = {
      sending: (source, messages) => this.sending(source, messages),
      moving: (source, record, targets) => this.moving(source, record, targets),
      batchStarted: (batch) => this.batchStarted(batch),
      checkpointed: (c) => this.checkpointed(c),
    };
  }

  /** Stops adding headers to HTTP requests. */
  close(): void {
    unsubscribe(undiciRequestCreated, this.onRequest);
  }

  private sending(source: string, messages: readonly IngressMessage[]): SendObservation {
    const spans = messages.map((m) => {
      // A message from an HTTP request that carries a valid `traceparent` continues its trace.
      const upstream = parseTraceparent(m.traceparent);
      return this.tracer.startSpan(
        `ingress ${source}`,
        {
          kind: SpanKind.PRODUCER,
          attributes: {
            'continuum.source': source,
            'continuum.target': addressKey(m.target),
            'continuum.typename': m.argument.typename,
          },
        },
        upstream === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, upstream),
      );
    });
    return {
      headers: spans.map((s) => headerOf(s)),
      ended: (error) => {
        for (const s of spans) {
          if (error !== undefined) fail(s, error);
          s.end();
        }
      },
    };
  }

  /**
   * One span per Kafka ingress record, covering its move into the internal log: a child of the
   * upstream producer's span when the record carries a valid `traceparent`, else a new trace.
   */
  private moving(source: string, record: LogRecord, targets: readonly Address[]): MoveObservation {
    const upstream = parseTraceparent(upstreamTraceparent(record.headers));
    const span = this.tracer.startSpan(
      `ingress ${source}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'continuum.source': source,
          'continuum.target': targets.map((t) => addressKey(t)).join(','),
          'messaging.system': 'kafka',
          'messaging.destination.name': record.topic,
          'messaging.destination.partition.id': String(record.partition),
          'messaging.kafka.offset': record.offset,
        },
      },
      upstream === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, upstream),
    );
    return {
      headers: headerOf(span),
      ended: (error) => {
        if (error !== undefined) fail(span, error);
        span.end();
      },
    };
  }

  private batchStarted(batch: ObservedBatch): BatchObservation {
    const contexts: SpanContext[] = [];
    for (const h of batch.headers) {
      const sc = parseTraceparent(h[TRACEPARENT]);
      if (sc !== undefined && !contexts.some((c) => c.spanId === sc.spanId)) contexts.push(sc);
    }
    const [parent, ...others] = contexts;
    const links: Link[] = others.slice(0, maxLinks).map((context) => ({ context }));
    const span = this.tracer.startSpan(
      `invoke ${batch.functionType}`,
      {
        kind: SpanKind.CLIENT,
        links,
        attributes: {
          'continuum.function_type': batch.functionType,
          'continuum.address': addressKey(batch.address),
          'continuum.partition': batch.partition,
          'continuum.batch_size': batch.size,
          'continuum.negotiation_round': batch.round,
        },
      },
      parent === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, parent),
    );
    const header = headerOf(span);
    const traceparent = header?.[TRACEPARENT];
    return {
      around: (call) => (traceparent === undefined ? call() : this.current.run(traceparent, call)),
      recordHeaders: header,
      ended: ({ response, error }) => {
        if (error !== undefined) fail(span, error);
        else if (response?.incompleteInvocationContext !== undefined)
          span.setAttribute('continuum.incomplete_context', true);
        span.end();
      },
    };
  }

  private checkpointed(c: ObservedCheckpoint): void {
    for (const r of c.records) {
      if (r.topic === this.opts.internalTopic) continue;
      const parent = parseTraceparent(r.headers?.[TRACEPARENT]);
      if (parent === undefined) continue;
      const ctx = trace.setSpanContext(ROOT_CONTEXT, parent);
      if (r.topic === this.opts.deadLetterTopic) {
        const span = this.tracer.startSpan(
          'dead-letter',
          {
            kind: SpanKind.PRODUCER,
            attributes: {
              'continuum.dead_letter.code': r.headers?.[Header.code] ?? '',
              'continuum.dead_letter.reason': r.headers?.[Header.reason] ?? '',
              'messaging.destination.name': r.topic,
            },
          },
          ctx,
        );
        span.setStatus({ code: SpanStatusCode.ERROR, message: r.headers?.[Header.code] });
        span.end();
        continue;
      }
      this.tracer
        .startSpan(
          `egress ${r.topic}`,
          {
            kind: SpanKind.PRODUCER,
            attributes: { 'messaging.destination.name': r.topic, 'continuum.partition': c.partition },
          },
          ctx,
        )
        .end();
    }
  }
}

function headerOf(span: Span): Record<string, string> | undefined {
  const sc = span.spanContext();
  // A non-recording provider hands out the invalid context: nothing to propagate.
  if (!trace.isSpanContextValid(sc)) return undefined;
  return { [TRACEPARENT]: formatTraceparent(sc) };
}

function fail(span: Span, error: unknown): void {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message.slice(0, 300) : String(error),
  });
  if (typeof code === 'string') span.setAttribute('continuum.error_code', code);
}
