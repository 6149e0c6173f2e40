// The event-time watermark in /metrics and the admin API, after a known workload with event times:
// each partition's watermark (newest event time minus the disorder bound) as seconds since the
// epoch, its lag behind the wall clock, and no sample while a partition has no watermark yet.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_OUT_OF_ORDERNESS_MS, startEventTimeApp, type EventTimeApp } from './event-time-fixture.js';
import { adminCall } from './ops-fixture.js';
import { parseExposition, seriesValue, type Sample } from './prometheus-text.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

const TOKEN = 'watermark-metrics-token';
const PARTITIONS = 2;
const T0 = 1_700_000_000_000;
/** Out of order: the newest event time is T0 + 30.5 s. */
const EVENTS: [key: string, ts: number][] = [
  ['a', T0 + 5_250],
  ['b', T0 + 30_500],
  ['a', T0 + 27_000],
];
const WATERMARK = T0 + 30_500 - MAX_OUT_OF_ORDERNESS_MS;

describe('watermark metrics of a dev runtime', () => {
  let app: EventTimeApp;
  const scrape = async (): Promise<Sample[]> => {
    const r = await adminCall(app.admin, '/metrics', { token: TOKEN });
    expect(r.status).toBe(200);
    return parseExposition(r.text);
  };

  beforeAll(async () => {
    app = await startEventTimeApp({ partitions: PARTITIONS, adminToken: TOKEN });
    await waitUntil(() => app.dev.runtime.ready, { timeoutMs: 10_000, what: 'the partitions to recover' });
  });

  afterAll(async () => {
    await app?.close();
  });

  it('has no watermark sample while no event came in', async () => {
    const samples = await scrape();
    expect(samples.filter((s) => s.name === 'continuum_watermark_seconds')).toEqual([]);
    expect(samples.filter((s) => s.name === 'continuum_watermark_lag_seconds')).toEqual([]);
    const partitions = (await adminCall(app.admin, '/v1/partitions', { token: TOKEN })).body as {
      partitions: { watermark?: number }[];
    };
    expect(partitions.partitions).toHaveLength(PARTITIONS);
    for (const p of partitions.partitions) expect(p.watermark).toBeUndefined();
  });

  it('exports each partition watermark in seconds and its lag behind the wall clock', async () => {
    for (const [key, ts] of EVENTS) await app.ingest(key, ts);
    await waitUntil(() => app.events.get('a')?.length === 2, { timeoutMs: 10_000, what: 'both events of a' });
    let samples: Sample[] = [];
    const before = Date.now();
    await waitUntil(
      async () => {
        samples = await scrape();
        return [0, 1].every(
          (p) =>
            seriesValue(samples, 'continuum_watermark_seconds', { partition: String(p) }) ===
            WATERMARK / 1000,
        );
      },
      { timeoutMs: 10_000, what: 'every partition to reach the watermark' },
    );
    const after = Date.now();
    expect(WATERMARK / 1000).toBe(1_700_000_025.5);
    for (let p = 0; p < PARTITIONS; p++) {
      const lag = seriesValue(samples, 'continuum_watermark_lag_seconds', { partition: String(p) })!;
      expect(lag).toBeGreaterThanOrEqual((before - WATERMARK) / 1000);
      expect(lag).toBeLessThanOrEqual((after - WATERMARK) / 1000);
    }
    const partitions = (await adminCall(app.admin, '/v1/partitions', { token: TOKEN })).body as {
      partitions: { partition: number; watermark?: number }[];
    };
    expect(partitions.partitions.map((p) => p.watermark)).toEqual([WATERMARK, WATERMARK]);
    // Pending: one window-close timer per event (none due at this watermark) and one
    // hour-long reminder per key, counted apart.
    await waitUntil(
      async () => {
        const s = await scrape();
        return (
          seriesValue(s, 'continuum_event_time_timers') === EVENTS.length &&
          seriesValue(s, 'continuum_delayed_messages') === 2
        );
      },
      { timeoutMs: 10_000, what: 'three event-time timers and two delayed messages' },
    );
  });

  it('moves on with later events and never goes back for late ones', async () => {
    await app.ingest('c', T0 + 90_000);
    await app.ingest('c', T0 + 1_000); // late: behind the watermark
    const next = (T0 + 90_000 - MAX_OUT_OF_ORDERNESS_MS) / 1000;
    await waitUntil(
      async () => {
        const samples = await scrape();
        return seriesValue(samples, 'continuum_watermark_seconds', { partition: '0' }) === next;
      },
      { timeoutMs: 10_000, what: 'the watermark to advance' },
    );
    await waitUntil(() => app.events.get('c')?.length === 2, { timeoutMs: 10_000, what: 'both events of c' });
    const samples = await scrape();
    for (let p = 0; p < PARTITIONS; p++)
      expect(seriesValue(samples, 'continuum_watermark_seconds', { partition: String(p) })).toBe(next);
  });
});
