// ctx.reply: the typed short form of answering the caller (the waiting request of the runtime's
// request-response ingress, or any function that sent the message).
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { address, jsonType, statefulFunction, types, valueSpec } from '@continuum/sdk';
import { invoke, testMessage } from '@continuum/sdk/testing';

const Result = jsonType('example/ReservationResult', z.object({ reserved: z.boolean() }));

const reserver = statefulFunction({
  typename: 'example/reserver',
  specs: { left: valueSpec(types.int) },
  handler(ctx, message) {
    const want = message.asInt();
    const left = ctx.storage.left ?? 3;
    const reserved = want <= left;
    if (reserved) ctx.storage.left = left - want;
    ctx.reply({ reserved }, Result);
  },
});

describe('ctx.reply', () => {
  it('sends the typed value to the caller', async () => {
    const waiting = address('io.continuum.request/reply', 'req-1');
    const result = await invoke(reserver, {
      id: 'sku-1',
      messages: [
        testMessage(types.int, 2, { caller: waiting }),
        testMessage(types.int, 2, { caller: waiting }),
      ],
    });
    expect(result.sent.map((m) => [m.target.typename, m.target.id, m.typename])).toEqual([
      ['io.continuum.request/reply', 'req-1', 'example/ReservationResult'],
      ['io.continuum.request/reply', 'req-1', 'example/ReservationResult'],
    ]);
    expect(result.sent.map((m) => m.as(Result))).toEqual([{ reserved: true }, { reserved: false }]);
    expect(result.state.left).toBe(1);
  });

  it('sends a string as io.statefun.types/string when no type is given', async () => {
    const echo = statefulFunction({
      typename: 'example/echo',
      specs: {},
      handler(ctx, message) {
        ctx.reply(`echo ${message.asString()}`);
      },
    });
    const result = await invoke(echo, {
      messages: [testMessage(types.string, 'hi', { caller: address('example/user', 'u') })],
    });
    expect(result.sent[0]!.typename).toBe('io.statefun.types/string');
    expect(result.sent[0]!.asString()).toBe('echo hi');
  });

  it('throws NO_CALLER for a message without a caller', async () => {
    await expect(invoke(reserver, { messages: [testMessage(types.int, 1)] })).rejects.toMatchObject({
      code: 'FUNCTION_FAILED',
      cause: { code: 'NO_CALLER', message: expect.stringContaining('no caller to answer') as unknown },
    });
  });
});
