// Cached series: updates through cached children expose exactly what prom-client's own inc/observe
// would, the cache of label sets stays within its bound, and RuntimeMetrics' exposition for a fixed
// sequence of events is byte for byte what it was before updates went through the cache.
import { readFileSync } from 'node:fs';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { ContinuumError } from '../../src/errors.js';
import { CachedCounter, CachedHistogram, LabelSetCache } from '../../src/metrics/cached-series.js';
import { combineObservers } from '../../src/metrics/combine-observers.js';
import { RuntimeMetrics } from '../../src/metrics/runtime-metrics.js';
import { exposeSequence } from './metrics-sequence.js';

const buckets = [0.001, 0.01, 0.1, 1, 10];

/** The same series twice: prom-client's classes in one registry, the cached ones in another. */
function pair(maxCachedLabelSets?: number) {
  const plain = new Registry();
  const cached = new Registry();
  const make = (registry: Registry, isCached: boolean) => {
    const reg = [registry];
    const C = isCached ? CachedCounter : Counter;
    const H = isCached ? CachedHistogram : Histogram;
    return {
      byFn: new C({
        name: 'calls_total',
        help: 'h1',
        labelNames: ['fn'],
        registers: reg,
        maxCachedLabelSets,
      }),
      byFnKind: new C({
        name: 'effects_total',
        help: 'h2',
        labelNames: ['fn', 'kind'],
        registers: reg,
        maxCachedLabelSets,
      }),
      plainCount: new C({ name: 'checkpoints_total', help: 'h3', registers: reg, maxCachedLabelSets }),
      latency: new H({
        name: 'latency_seconds',
        help: 'h4',
        labelNames: ['fn'],
        buckets,
        registers: reg,
        maxCachedLabelSets,
      }),
      sizes: new H({ name: 'sizes', help: 'h5', buckets: [1, 3, 6, 10], registers: reg, maxCachedLabelSets }),
      gauge: new Gauge({ name: 'in_flight', help: 'h6', labelNames: ['fn'], registers: reg }),
    };
  };
  return { plain, cached, p: make(plain, false), c: make(cached, true) };
}

/** Applies one pseudo-random update to both sets of series. */
function updates(count: number, labelValues: number) {
  let s = 7;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const fns = Array.from({ length: labelValues }, (_, i) => `ns/fn-${i}`);
  const kinds = ['message', 'egress', 'state'];
  return function* (pairs: ReturnType<typeof pair>) {
    const { p, c } = pairs;
    for (let i = 0; i < count; i++) {
      const fn = fns[Math.floor(rnd() * fns.length)]!;
      const kind = kinds[Math.floor(rnd() * kinds.length)]!;
      const n = Math.floor(rnd() * 5);
      const v = rnd() * 20 * (rnd() < 0.5 ? 0.01 : 1);
      p.byFn.inc({ fn }, n);
      (c.byFn as CachedCounter).child(fn).inc(n);
      p.byFnKind.inc({ fn, kind });
      (c.byFnKind as CachedCounter).child(fn, kind).inc();
      p.latency.observe({ fn }, v);
      (c.latency as CachedHistogram).child(fn).observe(v);
      if (i % 7 === 0) {
        p.plainCount.inc();
        (c.plainCount as CachedCounter).child().inc();
        p.sizes.observe(n * 3);
        (c.sizes as CachedHistogram).child().observe(n * 3);
      }
      p.gauge.set({ fn }, n);
      c.gauge.set({ fn }, n);
      yield i;
    }
  };
}

