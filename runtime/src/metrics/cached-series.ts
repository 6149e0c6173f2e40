// prom-client counters and histograms whose labelled children are looked up by label values in a
// bounded cache, so a hot-path update is a map lookup and an addition instead of building, hashing
// and validating a label object. prom-client still owns the values and writes the exposition.
import { Counter, Histogram } from 'prom-client';
import type { CounterConfiguration, HistogramConfiguration } from 'prom-client';

/** Label sets cached per metric unless the configuration says otherwise. */
export const defaultMaxCachedLabelSets = 1024;

/** Options the cached series add to prom-client's configuration. */
export interface CachedSeriesOptions {
  /**
   * Label sets whose child is cached; further label sets are updated through prom-client's own
   * `inc`/`observe` (same values, slower). @defaultValue 1024
   */
  maxCachedLabelSets?: number | undefined;
}

/** One labelled series of a {@link CachedCounter}. */
export interface CounterChild {
  inc(value?: number): void;
}

/** One labelled series of a {@link CachedHistogram}. */
export interface HistogramChild {
  observe(value: number): void;
}

// prom-client's per-series records (its `hashMap` values), as the exposition reads them.
interface CounterEntry {
  value: number;
  labels: Record<string, string | number>;
}
interface HistogramEntry {
  labels: Record<string, string | number>;
  bucketValues: Record<string, number>;
  sum: number;
  count: number;
}

/**
 * Children by label values, at most `max` label sets (at most two labels: nested maps, so a lookup
 * builds no key). `clear` drops them all.
 */
export class LabelSetCache<C> {
  private none: C | undefined;
  private readonly one = new Map<string, C>();
  private readonly two = new Map<string, Map<string, C>>();
  private count = 0;

  constructor(
    private readonly depth: number,
    private readonly max: number,
  ) {
    if (!Number.isInteger(max) || max < 0)
      throw new RangeError(`maxCachedLabelSets must be a whole number ≥ 0, got ${String(max)}`);
  }

  /** Label sets cached now. */
  get size(): number {
    return this.count;
  }

  /** True while another label set fits. */
  get hasRoom(): boolean {
    return this.count < this.max && this.depth <= 2;
  }

  get(a: string | undefined, b: string | undefined): C | undefined {
    switch (this.depth) {
      case 0:
        return this.none;
      case 1:
        return this.one.get(a!);
      case 2:
        return this.two.get(a!)?.get(b!);
      default:
        return undefined;
    }
  }

  /** Caches `child`; callers check {@link hasRoom} first. */
  set(a: string | undefined, b: string | undefined, child: C): void {
    if (!this.hasRoom) return;
    if (this.depth === 0) this.none = child;
    else if (this.depth === 1) this.one.set(a!, child);
    else {
      let inner = this.two.get(a!);
      if (inner === undefined) {
        inner = new Map();
        this.two.set(a!, inner);
      }
      inner.set(b!, child);
    }
    this.count++;
  }

  clear(): void {
    this.none = undefined;
    this.one.clear();
    this.two.clear();
    this.count = 0;
  }
}

/** The label object of `values`, keys in label-name order (the order the exposition prints). */
function labelObject(
  names: readonly string[],
  a: string | undefined,
  b: string | undefined,
): Record<string, string> {
  const labels: Record<string, string> = {};
  if (names.length > 0) {
    if (a === undefined) throw new TypeError(`a value for label "${names[0]}" is required`);
    labels[names[0]!] = a;
  }
  if (names.length > 1) {
    if (b === undefined) throw new TypeError(`a value for label "${names[1]}" is required`);
    labels[names[1]!] = b;
  }
  return labels;
}

/**
 * A child for label values `a`, `b` that `cache` does not hold: made and cached (if `cacheable` and
 * the cache has room), else made uncached, on prom-client's own path.
 */
