// Bounded in-memory figures behind the dashboard: label values capped per dimension, latency
// samples for percentiles, and a ring of periodic samples for throughput and latency over time.

/** Maps label values to themselves until `max` distinct ones were seen, then to `_other`. */
export class BoundedLabels {
  private readonly seen = new Set<string>();

  constructor(private readonly max: number) {}

  of(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.max) return '_other';
    this.seen.add(value);
    return value;
  }
}

/**
 * A uniform sample of at most `capacity` values (reservoir sampling), enough for percentiles of a
 * window without keeping every observation.
 */
export class Reservoir {
  private values: number[] = [];
  private seen = 0;

  constructor(private readonly capacity: number) {}

  add(v: number): void {
    this.seen++;
    if (this.values.length < this.capacity) {
      this.values.push(v);
      return;
    }
    const i = Math.floor(Math.random() * this.seen);
    if (i < this.capacity) this.values[i] = v;
  }

  /** Percentile `q` in [0, 1] of the sample; undefined when empty. */
  quantile(q: number): number | undefined {
    if (this.values.length === 0) return undefined;
    const sorted = [...this.values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  }

  get count(): number {
    return this.seen;
  }

  clear(): void {
    this.values = [];
    this.seen = 0;
  }
}

/** The most recent `capacity` values; older ones drop off (per-function latency, recent errors). */
export class Ring<T> {
  // A circular buffer: a push past capacity overwrites the oldest slot instead of shifting.
  private readonly items: T[] = [];
  private next = 0;

  constructor(private readonly capacity: number) {}

  push(item: T): void {
    if (!(this.capacity >= 1)) return;
    if (this.items.length < this.capacity) {
      this.items.push(item);
      return;
    }
    this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Oldest first. */
  toArray(): T[] {
    if (this.next === 0) return [...this.items];
    return [...this.items.slice(this.next), ...this.items.slice(0, this.next)];
  }

  get length(): number {
    return this.items.length;
  }
}

/** Percentile of an array of numbers (sorted copy); undefined when empty. */
export function quantile(values: readonly number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