describe('cached series', () => {
  it('expose exactly what prom-client does for the same updates (counters, histograms, gauges)', async () => {
    const pairs = pair();
    const before = await pairs.cached.metrics();
    expect(before).toBe(await pairs.plain.metrics());
    for (const i of updates(3000, 20)(pairs)) {
      if (i % 500 === 499) expect(await pairs.cached.metrics()).toBe(await pairs.plain.metrics());
    }
    const text = await pairs.cached.metrics();
    expect(text).toBe(await pairs.plain.metrics());
    // Not trivially equal: every kind of series has samples.
    expect(text).toMatch(/^effects_total\{fn="ns\/fn-\d+",kind="egress"\} [1-9]/m);
    expect(text).toMatch(/^latency_seconds_bucket\{le="\+Inf",fn="ns\/fn-\d+"\} [1-9]/m);
    expect(text).toMatch(/^sizes_count [1-9]/m);
    expect(text).toMatch(/^checkpoints_total [1-9]/m);
    expect((pairs.c.byFnKind as CachedCounter).cachedLabelSets).toBe(60);
  });

  it('keep at most maxCachedLabelSets children and update the rest through prom-client, same values', async () => {
    const pairs = pair(8);
    for (const i of updates(2000, 30)(pairs)) void i;
    const c = pairs.c;
    expect((c.byFn as CachedCounter).cachedLabelSets).toBe(8);
    expect((c.byFnKind as CachedCounter).cachedLabelSets).toBe(8);
    expect((c.latency as CachedHistogram).cachedLabelSets).toBe(8);
    const text = await pairs.cached.metrics();
    expect(text).toBe(await pairs.plain.metrics());
    // All 30 label values are exposed, not only the cached ones.
    expect(text.match(/^calls_total\{/gm)).toHaveLength(30);
  });

  it('after reset start over with fresh children, as prom-client does', async () => {
    const pairs = pair();
    const gen = updates(400, 5);
    for (const i of gen(pairs)) void i;
    for (const m of [pairs.plain, pairs.cached]) m.resetMetrics();
    expect((pairs.c.byFn as CachedCounter).cachedLabelSets).toBe(0);
    for (const i of updates(300, 5)(pairs)) void i;
    expect(await pairs.cached.metrics()).toBe(await pairs.plain.metrics());
  });

  it("after the first update of a label set, update it without prom-client's inc or observe", () => {
    const registry = new Registry();
    const counter = new CachedCounter({
      name: 'c_total',
      help: 'h',
      labelNames: ['fn', 'kind'],
      registers: [registry],
    });
    const histogram = new CachedHistogram({
      name: 'h',
      help: 'h',
      labelNames: ['fn'],
      buckets,
      registers: [registry],
    });
    const plain = new CachedCounter({ name: 'p_total', help: 'h', registers: [registry] });
    counter.child('a', 'b').inc();
    histogram.child('a').observe(0.5);
    plain.child().inc();
    const inc = vi.spyOn(counter, 'inc');
    const observe = vi.spyOn(histogram, 'observe');
    const plainInc = vi.spyOn(plain, 'inc');
    for (let i = 0; i < 100; i++) {
      counter.child('a', 'b').inc(2);
      histogram.child('a').observe(i / 10);
      plain.child().inc();
    }
    expect(inc).not.toHaveBeenCalled();
    expect(observe).not.toHaveBeenCalled();
    expect(plainInc).not.toHaveBeenCalled();
    // A new label set goes through prom-client once, to create its series.
    counter.child('a', 'c').inc();
    expect(inc).toHaveBeenCalledTimes(1);
  });

  it('reject what prom-client rejects, with its errors', () => {
    const registry = new Registry();
    const counter = new CachedCounter({
      name: 'c_total',
      help: 'h',
      labelNames: ['fn'],
      registers: [registry],
    });
    counter.child('a').inc(2);
    expect(() => counter.child('a').inc(-1)).toThrow('It is not possible to decrease a counter');
    expect(() => counter.child('a').inc(Infinity)).toThrow(/Value is not a valid number/);
    const histogram = new CachedHistogram({
      name: 'h',
      help: 'h',
      labelNames: ['fn'],
      registers: [registry],
    });
    histogram.child('a').observe(1);
    expect(() => histogram.child('a').observe(Number.NaN)).toThrow(/Value is not a valid number/);
    expect(() => counter.child()).toThrow('a value for label "fn" is required');
    expect(() => new LabelSetCache(1, -1)).toThrow('maxCachedLabelSets must be a whole number ≥ 0, got -1');
  });
});

describe('RuntimeMetrics exposition', () => {
  it('is byte for byte what it was for a fixed sequence of events, scraped twice', async () => {
    const [first, second] = await exposeSequence({ RuntimeMetrics, combineObservers, ContinuumError });
    const fixture = (n: number) =>
      readFileSync(new URL(`./fixtures/metrics-sequence-${n}.prom`, import.meta.url), 'utf8');
    expect(first).toBe(fixture(1));
    expect(second).toBe(fixture(2));
    expect(second).toMatch(/^continuum_egress_records_total\{topic="_other"\} [1-9]/m);
  });
});
