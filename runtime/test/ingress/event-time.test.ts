// Event time at the ingress: extractors, a source's watermark and idleness, the Kafka record
// routing with an extractor, and the playground ingress as one source whose marks follow its data.
import { afterEach, describe, expect, it } from 'vitest';
import { Header, fromInternalRecord } from '../../src/core/envelope.js';
import type { FunctionRouter } from '../../src/core/routing.js';
import type { WatermarkMark } from '../../src/core/watermarks.js';
import { AppendingSource } from '../../src/ingress/appending-source.js';
import { extractEventTime, SourceWatermark, watermarkGroupsOf } from '../../src/ingress/event-time.js';
import { routeIngressRecord } from '../../src/core/ingress-routing.js';
import { parseModule } from '../../src/module/index.js';
import type { EventTimeConfig } from '../../src/module/types.js';
import { buildPlaygroundIngress } from '../../src/playground/playground-ingress.js';
import type { IngressMessage } from '../../src/observers.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));
const config = (over: Partial<EventTimeConfig> = {}): EventTimeConfig => ({
  maxOutOfOrdernessMs: 0,
  idleTimeoutMs: 0,
  extractor: { type: 'ingress-time' },
  ...over,
});
const identity = { group: 'ex/in', source: 't/0', members: 't:1' };

describe('event-time extractors', () => {
  it('record timestamps, with the ingress time for a record without one', () => {
    expect(extractEventTime({ type: 'record-timestamp' }, null, 1234, 99)).toEqual({
      ok: true,
      eventTime: 1234,
    });
    expect(extractEventTime({ type: 'record-timestamp' }, null, -1, 99)).toEqual({ ok: true, eventTime: 99 });
  });

  it('a JSON field: ms since the epoch or ISO-8601 text, dotted paths into objects', () => {
    const f = (field: string) => ({ type: 'json-field' as const, field });
    expect(extractEventTime(f('ts'), enc({ ts: 1_700_000_000_123.7 }), 0, 0)).toEqual({
      ok: true,
      eventTime: 1_700_000_000_123,
    });
    expect(extractEventTime(f('event.at'), enc({ event: { at: '2024-05-01T12:00:00.250Z' } }), 0, 0)).toEqual(
      {
        ok: true,
        eventTime: Date.parse('2024-05-01T12:00:00.250Z'),
      },
    );
  });

  it('a JSON field that is missing, of the wrong kind, or not JSON at all is an error that says so', () => {
    const f = { type: 'json-field' as const, field: 'ts' };
    const reason = (v: Uint8Array | null) => {
      const r = extractEventTime(f, v, 0, 0);
      return r.ok ? 'ok' : r.reason;
    };
    expect(reason(enc({ other: 1 }))).toBe(
      'event-time field "ts" is missing; expected ms since the epoch or ISO-8601 text',
    );
    expect(reason(enc({ ts: true }))).toContain('is a boolean');
    expect(reason(enc({ ts: 'yesterday' }))).toContain('not a time after the epoch');
    expect(reason(enc({ ts: -5 }))).toContain('not a time after the epoch');
    expect(reason(new Uint8Array([0xff, 0xfe]))).toContain('not UTF-8 JSON');
    expect(reason(null)).toContain('no value');
  });
});

