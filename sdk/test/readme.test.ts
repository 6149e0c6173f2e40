// The examples of sdk/README.md, kept working.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  jsonType,
  kafkaEgressMessage,
  messageBuilder,
  serve,
  statefulFunction,
  types,
  valueSpec,
} from '@continuum/sdk';
import { invoke, testMessage } from '@continuum/sdk/testing';
import { decodeFromFunction, encodeString, encodeToFunction } from '@continuum/sdk/protocol';

const greeter = statefulFunction({
  typename: 'example/greeter',
  specs: { seen: valueSpec(types.int) },
  handler(ctx, message) {
    const name = message.asString();
    const seen = (ctx.storage.seen ?? 0) + 1;
    ctx.storage.seen = seen;
    ctx.sendEgress(
      kafkaEgressMessage({
        typename: 'example/greets',
        topic: 'greetings',
        key: ctx.self.id,
        value: `Hello ${name}, visit #${seen}`,
      }),
    );
  },
});

describe('the README', () => {
  it('quick start: the greeter counts visits', async () => {
    const result = await invoke(greeter, { id: 'alice', state: { seen: 1 }, messages: ['Alice'] });
    expect(result.state.seen).toBe(2);
    expect(result.egress[0]!.asKafkaRecord().valueAsString()).toBe('Hello Alice, visit #2');
  });

  it('quick start: the greeter is served over HTTP', async () => {
    const server = await serve({ functions: [greeter], port: 0, logger: false });
    try {
      const body = encodeToFunction({
        invocation: {
          target: { namespace: 'example', type: 'greeter', id: 'bob' },
          state: [{ stateName: 'seen' }],
          invocations: [
            {
              argument: { typename: 'io.statefun.types/string', hasValue: true, value: encodeString('Bob') },
            },
          ],
        },
      });
      const res = await fetch(`${server.url}greeter`, { method: 'POST', body: Buffer.from(body) });
      expect(
        decodeFromFunction(new Uint8Array(await res.arrayBuffer())).invocationResult?.outgoingEgresses,
      ).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it('state: writes, deletes and in-place changes', async () => {
    const Profile = jsonType('example/Profile', z.object({ name: z.string(), tags: z.array(z.string()) }));
    const user = statefulFunction({
      typename: 'example/user',
      specs: {
        visits: valueSpec(types.long),
        profile: valueSpec(Profile, { expireAfterCall: 30 * 24 * 3600_000 }),
        lastSeen: valueSpec(types.string, { expireAfterWrite: 3600_000 }),
      },
      handler(ctx) {
        ctx.storage.visits = (ctx.storage.visits ?? 0n) + 1n;
        ctx.storage.lastSeen = undefined;
        ctx.storage.profile?.tags.push('active');
        if (ctx.caller) ctx.send(messageBuilder({ target: ctx.caller, value: 'done' }));
      },
    });
    const result = await invoke(user, {
      state: { visits: 41n, profile: { name: 'A', tags: [] }, lastSeen: 'yesterday' },
      messages: ['hi'],
    });
    expect(result.state).toEqual({
      visits: 42n,
      profile: { name: 'A', tags: ['active'] },
      lastSeen: undefined,
    });
  });

  it('event time: a window timer at the end of the minute, late events left out', async () => {
    const Counts = jsonType('example/Counts', z.record(z.string(), z.number()));
    const WindowClose = jsonType('example/WindowClose', z.object({ end: z.number() }));
    const Click = jsonType('example/Click', z.object({ page: z.string() }));
    const handled: string[] = [];
    const windows = statefulFunction({
      typename: 'example/windows',
      specs: { counts: valueSpec(Counts) },
      handler(ctx, message) {
        if (message.is(WindowClose)) {
          handled.push('close');
          return;
        }
        if (message.isLate) {
          handled.push(`late by ${message.lateness}`);
          return;
        }
        const end = Math.floor(ctx.eventTime! / 60_000) * 60_000 + 60_000;
        ctx.sendAtEventTime(
          end,
          messageBuilder({ target: ctx.self, value: { end }, valueType: WindowClose }),
          {
            cancellationToken: `window-${end}`,
          },
        );
      },
    });
    const result = await invoke(windows, {
      messages: [
        testMessage(Click, { page: '/' }, { eventTime: 61_500, watermark: 60_000 }),
        testMessage(Click, { page: '/' }, { eventTime: 50_000, watermark: 60_000 }),
      ],
    });
    expect(result.timers[0]!.time).toBe(120_000);
    expect(result.timers[0]!.cancellationToken).toBe('window-120000');
    expect(handled).toEqual(['late by 10000']);
  });
});
