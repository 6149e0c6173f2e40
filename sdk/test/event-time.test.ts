// Event time in the SDK: what a function reads (ctx.eventTime, ctx.watermark, message lateness),
// the event time its effects carry, event-time timers and their cancellation, and the harness.
import { describe, expect, it } from 'vitest';
import {
  createRequestReplyHandler,
  kafkaEgressMessage,
  messageBuilder,
  SdkError,
  statefulFunction,
  types,
  valueSpec,
} from '@continuum/sdk';
import { decodeFromFunction, encodeString, encodeToFunction } from '@continuum/sdk/protocol';
import { invoke, testMessage, testMessageFrom } from '@continuum/sdk/testing';

interface Seen {
  eventTime: number | undefined;
  watermark: number | undefined;
  messageTime: number | undefined;
  late: boolean;
  lateness: number;
}

const observed: Seen[] = [];
const observer = statefulFunction({
  typename: 'example/observer',
  handler(ctx, message) {
    observed.push({
      eventTime: ctx.eventTime,
      watermark: ctx.watermark,
      messageTime: message.eventTime,
      late: message.isLate,
      lateness: message.lateness,
    });
    ctx.send(messageBuilder({ typename: 'example/next', id: ctx.self.id, value: message.asString() }));
    ctx.sendAfter(10, messageBuilder({ target: ctx.self, value: 'later' }));
    ctx.sendEgress(
      kafkaEgressMessage({
        typename: 'example/out',
        topic: 't',
        key: ctx.self.id,
        value: message.asString(),
      }),
    );
  },
});

const windowEnd = (t: number): number => Math.floor(t / 60_000) * 60_000 + 60_000;
const windows = statefulFunction({
  typename: 'example/windows',
  specs: { count: valueSpec(types.int) },
  handler(ctx, message) {
    if (message.asString() === 'close') return;
    ctx.storage.count = (ctx.storage.count ?? 0) + 1;
    const end = windowEnd(ctx.eventTime!);
    ctx.sendAtEventTime(end, messageBuilder({ target: ctx.self, value: 'close' }), {
      cancellationToken: `w-${end}`,
    });
    if (message.asString() === 'cancel') ctx.cancelDelayedMessage(`w-${end}`);
  },
});

describe('event time in a function', () => {
  it('each invocation of a batch sees its own event time and watermark; lateness is event time behind the watermark', async () => {
    observed.length = 0;
    await invoke(observer, {
      messages: [
        testMessage(types.string, 'on time', { eventTime: 10_000, watermark: 9_000 }),
        testMessage(types.string, 'late', { eventTime: 4_000, watermark: 9_500 }),
        testMessage(types.string, 'at the watermark', { eventTime: 9_500, watermark: 9_500 }),
        'unknown',
      ],
    });
    expect(observed).toEqual([
      { eventTime: 10_000, watermark: 9_000, messageTime: 10_000, late: false, lateness: 0 },
      { eventTime: 4_000, watermark: 9_500, messageTime: 4_000, late: true, lateness: 5_500 },
      { eventTime: 9_500, watermark: 9_500, messageTime: 9_500, late: false, lateness: 0 },
      { eventTime: undefined, watermark: undefined, messageTime: undefined, late: false, lateness: 0 },
    ]);
  });

  it('messages, delayed messages and egress records carry the event time of the invocation that sent them', async () => {
    const result = await invoke(observer, {
      messages: [
        testMessage(types.string, 'a', { eventTime: 1_000 }),
        testMessage(types.string, 'b', { eventTime: 3_000 }),
      ],
    });
    expect(result.sent.map((m) => m.eventTime)).toEqual([1_000, 3_000]);
    expect(result.delayed.map((m) => m.eventTime)).toEqual([1_000, 3_000]);
    expect(result.egress.map((m) => m.eventTime)).toEqual([1_000, 3_000]);
    expect(result.response.outgoingMessages.map((m) => m.eventTime)).toEqual([1_000, 3_000]);
  });

  it('without event times (a StateFun runtime) the effects carry none and the response has no extension fields', async () => {
    const handler = createRequestReplyHandler([observer]);
    const body = encodeToFunction({
      invocation: {
        target: { namespace: 'example', type: 'observer', id: 'x' },
        state: [],
        invocations: [
          { argument: { typename: 'io.statefun.types/string', hasValue: true, value: encodeString('a') } },
        ],
      },
    });
    const result = decodeFromFunction(await handler.handle(body)).invocationResult!;
    expect(result.outgoingMessages[0]).not.toHaveProperty('eventTime');
    expect(result.delayedInvocations[0]).not.toHaveProperty('eventTime');
    expect(result.outgoingEgresses[0]).not.toHaveProperty('eventTime');
  });

  it('ctx.sendAtEventTime sets an event-time timer that carries its time; cancelDelayedMessage cancels it', async () => {
    const result = await invoke(windows, {
      id: 'k',
      messages: [testMessage(types.string, 'click', { eventTime: 61_500, watermark: 60_000 })],
    });
    expect(result.timers).toHaveLength(1);
    const timer = result.timers[0]!;
    expect(timer.time).toBe(120_000);
    expect(timer.eventTime).toBe(120_000);
    expect(timer.cancellationToken).toBe('w-120000');
    expect(timer.target.id).toBe('k');
    expect(timer.asString()).toBe('close');
    expect(result.delayed).toEqual([]);
    expect(result.response.delayedInvocations[0]).toMatchObject({
      atEventTime: true,
      eventTime: 120_000,
      delayInMs: 0,
    });

    const cancelled = await invoke(windows, {
      id: 'k',
      messages: [testMessage(types.string, 'cancel', { eventTime: 61_500 })],
    });
    expect(cancelled.cancellations).toEqual(['w-120000']);
  });

  it('rejects a timer time that is not a positive integer and an empty token', async () => {
    const bad = (time: number, token?: string) =>
      statefulFunction({
        typename: 'example/bad',
        handler(ctx) {
          ctx.sendAtEventTime(time, messageBuilder({ target: ctx.self, value: 'x' }), {
            ...(token === undefined ? {} : { cancellationToken: token }),
          });
        },
      });
    for (const time of [0, -5, 1.5, Number.NaN]) {
      const err = await invoke(bad(time), { messages: ['m'] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SdkError);
      expect(String((err as SdkError).cause)).toMatch(/positive integer of milliseconds since the epoch/);
    }
    const err = await invoke(bad(5, ''), { messages: ['m'] }).catch((e: unknown) => e);
    expect(String((err as SdkError).cause)).toMatch(/cancellationToken must be a non-empty string/);
  });

  it('the harness applies invoke-wide event time and watermark to messages that name none', async () => {
    observed.length = 0;
    const first = await invoke(observer, {
      eventTime: 7_000,
      watermark: 8_000,
      messages: ['x', testMessage(types.string, 'y', { eventTime: 9_000 })],
    });
    expect(observed.map((o) => [o.eventTime, o.watermark, o.late])).toEqual([
      [7_000, 8_000, true],
      [9_000, 8_000, false],
    ]);
    // A sent message handed on keeps its event time.
    observed.length = 0;
    await invoke(observer, { messages: [testMessageFrom(first.sent[1]!)] });
    expect(observed[0]!.eventTime).toBe(9_000);
    expect(() => testMessage(types.string, 'z', { eventTime: 0 })).toThrow(/non-zero integer/);
  });
});