function newChild<C>(
  cache: LabelSetCache<C>,
  names: readonly string[],
  a: string | undefined,
  b: string | undefined,
  cacheable: boolean,
  make: { cached: (labels: Record<string, string>) => C; uncached: (labels: Record<string, string>) => C },
): C {
  const labels = labelObject(names, a, b);
  if (!cacheable || !cache.hasRoom) return make.uncached(labels);
  const child = make.cached(labels);
  cache.set(a, b, child);
  return child;
}

/** The record prom-client keeps for `labels`, found by label values; undefined when it has none. */
function entryOf<E extends { labels: Record<string, string | number> }>(
  hashMap: unknown,
  names: readonly string[],
  labels: Record<string, string>,
): E | undefined {
  if (typeof hashMap !== 'object' || hashMap === null) return undefined;
  const entries = Object.values(hashMap as Record<string, E>);
  if (names.length === 0) return entries.length === 1 ? entries[0] : undefined;
  return entries.find(
    (e) =>
      typeof e === 'object' &&
      e !== null &&
      Object.keys(e.labels).length === names.length &&
      names.every((n) => e.labels[n] === labels[n]),
  );
}

/**
 * A prom-client `Counter` with {@link CachedCounter.child}: `counter.child(fn, kind).inc(n)` costs a
 * map lookup and an addition. The exposition is prom-client's, unchanged.
 */
export class CachedCounter<L extends string = string> extends Counter<L> {
  /** Bumped by `reset`: children made before it no longer write prom-client's records. */
  generation = 0;
  private cache: LabelSetCache<CounterChild> | undefined;
  private readonly names: readonly string[];

  constructor(config: CounterConfiguration<L> & CachedSeriesOptions) {
    const { maxCachedLabelSets, ...rest } = config;
    super(rest);
    this.names = [...(rest.labelNames ?? [])];
    this.cache = new LabelSetCache(this.names.length, maxCachedLabelSets ?? defaultMaxCachedLabelSets);
  }

  /** Label sets whose child is cached now. */
  get cachedLabelSets(): number {
    return this.cache?.size ?? 0;
  }

  /** The series of these label values, in `labelNames` order. */
  child(a?: string, b?: string): CounterChild {
    // The lookup first: a hit (every update but the first of a label set) allocates nothing.
    return (
      this.cache!.get(a, b) ??
      newChild(this.cache!, this.names, a, b, true, {
        cached: (labels) => new CounterSlot(this, labels),
        uncached: (labels) => ({ inc: (value) => this.incLabels(labels, value) }),
      })
    );
  }

  /** prom-client's own path (validation and errors included). */
  incLabels(labels: Record<string, string>, value: number | undefined): void {
    if (this.names.length === 0) this.inc(value);
    else this.inc(labels as Partial<Record<L, string>>, value);
  }

  /** The record prom-client keeps for `labels`, once it has one. */
  entryFor(labels: Record<string, string>): CounterEntry | undefined {
    const entry = entryOf<CounterEntry>(hashMapOf(this), this.names, labels);
    return typeof entry?.value === 'number' ? entry : undefined;
  }

  override reset(): void {
    super.reset();
    // prom-client replaced its records: cached children point at the old ones.
    this.generation++;
    this.cache?.clear();
  }
}

class CounterSlot implements CounterChild {
  private entry: CounterEntry | undefined;
  private readonly generation: number;

  constructor(
    private readonly owner: CachedCounter,
    private readonly labels: Record<string, string>,
  ) {
    this.generation = owner.generation;
  }

  inc(value = 1): void {
    // Non-finite or negative values take prom-client's path, which rejects them as it always did.
    if (
      this.entry !== undefined &&
      value >= 0 &&
      value < Infinity &&
      this.generation === this.owner.generation
    ) {
      this.entry.value += value;
      return;
    }
    this.owner.incLabels(this.labels, value);
    if (this.entry === undefined && this.generation === this.owner.generation)
      this.entry = this.owner.entryFor(this.labels);
  }
}

