import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createRequestReplyHandler,
  jsonType,
  kafkaEgressMessage,
  messageBuilder,
  ProtocolError,
  SdkError,
  statefulFunction,
  TerminalError,
  httpStatusOf,
  types,
  valueSpec,
  type Address,
} from '@continuum/sdk';
import {
  decodeFromFunction,
  encodeInt,
  encodeString,
  encodeToFunction,
  ExpireMode,
  MutationType,
  type PersistedValue,
  type ToFunctionInvocation,
} from '@continuum/sdk/protocol';
import { fromHex } from './helpers.js';

const Cart = jsonType('example/Cart', z.object({ items: z.array(z.string()) }));

function request(
  target: string,
  id: string,
  state: PersistedValue[],
  invocations: ToFunctionInvocation[],
): Uint8Array {
  const [namespace, type] = target.split('/') as [string, string];
  return encodeToFunction({ invocation: { target: { namespace, type, id }, state, invocations } });
}

const str = (s: string, caller?: { namespace: string; type: string; id: string }): ToFunctionInvocation => ({
  argument: { typename: 'io.statefun.types/string', hasValue: true, value: encodeString(s) },
  ...(caller ? { caller } : {}),
});

const intState = (name: string, v: number): PersistedValue => ({
  stateName: name,
  stateValue: { typename: 'io.statefun.types/int', hasValue: true, value: encodeInt(v) },
});

describe('state negotiation', () => {
  let runs = 0;
  const fn = statefulFunction({
    typename: 'example/negotiating',
    specs: {
      seen: valueSpec(types.int),
      cart: valueSpec(Cart, { expireAfterCall: 60_000 }),
      last: valueSpec(types.string, { expireAfterWrite: 5_000 }),
    },
    handler() {
      runs++;
    },
  });
  const handler = createRequestReplyHandler([fn]);

  it('a request missing declared states gets IncompleteInvocationContext with exactly those specs, and nothing runs', async () => {
    const out = decodeFromFunction(
      await handler.handle(request('example/negotiating', 'a', [{ stateName: 'seen' }], [str('x')])),
    );
    expect(out).toEqual({
      incompleteInvocationContext: {
        missingValues: [
          {
            stateName: 'cart',
            typeTypename: 'example/Cart',
            expirationSpec: { mode: ExpireMode.AFTER_INVOKE, expireAfterMillis: 60_000 },
          },
          {
            stateName: 'last',
            typeTypename: 'io.statefun.types/string',
            expirationSpec: { mode: ExpireMode.AFTER_WRITE, expireAfterMillis: 5_000 },
          },
        ],
      },
    });
    expect(runs).toBe(0);
  });

  it('lists every spec, with mode NONE for specs without expiration, when no state is attached', async () => {
    const out = decodeFromFunction(await handler.handle(request('example/negotiating', 'a', [], [str('x')])));
    expect(
      out.incompleteInvocationContext?.missingValues.map((v) => [v.stateName, v.expirationSpec?.mode]),
    ).toEqual([
      ['seen', ExpireMode.NONE],
      ['cart', ExpireMode.AFTER_INVOKE],
      ['last', ExpireMode.AFTER_WRITE],
    ]);
    expect(runs).toBe(0);
  });

  it('runs once every declared state is present, with or without a value, ignoring undeclared states', async () => {
    const state = [{ stateName: 'seen' }, { stateName: 'cart' }, { stateName: 'last' }, intState('other', 1)];
    const out = decodeFromFunction(
      await handler.handle(request('example/negotiating', 'a', state, [str('x')])),
    );
    expect(out.invocationResult).toBeDefined();
    expect(runs).toBe(1);
  });
});