describe('the watermark of a source', () => {
  it('trails the highest event time by the disorder bound, and has news only when it advanced', () => {
    const w = new SourceWatermark(config({ maxOutOfOrdernessMs: 500 }), identity, 0);
    expect(w.takeMark()).toBeUndefined();
    w.observe(10_000, 1);
    w.observe(9_000, 2); // out of order: the maximum stays
    expect(w.takeMark()).toEqual({ ...identity, watermark: 9_500 });
    expect(w.takeMark()).toBeUndefined();
    w.observe(9_800, 3);
    expect(w.hasNews).toBe(false);
    w.observe(10_100, 4);
    expect(w.takeMark()?.watermark).toBe(9_600);
  });

  it('announces idleness once per quiet spell, and comes back with its next record', () => {
    const w = new SourceWatermark(config({ idleTimeoutMs: 1_000 }), identity, 0);
    expect(w.takeIdle(999)).toBeUndefined();
    expect(w.takeIdle(1_000)).toEqual({ ...identity, watermark: 'idle' });
    expect(w.takeIdle(5_000)).toBeUndefined();
    w.observe(200, 5_001); // behind nothing announced: still news, the source is back
    expect(w.takeMark()).toEqual({ ...identity, watermark: 200 });
    expect(w.takeIdle(5_500)).toBeUndefined();
    expect(w.takeIdle(6_001)?.watermark).toBe('idle');
    w.observe(100, 6_002); // back, though not ahead of its last watermark
    expect(w.takeMark()?.watermark).toBe(200);
  });

  it('never idles with an idle timeout of 0', () => {
    const w = new SourceWatermark(config({ idleTimeoutMs: 0 }), identity, 0);
    expect(w.takeIdle(1e12)).toBeUndefined();
    expect(w.idleDueAt()).toBeUndefined();
  });

  it('says when it will be idle, and nothing once it has said so (a quiet ingress sets no timer)', () => {
    const w = new SourceWatermark(config({ idleTimeoutMs: 1_000 }), identity, 0);
    w.observe(10, 300);
    expect(w.idleDueAt()).toBe(1_300);
    expect(w.takeIdle(1_300)?.watermark).toBe('idle');
    expect(w.idleDueAt()).toBeUndefined();
    w.observe(20, 2_000);
    expect(w.idleDueAt()).toBe(3_000);
  });
});

describe('Kafka ingress routing with event time', () => {
  const route = { topic: 'clicks', valueType: 'ex/Click', targets: ['ex/windows'] };
  const opts = {
    internalTopic: 'internal',
    partitions: 4,
    partitioning: 'address' as const,
    deadLetterTopic: 'dlq',
    ingressId: 'ex/in',
  };
  const record = (value: Uint8Array) => ({
    topic: 'clicks',
    partition: 0,
    offset: 7,
    key: 'k',
    value,
    headers: {},
    timestamp: 555,
  });

  it('stamps the routed records with the extracted event time', () => {
    const routed = routeIngressRecord(
      record(enc({ ts: 4_000 })),
      route,
      { ...opts, extractor: { type: 'json-field', field: 'ts' } },
      0,
    );
    expect(routed.eventTime).toBe(4_000);
    const out = routed.records[0]!;
    const moved = { ...out, partition: 0, offset: 0, headers: {}, timestamp: 0 };
    expect(fromInternalRecord(moved).eventTime).toBe(4_000);
    const byTimestamp = routeIngressRecord(record(enc({})), route, opts, 0);
    expect(byTimestamp.eventTime).toBe(555);
  });

  it('dead-letters a record whose event time cannot be read, with the reason', () => {
    const routed = routeIngressRecord(
      record(enc({})),
      route,
      { ...opts, extractor: { type: 'json-field', field: 'ts' } },
      0,
    );
    expect(routed.deadLetter).toBe(true);
    expect(routed.records[0]!.topic).toBe('dlq');
    expect(routed.records[0]!.headers![Header.code]).toBe('INGRESS_EVENT_TIME_INVALID');
    expect(routed.records[0]!.headers![Header.reason]).toContain('event-time field "ts" is missing');
  });
});

