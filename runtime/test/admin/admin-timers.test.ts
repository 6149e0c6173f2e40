// Pending timers in the admin API's view of an address: a processing-time delayed message shows
// when it fires on the clock; an event-time timer shows its event time, no due time on the clock,
// and the watermark it waits for, next to the partition's current watermark.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MAX_OUT_OF_ORDERNESS_MS,
  REMINDER_DELAY_MS,
  startEventTimeApp,
  windowEnd,
  type EventTimeApp,
} from '../metrics/event-time-fixture.js';
import { adminCall } from '../metrics/ops-fixture.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

const TOKEN = 'admin-timers-token';
const T0 = 1_700_000_000_000;

interface StateBody {
  partition: number;
  watermark: string | null;
  delayed: Record<string, unknown>[];
}

describe('timers in the admin API', () => {
  let app: EventTimeApp;
  const state = async (key: string): Promise<StateBody> => {
    const r = await adminCall(app.admin, `/v1/state/ops/window/${key}`, { token: TOKEN });
    expect(r.status).toBe(200);
    return r.body as StateBody;
  };

  beforeAll(async () => {
    app = await startEventTimeApp({ partitions: 2, adminToken: TOKEN });
    await waitUntil(() => app.dev.runtime.ready, { timeoutMs: 10_000, what: 'the partitions to recover' });
  });

  afterAll(async () => {
    await app?.close();
  });

  it('shows no watermark before any event', async () => {
    expect(await state('nobody')).toMatchObject({ watermark: null, delayed: [] });
  });

  it('shows an event-time timer by its event time with no clock due time, and a delayed message by the clock', async () => {
    const ts = T0 + 5_250;
    const end = windowEnd(ts);
    const watermark = new Date(ts - MAX_OUT_OF_ORDERNESS_MS).toISOString();
    await app.ingest('w', ts);
    let body: StateBody | undefined;
    await waitUntil(
      async () => {
        body = await state('w');
        return body.delayed.length === 2 && body.watermark === watermark;
      },
      { timeoutMs: 10_000, what: 'both timers of w and the watermark of its partition' },
    );
    const [delayed, timer] = body!.delayed as [Record<string, unknown>, Record<string, unknown>];
    expect(delayed).toMatchObject({
      kind: 'processing-time',
      direction: 'self',
      target: 'ops/window/w',
      caller: 'ops/window/w',
      cancellationToken: 'reminder',
      typename: 'io.statefun.types/string',
      value: 'reminder',
    });
    expect(Date.parse(delayed.fireAt as string)).toBeGreaterThan(Date.now() + REMINDER_DELAY_MS - 60_000);
    expect(delayed.dueInMs).toBeGreaterThan(REMINDER_DELAY_MS - 60_000);
    expect(delayed.eventTime).toBeUndefined();

    expect(timer).toEqual({
      kind: 'event-time',
      direction: 'self',
      target: 'ops/window/w',
      caller: 'ops/window/w',
      cancellationToken: `close-${end}-${ts}`,
      eventTime: new Date(end).toISOString(),
      dueInMs: null,
      watermark,
      typename: 'io.statefun.types/string',
      value: `close ${end}`,
      base64: expect.any(String) as unknown,
    });
    expect(timer.fireAt).toBeUndefined();
  });

  it('drops the event-time timer once the watermark passes its time, not on the clock', async () => {
    const end = windowEnd(T0 + 5_250);
    // Another key moves the watermark to the window's end: the timer fires.
    await app.ingest('later', end + MAX_OUT_OF_ORDERNESS_MS);
    let body: StateBody | undefined;
    await waitUntil(
      async () => {
        body = await state('w');
        return body.delayed.length === 1;
      },
      { timeoutMs: 10_000, what: 'the event-time timer to fire' },
    );
    expect(body!.watermark).toBe(new Date(end).toISOString());
    expect(body!.delayed[0]).toMatchObject({ kind: 'processing-time', cancellationToken: 'reminder' });
  });
});
