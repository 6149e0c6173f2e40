import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  address,
  jsonType,
  kafkaEgressMessage,
  kinesisEgressMessage,
  messageBuilder,
  playgroundEgressMessage,
  playgroundEgressRecordType,
  SdkError,
  statefulFunction,
  types,
  valueSpec,
} from '@continuum/sdk';
import { invoke, testMessage } from '@continuum/sdk/testing';

const Note = jsonType('example/Note', z.object({ text: z.string() }));

const fn = statefulFunction({
  typename: 'example/harnessed',
  specs: { count: valueSpec(types.int), note: valueSpec(Note), gone: valueSpec(types.string) },
  handler(ctx, message) {
    ctx.storage.count = (ctx.storage.count ?? 0) + 1;
    ctx.storage.gone = undefined;
    if (message.isInt()) {
      ctx.storage.note = { text: `int ${message.asInt()}` };
    }
    if (ctx.caller) ctx.send(messageBuilder({ target: ctx.caller, value: `hello ${ctx.caller.id}` }));
    ctx.sendAfter(1000, messageBuilder({ target: ctx.self, value: 'tick' }), { cancellationToken: 'tick' });
    ctx.cancelDelayedMessage('old');
    ctx.sendEgress(
      kafkaEgressMessage({
        typename: 'example/out',
        topic: 'counts',
        key: ctx.self.id,
        value: String(ctx.storage.count),
      }),
    );
    ctx.sendEgress(
      kinesisEgressMessage({ typename: 'example/stream', stream: 's', partitionKey: 'p', value: 'k' }),
    );
    ctx.sendEgress(playgroundEgressMessage({ topic: 'greetings', payload: 'hi' }));
  },
});

describe('invoke (the testing harness)', () => {
  it('runs a batch in-process and returns typed state, messages, delayed messages, cancellations and egress', async () => {
    const bob = address('example/user', 'bob');
    const result = await invoke(fn, {
      id: 'x1',
      state: { count: 4, gone: 'bye' },
      messages: ['first', testMessage(types.int, 7, { caller: bob })],
    });

    expectTypeOf(result.state.count).toEqualTypeOf<number | undefined>();
    expectTypeOf(result.state.note).toEqualTypeOf<{ text: string } | undefined>();
    expect(result.state).toEqual({ count: 6, note: { text: 'int 7' }, gone: undefined });
    expect(result.stateChanges).toEqual([
      { name: 'count', kind: 'modify' },
      { name: 'note', kind: 'modify' },
      { name: 'gone', kind: 'delete' },
    ]);

    expect(result.sent).toHaveLength(1);
    expect(result.sent[0]!.target).toEqual({
      namespace: 'example',
      type: 'user',
      id: 'bob',
      typename: 'example/user',
    });
    expect(result.sent[0]!.asString()).toBe('hello bob');

    expect(result.delayed.map((d) => [d.delayMs, d.cancellationToken, d.target.id, d.asString()])).toEqual([
      [1000, 'tick', 'x1', 'tick'],
      [1000, 'tick', 'x1', 'tick'],
    ]);
    expect(result.cancellations).toEqual(['old', 'old']);

    const kafka = result.egress.filter((e) => e.egress === 'example/out').map((e) => e.asKafkaRecord());
    expect(kafka.map((r) => [r.topic, r.key, r.valueAsString()])).toEqual([
      ['counts', 'x1', '5'],
      ['counts', 'x1', '6'],
    ]);
    const kinesis = result.egress.find((e) => e.egress === 'example/stream')!.asKinesisRecord();
    expect([kinesis.stream, kinesis.partitionKey, kinesis.explicitHashKey, kinesis.valueAsString()]).toEqual([
      's',
      'p',
      undefined,
      'k',
    ]);
    const playground = result.egress.find((e) => e.egress === 'io.statefun.playground/egress')!;
    expect(playground.typename).toBe('io.statefun.playground/EgressRecord');
    expect(playground.as(playgroundEgressRecordType)).toEqual({ topic: 'greetings', payload: 'hi' });
    expect(() => playground.asKafkaRecord()).toThrow(SdkError);
    expect(playground.asPlaygroundEgress()).toEqual({ topic: 'greetings', payload: 'hi' });
    const kafkaEgress = result.egress.find((e) => e.egress === 'example/out')!;
    expect(() => kafkaEgress.asPlaygroundEgress()).toThrow(/not for io\.statefun\.playground\/egress/);
  });

  it('gives the caller to messages that do not name one, and none by default', async () => {
    const callers: (string | undefined)[] = [];
    const probe = statefulFunction({
      typename: 'example/probe',
      handler(ctx) {
        callers.push(ctx.caller?.typename);
      },
    });
    await invoke(probe, { messages: ['a'] });
    await invoke(probe, {
      messages: ['a', testMessage(types.string, 'b', { caller: address('x/own', '1') })],
      caller: address('x/default', '1'),
    });
    expect(callers).toEqual([undefined, 'x/default', 'x/own']);
  });

  it('leaves untouched states as they were and reports no change for them', async () => {
    const reader = statefulFunction({
      typename: 'example/reader',
      specs: { a: valueSpec(types.int), b: valueSpec(types.int) },
      handler(ctx) {
        void ctx.storage.a;
      },
    });
    const result = await invoke(reader, { state: { a: 1, b: 2 }, messages: ['x'] });
    expect(result.state).toEqual({ a: 1, b: 2 });
    expect(result.stateChanges).toEqual([]);
  });

  it('rejects with FUNCTION_FAILED carrying the original error when the function throws', async () => {
    const failing = statefulFunction({
      typename: 'example/failing',
      handler() {
        throw new RangeError('out of stock');
      },
    });
    await expect(invoke(failing, { messages: ['x'] })).rejects.toMatchObject({
      code: 'FUNCTION_FAILED',
      cause: expect.any(RangeError) as unknown,
    });
    await expect(invoke(failing, { messages: ['x'] })).rejects.toThrow(/out of stock/);
  });

  it('rejects initial state for undeclared names', async () => {
    await expect(invoke(fn, { state: { nope: 1 } as never, messages: ['x'] })).rejects.toThrow(
      /state.nope is not declared/,
    );
  });
});
