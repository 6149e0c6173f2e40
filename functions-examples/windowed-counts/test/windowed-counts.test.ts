import { describe, expect, it } from 'vitest';
import type { Message } from '@continuum/sdk';
import { invoke, testMessage, testMessageFrom, type TestMessage } from '@continuum/sdk/testing';
import {
  Click,
  COUNTS_TOPIC,
  LATE_TOPIC,
  offlineCounts,
  playgroundWindowedCounts,
  WINDOW_MS,
  windowedCounts,
  windowOf,
  type WindowCount,
} from '../src/index.js';

const T0 = Date.parse('2024-05-01T12:00:00Z');
const click = (eventTime: number, watermark?: number): TestMessage<{ ts?: number }> =>
  testMessage(Click, { ts: eventTime }, watermark === undefined ? { eventTime } : { eventTime, watermark });

describe('windowed counts', () => {
  it('counts the events of a window and sets one event-time timer at its end', async () => {
    const result = await invoke(windowedCounts, {
      id: 'page-a',
      messages: [click(T0 + 1_000), click(T0 + 59_999), click(T0 + 60_000)],
    });
    expect(result.state.windows).toEqual({ [T0]: 2, [T0 + WINDOW_MS]: 1 });
    expect(result.timers.map((t) => [t.time, t.cancellationToken])).toEqual([
      [T0 + WINDOW_MS, `window-${T0}`],
      [T0 + 2 * WINDOW_MS, `window-${T0 + WINDOW_MS}`],
    ]);
    expect(result.egress).toEqual([]);
  });

  it('emits the count when the window closes, keyed by the key, stamped with the window end', async () => {
    const set = await invoke(windowedCounts, { id: 'page-a', messages: [click(T0 + 5)] });
    const closed = await invoke(windowedCounts, {
      id: 'page-a',
      state: { windows: { [T0]: 3, [T0 + WINDOW_MS]: 1 } },
      messages: [testMessageFrom(set.timers[0]!, { watermark: T0 + WINDOW_MS })],
    });
    const record = closed.egress[0]!.asKafkaRecord();
    expect(record.topic).toBe(COUNTS_TOPIC);
    expect(record.key).toBe('page-a');
    expect(JSON.parse(record.valueAsString())).toEqual({
      key: 'page-a',
      start: T0,
      end: T0 + WINDOW_MS,
      count: 3,
    });
    expect(closed.egress[0]!.eventTime).toBe(T0 + WINDOW_MS);
    expect(closed.state.windows).toEqual({ [T0 + WINDOW_MS]: 1 });
  });

  it('sends an event behind the watermark to the late topic and does not count it', async () => {
    const result = await invoke(windowedCounts, {
      id: 'page-a',
      state: { windows: { [T0 + WINDOW_MS]: 4 } },
      messages: [click(T0 + 30_000, T0 + 61_000)],
    });
    const record = result.egress[0]!.asKafkaRecord();
    expect(record.topic).toBe(LATE_TOPIC);
    expect(JSON.parse(record.valueAsString())).toEqual({
      key: 'page-a',
      eventTime: T0 + 30_000,
      watermark: T0 + 61_000,
    });
    expect(result.state.windows).toEqual({ [T0 + WINDOW_MS]: 4 });
    expect(result.timers).toEqual([]);
  });

  it('the playground variant writes the same results to the playground egress', async () => {
    const set = await invoke(playgroundWindowedCounts, { id: 'k', messages: [click(T0)] });
    const closed = await invoke(playgroundWindowedCounts, {
      id: 'k',
      state: { windows: { [T0]: 1 } },
      messages: [testMessageFrom(set.timers[0]!)],
    });
    expect(closed.egress[0]!.egress).toBe('io.statefun.playground/egress');
    const record = JSON.parse(new TextDecoder().decode(closed.egress[0]!.rawValue)) as {
      topic: string;
      payload: string;
    };
    expect(record.topic).toBe(COUNTS_TOPIC);
    expect(JSON.parse(record.payload)).toEqual({ key: 'k', start: T0, end: T0 + WINDOW_MS, count: 1 });
  });

  it('over a stream with bounded disorder, delivered with timers as the runtime fires them, the results equal the offline counts', async () => {
    // A seeded stream: 600 events over 4 keys, each at most `bound` behind the newest one before it.
    let seed = 42;
    const random = (): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const bound = 5_000;
    const events = Array.from({ length: 600 }, (_, i) => ({
      key: `k${Math.floor(random() * 4)}`,
      eventTime: T0 + i * 1_000 - Math.floor(random() * bound),
    }));
    const state = new Map<string, Record<string, number> | undefined>();
    const timers: { time: number; key: string; message: Message }[] = [];
    const results: WindowCount[] = [];
    let maxSeen = -Infinity;
    const deliver = async (key: string, message: TestMessage<unknown>): Promise<void> => {
      const r = await invoke(windowedCounts, {
        id: key,
        state: { windows: state.get(key) },
        messages: [message],
      });
      state.set(key, r.state.windows);
      for (const t of r.timers) timers.push({ time: t.time, key, message: t });
      for (const e of r.egress) results.push(JSON.parse(e.asKafkaRecord().valueAsString()) as WindowCount);
    };
    for (const e of events) {
      const watermark = maxSeen - bound;
      await deliver(e.key, click(e.eventTime, Number.isFinite(watermark) ? watermark : undefined));
      maxSeen = Math.max(maxSeen, e.eventTime);
      // Timers due at the new watermark fire in timestamp order.
      timers.sort((a, b) => a.time - b.time);
      while (timers.length > 0 && timers[0]!.time <= maxSeen - bound) {
        const t = timers.shift()!;
        await deliver(t.key, testMessageFrom(t.message, { watermark: maxSeen - bound }));
      }
    }
    const closedEnd = windowOf(maxSeen - bound).start;
    const expected = offlineCounts(events).filter((c) => c.end <= closedEnd);
    results.sort((a, b) => a.key.localeCompare(b.key) || a.start - b.start);
    expect(results).toEqual(expected);
    expect(results.length).toBeGreaterThan(20);
  });
});