/**
 * A prom-client `Histogram` with {@link CachedHistogram.child}: `histogram.child(fn).observe(v)`
 * costs a map lookup, a bucket search and three additions. The exposition is prom-client's.
 */
export class CachedHistogram<L extends string = string> extends Histogram<L> {
  /** Bumped by `reset`: children made before it no longer write prom-client's records. */
  generation = 0;
  /** The upper bounds and the keys prom-client counts them under; undefined disables the fast path. */
  readonly bounds: readonly number[] | undefined;
  readonly boundKeys: readonly string[];
  private cache: LabelSetCache<HistogramChild> | undefined;
  private readonly names: readonly string[];

  constructor(config: HistogramConfiguration<L> & CachedSeriesOptions) {
    const { maxCachedLabelSets, ...rest } = config;
    super(rest);
    this.names = [...(rest.labelNames ?? [])];
    const upper = (this as unknown as { upperBounds?: unknown }).upperBounds;
    this.bounds = Array.isArray(upper) && upper.every((b) => typeof b === 'number') ? [...upper] : undefined;
    this.boundKeys = (this.bounds ?? []).map((b) => String(b));
    this.cache = new LabelSetCache(this.names.length, maxCachedLabelSets ?? defaultMaxCachedLabelSets);
  }

  /** Label sets whose child is cached now. */
  get cachedLabelSets(): number {
    return this.cache?.size ?? 0;
  }

  /** The series of these label values, in `labelNames` order. */
  child(a?: string, b?: string): HistogramChild {
    return (
      this.cache!.get(a, b) ??
      newChild(this.cache!, this.names, a, b, this.bounds !== undefined, {
        cached: (labels) => new HistogramSlot(this, labels),
        uncached: (labels) => ({ observe: (value) => this.observeLabels(labels, value) }),
      })
    );
  }

  /** prom-client's own path (validation and errors included). */
  observeLabels(labels: Record<string, string>, value: number): void {
    if (this.names.length === 0) this.observe(value);
    else this.observe(labels as Partial<Record<L, string>>, value);
  }

  /** The record prom-client keeps for `labels`, once it has one with every bucket. */
  entryFor(labels: Record<string, string>): HistogramEntry | undefined {
    const entry = entryOf<HistogramEntry>(hashMapOf(this), this.names, labels);
    if (entry === undefined || typeof entry.sum !== 'number' || typeof entry.count !== 'number')
      return undefined;
    const buckets = entry.bucketValues as unknown;
    if (typeof buckets !== 'object' || buckets === null) return undefined;
    return this.boundKeys.every((k) => typeof entry.bucketValues[k] === 'number') ? entry : undefined;
  }

  override reset(): void {
    super.reset();
    this.generation++;
    this.cache?.clear();
  }
}

class HistogramSlot implements HistogramChild {
  private entry: HistogramEntry | undefined;
  private readonly generation: number;
  private readonly bounds: readonly number[];
  private readonly keys: readonly string[];

  constructor(
    private readonly owner: CachedHistogram,
    private readonly labels: Record<string, string>,
  ) {
    this.generation = owner.generation;
    this.bounds = owner.bounds ?? [];
    this.keys = owner.boundKeys;
  }

  observe(value: number): void {
    const entry = this.entry;
    if (entry !== undefined && Number.isFinite(value) && this.generation === this.owner.generation) {
      // As prom-client does: the first bound at or above the value; above the last, only +Inf.
      const bounds = this.bounds;
      let i = 0;
      while (i < bounds.length && value > bounds[i]!) i++;
      entry.sum += value;
      entry.count += 1;
      if (i < bounds.length) entry.bucketValues[this.keys[i]!]! += 1;
      return;
    }
    this.owner.observeLabels(this.labels, value);
    if (entry === undefined && this.generation === this.owner.generation)
      this.entry = this.owner.entryFor(this.labels);
  }
}

function hashMapOf(metric: object): unknown {
  return (metric as { hashMap?: unknown }).hashMap;
}