describe('an appending source (the playground ingress)', () => {
  const sources: AppendingSource[] = [];
  afterEach(async () => {
    for (const s of sources.splice(0)) await s.close();
  });

  function source(
    over: Partial<EventTimeConfig>,
    log: (string | WatermarkMark)[],
    clock?: () => number,
  ): AppendingSource {
    const s = new AppendingSource({
      config: config(over),
      identity,
      send: async (messages: readonly IngressMessage[]) => {
        await new Promise((r) => setTimeout(r, 1));
        for (const m of messages) log.push(`data@${m.eventTime}`);
      },
      appendMarks: async (mark) => {
        await new Promise((r) => setTimeout(r, 1));
        log.push(mark);
      },
      clock,
    });
    sources.push(s);
    return s;
  }

  it('appends the mark that covers a batch after the batch, and stamps ingress times that never go back', async () => {
    const log: (string | WatermarkMark)[] = [];
    let now = 1_000;
    const s = source({ maxOutOfOrdernessMs: 100 }, log, () => now);
    const msg = (eventTime?: number): IngressMessage => ({
      target: { namespace: 'ex', type: 'f', id: '1' },
      argument: { typename: 'ex/T', hasValue: true, value: new Uint8Array() },
      eventTime,
    });
    const a = s.send([msg()]);
    now = 900; // the clock stepped back: the stamp does not
    const b = s.send([msg(), msg(5_000)]);
    await Promise.all([a, b]);
    await waitUntil(() => log.length >= 5, { timeoutMs: 5_000, what: 'data and marks' });
    const marks = log.filter((e): e is WatermarkMark => typeof e !== 'string');
    const data = log.filter((e): e is string => typeof e === 'string');
    expect(data).toEqual(['data@1000', 'data@1000', 'data@5000']);
    expect(marks.at(-1)).toEqual({ ...identity, watermark: 4_900 });
    // Every mark comes after the data it covers.
    const lastData = log.lastIndexOf('data@5000');
    expect(log.findIndex((e) => typeof e !== 'string' && e.watermark === 4_900)).toBeGreaterThan(lastData);
  });

  it('announces idleness after its idle timeout without messages', async () => {
    const log: (string | WatermarkMark)[] = [];
    source({ idleTimeoutMs: 40 }, log);
    await waitUntil(() => log.length === 1, { timeoutMs: 5_000, what: 'the idle mark' });
    expect(log).toEqual([{ ...identity, watermark: 'idle' }]);
  });

  it('refuses messages beyond its queue bound with a retryable error', async () => {
    const s = new AppendingSource({
      config: config(),
      identity,
      send: () => new Promise(() => undefined),
      appendMarks: () => Promise.resolve(),
      maxQueued: 2,
    });
    const m: IngressMessage = {
      target: { namespace: 'ex', type: 'f', id: '1' },
      argument: { typename: 'ex/T', hasValue: true, value: new Uint8Array() },
    };
    void s.send([m, m]);
    await expect(s.send([m])).rejects.toMatchObject({ code: 'INGRESS_OVERLOADED', retryable: true });
  });
});

describe('the playground ingress with event time', () => {
  const functions: FunctionRouter = {
    resolve: () => ({ endpoint: undefined as never, url: 'http://x', maxBatch: 10 }),
  };

  it('reads the event time from a JSON field and answers 400 when it is missing', async () => {
    const sent: IngressMessage[] = [];
    const marks: WatermarkMark[] = [];
    const app = buildPlaygroundIngress({
      port: 8090,
      functions,
      send: (m) => {
        sent.push(...m);
        return Promise.resolve();
      },
      eventTime: config({ extractor: { type: 'json-field', field: 'ts' } }),
      appendMarks: (mark) => {
        marks.push(mark);
        return Promise.resolve();
      },
    });
    try {
      const ok = await app.inject({
        method: 'PUT',
        url: '/ex/windows/k1',
        headers: { 'content-type': 'application/vnd.ex/Click' },
        payload: JSON.stringify({ ts: 61_000 }),
      });
      expect(ok.statusCode).toBe(200);
      expect(sent[0]!.eventTime).toBe(61_000);
      await waitUntil(() => marks.length === 1, { timeoutMs: 5_000, what: 'the mark' });
      expect(marks[0]).toEqual({
        group: 'io.statefun.playground/ingress:8090',
        source: 'http/0',
        members: 'http:1',
        watermark: 61_000,
      });
      const bad = await app.inject({
        method: 'PUT',
        url: '/ex/windows/k1',
        headers: { 'content-type': 'application/vnd.ex/Click' },
        payload: '{"at": 1}',
      });
      expect(bad.statusCode).toBe(400);
      expect(bad.json()).toEqual({
        error: 'event-time field "ts" is missing; expected ms since the epoch or ISO-8601 text',
      });
    } finally {
      await app.close();
    }
  });

  it('the runtime expects marks from each Kafka ingress (in dev mode too) and each playground ingress', () => {
    const module = parseModule(
      `kind: io.statefun.endpoints.v2/http
spec: {functions: ex/*, urlPathTemplate: "http://f/{function.name}"}
---
kind: io.statefun.kafka.v1/ingress
spec: {id: ex/clicks, address: k:9092, topics: [{topic: c, valueType: ex/C, targets: [ex/w]}]}
---
kind: io.statefun.playground.v1/ingress
spec: {port: 8090}
`,
      'module.yaml',
    );
    expect(watermarkGroupsOf(module)).toEqual(['ex/clicks', 'io.statefun.playground/ingress:8090']);
  });
});