describe('batches', () => {
  it('run in order on one shared storage, update the caller per invocation, and emit one mutation per dirty state', async () => {
    const seenCallers: (string | undefined)[] = [];
    const fn = statefulFunction({
      typename: 'example/counter',
      specs: { count: valueSpec(types.int), log: valueSpec(types.string), untouched: valueSpec(types.int) },
      async handler(ctx, message) {
        seenCallers.push(ctx.caller?.id);
        await Promise.resolve();
        ctx.storage.count = (ctx.storage.count ?? 0) + 1;
        ctx.storage.log = `${ctx.storage.log ?? ''}${message.asString()}`;
        ctx.send(
          messageBuilder({
            typename: 'example/sink',
            id: ctx.self.id,
            value: ctx.storage.count,
            valueType: types.int,
          }),
        );
      },
    });
    const caller = { namespace: 'example', type: 'user', id: 'u1' };
    const bytes = await createRequestReplyHandler([fn]).handle(
      request(
        'example/counter',
        'c1',
        [intState('count', 10), { stateName: 'log' }, intState('untouched', 7)],
        [str('a', caller), str('b'), str('c', caller)],
      ),
    );
    const result = decodeFromFunction(bytes).invocationResult!;
    expect(seenCallers).toEqual(['u1', undefined, 'u1']);
    expect(result.stateMutations).toEqual([
      {
        mutationType: MutationType.MODIFY,
        stateName: 'count',
        stateValue: { typename: 'io.statefun.types/int', hasValue: true, value: encodeInt(13) },
      },
      {
        mutationType: MutationType.MODIFY,
        stateName: 'log',
        stateValue: { typename: 'io.statefun.types/string', hasValue: true, value: encodeString('abc') },
      },
    ]);
    expect(result.outgoingMessages.map((m) => m.argument.value)).toEqual([
      encodeInt(11),
      encodeInt(12),
      encodeInt(13),
    ]);
  });

  it('a state set to undefined or null is deleted; one only read is not written back', async () => {
    const fn = statefulFunction({
      typename: 'example/deleter',
      specs: { a: valueSpec(types.int), b: valueSpec(types.int), c: valueSpec(types.int) },
      handler(ctx) {
        ctx.storage.a = undefined;
        (ctx.storage as Record<string, unknown>).b = null;
        void ctx.storage.c;
      },
    });
    const out = decodeFromFunction(
      await createRequestReplyHandler([fn]).handle(
        request('example/deleter', 'x', [intState('a', 1), intState('b', 2), intState('c', 3)], [str('go')]),
      ),
    );
    expect(out.invocationResult?.stateMutations).toEqual([
      { mutationType: MutationType.DELETE, stateName: 'a' },
      { mutationType: MutationType.DELETE, stateName: 'b' },
    ]);
  });

  it('an object read from storage and changed in place is written back; an unchanged one is not', async () => {
    const fn = statefulFunction({
      typename: 'example/cart',
      specs: { cart: valueSpec(Cart), other: valueSpec(Cart) },
      handler(ctx, message) {
        ctx.storage.cart?.items.push(message.asString());
        void ctx.storage.other?.items.length;
      },
    });
    const cart = {
      stateName: 'cart',
      stateValue: { typename: 'example/Cart', hasValue: true, value: Cart.serialize({ items: ['a'] }) },
    };
    const other = {
      stateName: 'other',
      stateValue: { typename: 'example/Cart', hasValue: true, value: Cart.serialize({ items: [] }) },
    };
    const out = decodeFromFunction(
      await createRequestReplyHandler([fn]).handle(request('example/cart', 'x', [cart, other], [str('b')])),
    );
    expect(out.invocationResult?.stateMutations).toEqual([
      {
        mutationType: MutationType.MODIFY,
        stateName: 'cart',
        stateValue: {
          typename: 'example/Cart',
          hasValue: true,
          value: Cart.serialize({ items: ['a', 'b'] }),
        },
      },
    ]);
  });

  it('an empty batch runs nothing and has no effects', async () => {
    const fn = statefulFunction({ typename: 'example/noop', handler: () => expect.unreachable() });
    const out = decodeFromFunction(
      await createRequestReplyHandler([fn]).handle(request('example/noop', 'x', [], [])),
    );
    expect(out).toEqual({
      invocationResult: {
        stateMutations: [],
        outgoingMessages: [],
        delayedInvocations: [],
        outgoingEgresses: [],
      },
    });
  });
});

