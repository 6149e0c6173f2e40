// The bounded figures behind the dashboard, and how the metrics and tracing observers combine.
import { describe, expect, it } from 'vitest';
import type { BatchObservation } from '../../src/observers.js';
import { combineObservers } from '../../src/metrics/combine-observers.js';
import { endpointLabel } from '../../src/metrics/runtime-metrics.js';
import { BoundedLabels, quantile, Reservoir, Ring } from '../../src/metrics/windows.js';

describe('bounded figures', () => {
  it('label values past the limit are counted as _other', () => {
    const labels = new BoundedLabels(2);
    expect(['a', 'b', 'c', 'a', 'd'].map((v) => labels.of(v))).toEqual(['a', 'b', '_other', 'a', '_other']);
  });

  it('a reservoir keeps at most its capacity and still estimates percentiles', () => {
    const r = new Reservoir(100);
    for (let i = 1; i <= 10_000; i++) r.add(i);
    expect(r.count).toBe(10_000);
    const p50 = r.quantile(0.5)!;
    expect(p50).toBeGreaterThan(2500);
    expect(p50).toBeLessThan(7500);
    r.clear();
    expect(r.quantile(0.5)).toBeUndefined();
  });

  it('a ring keeps the newest values', () => {
    const ring = new Ring<number>(3);
    for (let i = 0; i < 10; i++) ring.push(i);
    expect(ring.toArray()).toEqual([7, 8, 9]);
    expect(quantile(ring.toArray(), 0.99)).toBe(9);
    expect(quantile([], 0.5)).toBeUndefined();
  });

  it('endpoint labels drop query strings and fragments', () => {
    expect(endpointLabel('https://fn.example/greeter?key=abc#x')).toBe('https://fn.example/greeter');
    expect(endpointLabel('http://127.0.0.1:8000/statefun')).toBe('http://127.0.0.1:8000/statefun');
  });
});

describe('combineObservers', () => {
  it('nests calls (first observer outermost), merges record headers and tells every observer', async () => {
    const order: string[] = [];
    const ended: string[] = [];
    const part = (name: string, headers?: Record<string, string>): BatchObservation => ({
      around: async (call) => {
        order.push(`${name}:in`);
        const r = await call();
        order.push(`${name}:out`);
        return r;
      },
      ended: () => ended.push(name),
      recordHeaders: headers,
    });
    const combined = combineObservers({ batchStarted: () => part('metrics') }, undefined, {
      batchStarted: () => part('tracing', { traceparent: 'tp' }),
    });
    const batch = combined.batchStarted!({
      partition: 0,
      functionType: 'a/b',
      address: { namespace: 'a', type: 'b', id: 'c' },
      size: 1,
      round: 0,
      headers: [],
    })!;
    expect(await batch.around!(() => Promise.resolve(42))).toBe(42);
    expect(order).toEqual(['metrics:in', 'tracing:in', 'tracing:out', 'metrics:out']);
    batch.ended!({ latencyMs: 1, response: undefined, error: undefined });
    expect(ended).toEqual(['metrics', 'tracing']);
    expect(batch.recordHeaders).toEqual({ traceparent: 'tp' });
  });

  it('tells every observer that has a notification hook, in order, with its arguments', () => {
    const heard: string[] = [];
    const observer = (name: string) => ({
      deadLettered: (p: number, code: string) => void heard.push(`${name} dead ${p} ${code}`),
      stateLookup: (p: number, hit: boolean) => void heard.push(`${name} lookup ${p} ${hit}`),
    });
    const combined = combineObservers(observer('first'), undefined, observer('second'));
    combined.deadLettered!(3, 'X');
    combined.stateLookup!(4, false);
    expect(heard).toEqual([
      'first dead 3 X',
      'second dead 3 X',
      'first lookup 4 false',
      'second lookup 4 false',
    ]);
  });

  it('leaves out hooks no observer has and passes a single listener through as it is', () => {
    const metrics = { stateLookup: () => undefined, batchStarted: () => ({ ended: () => undefined }) };
    const replies = { committed: () => undefined };
    const combined = combineObservers(metrics, undefined, replies);
    // Callers skip building the events of absent hooks (`observer.moving?.(...)`).
    expect('moving' in combined).toBe(false);
    expect('sending' in combined).toBe(false);
    expect('deadLettered' in combined).toBe(false);
    const lookups: boolean[] = [];
    const one = combineObservers({ stateLookup: (_p, hit) => lookups.push(hit) }, replies);
    one.stateLookup!(0, true);
    expect(lookups).toEqual([true]);
    // The only batch listener's observation comes back unwrapped, and it never reads the headers.
    const observation = { ended: () => undefined };
    const batch = {
      partition: 0,
      functionType: 'a/b',
      address: { namespace: 'a', type: 'b', id: 'c' },
      size: 1,
      round: 0,
      get headers(): never {
        throw new Error('headers were read');
      },
    };
    const single = combineObservers({ batchStarted: () => observation }, replies, {
      checkpointed: () => undefined,
    });
    expect(single.batchStarted!(batch)).toBe(observation);
  });

  it('merges per-message headers of sends and reports the outcome to each observer', () => {
    const outcomes: unknown[] = [];
    const combined = combineObservers(
      { sending: () => ({ ended: (e) => outcomes.push(e) }) },
      { sending: () => ({ headers: [{ traceparent: 'x' }, undefined], ended: (e) => outcomes.push(e) }) },
    );
    const msg = {
      target: { namespace: 'a', type: 'b', id: 'c' },
      argument: { typename: 't/t', hasValue: true, value: new Uint8Array() },
    };
    const sent = combined.sending!('admin', [msg, msg])!;
    expect(sent.headers).toEqual([{ traceparent: 'x' }, undefined]);
    sent.ended!(undefined);
    expect(outcomes).toEqual([undefined, undefined]);
  });
});
