// Per-key tumbling-window counts on event time: each instance (id = key) counts its events per
// window of WINDOW_MS and emits one result per window when the watermark passes the window's end,
// through an event-time timer. Late events (behind the watermark) are never counted: they go to
// their own topic, so every emitted count is final.
import { z } from 'zod';
import {
  jsonType,
  kafkaEgressMessage,
  messageBuilder,
  playgroundEgressMessage,
  statefulFunction,
  valueSpec,
  type Address,
  type EgressMessage,
  type StatefulFunction,
} from '@continuum/sdk';

/** Function type of the counter that writes to the Kafka egress. */
export const WINDOWED_COUNTS = 'example/windowed-counts';
/** Function type of the same counter writing to the playground egress (no Kafka needed). */
export const PLAYGROUND_WINDOWED_COUNTS = 'example/playground-windowed-counts';
/** Kafka egress id the counter writes to (declare it in module.yaml). */
export const RESULTS_EGRESS = 'example/window-results';
/** Topic of the window results (Kafka and playground egress). */
export const COUNTS_TOPIC = 'window-counts';
/** Topic of the late events (Kafka and playground egress). */
export const LATE_TOPIC = 'late-events';
/** Length of a window in ms of event time. */
export const WINDOW_MS = 60_000;

/** An input event: any JSON object; `ts` (ms since the epoch) is where module.yaml reads the event time. */
export const Click = jsonType('example/Click', z.object({ ts: z.number().optional() }).loose());

/** The timer message that closes a window (sent by the counter to itself). */
export const WindowClose = jsonType(
  'example/WindowClose',
  z.object({ start: z.number().int(), end: z.number().int() }),
);

/** A window's result: events of `key` with event time in [start, end). */
export interface WindowCount {
  key: string;
  start: number;
  end: number;
  count: number;
}

/** An event that arrived behind the watermark: its window may already be closed, so it is not counted. */
export interface LateEvent {
  key: string;
  eventTime: number;
  watermark: number;
}

/** The window [start, start + WINDOW_MS) that holds `eventTime`. */
export function windowOf(eventTime: number): { start: number; end: number } {
  const start = Math.floor(eventTime / WINDOW_MS) * WINDOW_MS;
  return { start, end: start + WINDOW_MS };
}

/**
 * The results `events` give under this example's rule, computed offline: per key and window, the
 * events not behind the watermark. Without late events (disorder within the bound) that is every
 * event, which is what the end-to-end tests compare against.
 */
export function offlineCounts(events: readonly { key: string; eventTime: number }[]): WindowCount[] {
  const counts = new Map<string, WindowCount>();
  for (const e of events) {
    const { start, end } = windowOf(e.eventTime);
    const id = `${e.key}\u0000${start}`;
    const c = counts.get(id) ?? { key: e.key, start, end, count: 0 };
    c.count++;
    counts.set(id, c);
  }
  return [...counts.values()].sort((a, b) => a.key.localeCompare(b.key) || a.start - b.start);
}

/** Open windows of a key: window start (as text) → events counted so far. */
const OpenWindows = jsonType('example/OpenWindows', z.record(z.string(), z.number().int()));

/** Where the counter writes its results and late events. */
export type ResultSink = 'kafka' | 'playground';

/** Topics the counter writes to. */
export interface ResultTopics {
  /** Window results. @defaultValue COUNTS_TOPIC */
  counts: string;
  /** Late events. @defaultValue LATE_TOPIC */
  late: string;
}

/** Builds the counter of function type `typename` writing to `sink`, on `topics`. */
export function windowedCountsFunction(
  typename: string,
  sink: ResultSink,
  topics: ResultTopics = { counts: COUNTS_TOPIC, late: LATE_TOPIC },
) {
  const emit = (
    ctx: { readonly self: Address; sendEgress(message: EgressMessage): void },
    topic: string,
    value: WindowCount | LateEvent,
  ): void => {
    const payload = JSON.stringify(value);
    ctx.sendEgress(
      sink === 'kafka'
        ? kafkaEgressMessage({ typename: RESULTS_EGRESS, topic, key: ctx.self.id, value: payload })
        : playgroundEgressMessage({ topic, payload }),
    );
  };
  return statefulFunction({
    typename,
    specs: { windows: valueSpec(OpenWindows) },
    handler(ctx, message) {
      const windows = ctx.storage.windows ?? {};
      if (message.is(WindowClose)) {
        // The watermark passed the window's end: nothing more can count into it.
        const { start, end } = message.as(WindowClose);
        const count = windows[start] ?? 0;
        delete windows[start];
        ctx.storage.windows = Object.keys(windows).length === 0 ? undefined : windows;
        const result: WindowCount = { key: ctx.self.id, start, end, count };
        emit(ctx, topics.counts, result);
        return;
      }
      // Without event time (a StateFun runtime) the processing time stands in.
      const eventTime = ctx.eventTime ?? Date.now();
      if (message.isLate) {
        const late: LateEvent = { key: ctx.self.id, eventTime, watermark: ctx.watermark! };
        emit(ctx, topics.late, late);
        return;
      }
      const { start, end } = windowOf(eventTime);
      if (windows[start] === undefined) {
        // The first event of the window: close it once the watermark reaches its end.
        ctx.sendAtEventTime(
          end,
          messageBuilder({ target: ctx.self, value: { start, end }, valueType: WindowClose }),
          {
            cancellationToken: `window-${start}`,
          },
        );
      }
      windows[start] = (windows[start] ?? 0) + 1;
      ctx.storage.windows = windows;
    },
  });
}

/** The counter writing to the Kafka egress `example/window-results`. */
export const windowedCounts = windowedCountsFunction(WINDOWED_COUNTS, 'kafka');

/** The counter writing to the playground egress. */
export const playgroundWindowedCounts = windowedCountsFunction(PLAYGROUND_WINDOWED_COUNTS, 'playground');

/** Every function of this example, to serve them together. */
export const functions: readonly StatefulFunction[] = [windowedCounts, playgroundWindowedCounts];