describe('terminal failures: messages that can never succeed', () => {
  const cartJson = (text: string): ToFunctionInvocation => ({
    argument: { typename: 'example/Cart', hasValue: true, value: new TextEncoder().encode(text) },
  });

  it('a TerminalError rejects the message for good: MESSAGE_REJECTED, answered with 422', async () => {
    const fn = statefulFunction({
      typename: 'example/orders',
      handler(_ctx, message) {
        if (message.asString() === 'poison') throw new TerminalError('no such product: poison');
      },
    });
    const p = createRequestReplyHandler([fn]).handle(
      request('example/orders', 'x', [], [str('ok'), str('poison')]),
    );
    await expect(p).rejects.toMatchObject({ code: 'MESSAGE_REJECTED', retryable: false });
    await expect(p).rejects.toThrow(/rejected the message of invocation 2 of 2: no such product: poison/);
    expect(httpStatusOf(await p.catch((e: unknown) => e))).toBe(422);
  });

  it('a message that fails its zod schema, or is of another type, is rejected (422), not retried', async () => {
    const fn = statefulFunction({
      typename: 'example/carts',
      handler(_ctx, message) {
        void message.as(Cart);
      },
    });
    const handler = createRequestReplyHandler([fn]);
    for (const inv of [cartJson('{"items": 42}'), cartJson('not json'), str('a string, not a cart')]) {
      const err = await handler.handle(request('example/carts', 'x', [], [inv])).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'MESSAGE_REJECTED', retryable: false });
      expect(httpStatusOf(err)).toBe(422);
    }
    // A zod error the function raises itself is the message's fault too.
    const own = statefulFunction({
      typename: 'example/own',
      handler() {
        z.object({ n: z.number() }).parse({ n: 'x' });
      },
    });
    const err = await createRequestReplyHandler([own])
      .handle(request('example/own', 'x', [], [str('x')]))
      .catch((e: unknown) => e);
    expect(httpStatusOf(err)).toBe(422);
  });

  it('any other error stays retryable (500), including a TypeError such as a failed fetch', async () => {
    const fn = statefulFunction({
      typename: 'example/flaky',
      handler() {
        throw new TypeError('fetch failed');
      },
    });
    const err = await createRequestReplyHandler([fn])
      .handle(request('example/flaky', 'x', [], [str('x')]))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'FUNCTION_FAILED', retryable: true });
    expect(httpStatusOf(err)).toBe(500);
  });
});

describe('failures', () => {
  const codeOf = async (p: Promise<unknown>): Promise<string> => {
    try {
      await p;
    } catch (e) {
      expect(e).toBeInstanceOf(SdkError);
      return (e as SdkError).code;
    }
    throw new Error('expected an SdkError');
  };

  it('a function that throws fails the whole batch with FUNCTION_FAILED and the original error as cause', async () => {
    const boom = new Error('boom');
    const fn = statefulFunction({
      typename: 'example/thrower',
      specs: { n: valueSpec(types.int) },
      handler(ctx, message) {
        ctx.storage.n = 1;
        ctx.sendEgress(kafkaEgressMessage({ typename: 'example/out', topic: 't', value: 'partial' }));
        if (message.asString() === 'bad') throw boom;
      },
    });
    const p = createRequestReplyHandler([fn]).handle(
      request('example/thrower', 'x', [{ stateName: 'n' }], [str('ok'), str('bad')]),
    );
    await expect(p).rejects.toMatchObject({ code: 'FUNCTION_FAILED', cause: boom, retryable: true });
    await expect(p).rejects.toThrow(/example\/thrower \(id x\) failed in invocation 2 of 2: boom/);
  });

  it('a state holding another type than declared fails with a TYPE_MISMATCH cause naming the state', async () => {
    const fn = statefulFunction({
      typename: 'example/typed',
      specs: { n: valueSpec(types.long) },
      handler(ctx) {
        void ctx.storage.n;
      },
    });
    const p = createRequestReplyHandler([fn]).handle(
      request('example/typed', 'x', [intState('n', 1)], [str('x')]),
    );
    await expect(p).rejects.toMatchObject({ code: 'FUNCTION_FAILED', cause: { code: 'TYPE_MISMATCH' } });
    await expect(p).rejects.toThrow(/state "n" holds a value of type io.statefun.types\/int/);
  });

  it('writing an undeclared state throws instead of being silently lost', async () => {
    const fn = statefulFunction({
      typename: 'example/typo',
      specs: { n: valueSpec(types.int) },
      handler(ctx) {
        (ctx.storage as Record<string, unknown>).m = 1;
      },
    });
    const p = createRequestReplyHandler([fn]).handle(
      request('example/typo', 'x', [{ stateName: 'n' }], [str('x')]),
    );
    await expect(p).rejects.toMatchObject({ code: 'FUNCTION_FAILED', cause: { name: 'TypeError' } });
  });

  it('using the context after the invocation completed throws rather than losing the effect', async () => {
    let saved: Promise<void> | undefined;
    let late: unknown;
    const fn = statefulFunction({
      typename: 'example/late',
      handler(ctx) {
        saved = new Promise((resolve) => setImmediate(resolve)).then(() => {
          try {
            ctx.send(messageBuilder({ typename: 'example/x', id: '1', value: 'late' }));
          } catch (e) {
            late = e;
          }
        });
      },
    });
    const out = decodeFromFunction(
      await createRequestReplyHandler([fn]).handle(request('example/late', 'x', [], [str('x')])),
    );
    await saved;
    expect(out.invocationResult?.outgoingMessages).toEqual([]);
    expect(late).toBeInstanceOf(SdkError);
    expect((late as Error).message).toMatch(/after the invocation of example\/late \(id x\) completed/);
  });

  it('an unknown function type is UNKNOWN_FUNCTION naming what is served', async () => {
    const fn = statefulFunction({ typename: 'example/known', handler: () => undefined });
    const p = createRequestReplyHandler([fn]).handle(request('example/unknown', 'x', [], [str('x')]));
    expect(await codeOf(p)).toBe('UNKNOWN_FUNCTION');
    await expect(p).rejects.toThrow(
      /does not serve the function type example\/unknown \(it serves example\/known\)/,
    );
  });

  it('empty, malformed and invocation-less bodies are ProtocolErrors', async () => {
    const handler = createRequestReplyHandler([]);
    for (const body of [new Uint8Array(0), fromHex('a2 06 05 0a'), fromHex('ff ff'), fromHex('08 01')]) {
      await expect(handler.handle(body)).rejects.toBeInstanceOf(ProtocolError);
    }
  });

  it('serving the same function type twice is rejected up front', () => {
    const fn = statefulFunction({ typename: 'example/dup', handler: () => undefined });
    expect(() => createRequestReplyHandler([fn, fn])).toThrow(/example\/dup is given twice/);
  });
});

describe('context', () => {
  it('sendAfter, cancellation and egress are collected in call order with their exact wire fields', async () => {
    const target: Address = { namespace: 'example', type: 'timer', id: 't', typename: 'example/timer' };
    const fn = statefulFunction({
      typename: 'example/scheduler',
      handler(ctx) {
        ctx.sendAfter(1500, messageBuilder({ target, value: 'later' }), { cancellationToken: 'tok-1' });
        ctx.cancelDelayedMessage('tok-0');
        ctx.sendAfter(0, messageBuilder({ target, value: 'now' }));
        ctx.sendEgress(kafkaEgressMessage({ typename: 'example/out', topic: 'topic', key: 'k', value: 'v' }));
      },
    });
    const out = decodeFromFunction(
      await createRequestReplyHandler([fn]).handle(request('example/scheduler', 's', [], [str('x')])),
    );
    const wireTarget = { namespace: 'example', type: 'timer', id: 't' };
    expect(out.invocationResult?.delayedInvocations).toEqual([
      {
        isCancellationRequest: false,
        cancellationToken: 'tok-1',
        delayInMs: 1500,
        target: wireTarget,
        argument: { typename: 'io.statefun.types/string', hasValue: true, value: encodeString('later') },
      },
      { isCancellationRequest: true, cancellationToken: 'tok-0', delayInMs: 0 },
      {
        isCancellationRequest: false,
        cancellationToken: '',
        delayInMs: 0,
        target: wireTarget,
        argument: { typename: 'io.statefun.types/string', hasValue: true, value: encodeString('now') },
      },
    ]);
    expect(out.invocationResult?.outgoingEgresses).toHaveLength(1);
    expect(out.invocationResult?.outgoingEgresses[0]).toMatchObject({
      egressNamespace: 'example',
      egressType: 'out',
    });
  });

  it('rejects invalid delays, tokens and targets with INVALID_ARGUMENT', async () => {
    const errors: string[] = [];
    const fn = statefulFunction({
      typename: 'example/invalid',
      handler(ctx) {
        const m = messageBuilder({ typename: 'example/x', id: '1', value: 'v' });
        for (const f of [
          () => ctx.sendAfter(-1, m),
          () => ctx.sendAfter(1.5, m),
          () => ctx.sendAfter(1, m, { cancellationToken: '' }),
          () => ctx.cancelDelayedMessage(''),
          () => messageBuilder({ typename: 'no-slash', id: '1', value: 'v' }),
          () => messageBuilder({ typename: 'a/b/c', id: '1', value: 'v' }),
          () => messageBuilder({ typename: 'a/b', id: '', value: 'v' }),
          () => messageBuilder({ typename: 'a/b', id: '1', value: 5 } as never),
        ]) {
          try {
            f();
          } catch (e) {
            errors.push((e as SdkError).code);
          }
        }
      },
    });
    await createRequestReplyHandler([fn]).handle(request('example/invalid', 's', [], [str('x')]));
    expect(errors).toEqual(Array(8).fill('INVALID_ARGUMENT'));
  });
});
