import { describe, expect, it } from 'vitest';
import { ExpireMode, type InvocationResponse } from '@continuum/sdk/protocol';
import { effectsOf, responseProblem, timerId, type EffectInput } from '../../src/core/effects.js';
import { Header } from '../../src/core/envelope.js';
import type { RegisteredState } from '../../src/core/state-registry.js';
import type { StoredValue } from '../../src/state/state-store.js';
import { REPLY_NAMESPACE, REPLY_TYPE } from '../../src/request-reply/reply-address.js';
import { addr, intValue, kafkaEgress, routers, INT } from './harness.js';

const self = addr('test/fx', 'me');
const KEY = 'test/fx/me';

function result(parts: Partial<InvocationResponse> = {}): InvocationResponse {
  return { stateMutations: [], outgoingMessages: [], delayedInvocations: [], outgoingEgresses: [], ...parts };
}

function input(over: Partial<EffectInput> = {}): EffectInput {
  return {
    topics: {
      partition: 3,
      internalTopic: 'internal',
      partitions: 4,
      partitioning: 'address',
      repliesTopic: 'replies',
      deadLetterTopic: 'dead',
    },
    egress: routers().egress,
    address: self,
    states: new Map(),
    registered: new Map<string, RegisteredState>([
      ['n', { name: 'n', typename: INT, expireMode: ExpireMode.NONE, expireAfterMs: 0 }],
    ]),
    eventTimes: [5, 9],
    now: 1000,
    timers: { has: () => false, pending: 0 },
    maxPendingTimers: 10,
    autoTimerPrefix: '#7.',
    autoTimerSeq: 0,
    ...over,
  };
}

describe('effects of a response', () => {
  it('are records in protocol order (messages, delayed dead letters, egress) and state writes, with no side effects', () => {
    const fx = effectsOf(
      input(),
      result({
        outgoingMessages: [
          { target: addr('test/other', 'x'), argument: intValue(1) },
          { target: { namespace: '', type: 't', id: 'x' }, argument: intValue(2) },
        ],
        delayedInvocations: [{ isCancellationRequest: true, cancellationToken: '', delayInMs: 0 }],
        outgoingEgresses: [kafkaEgress('out', 'k', 'v')],
        stateMutations: [{ mutationType: 1, stateName: 'n', stateValue: intValue(4) }],
      }),
    );
    expect(fx.records.map((r) => [r.topic, r.headers?.[Header.code]])).toEqual([
      ['internal', undefined],
      ['dead', 'MESSAGE_TARGET_INVALID'],
      ['dead', 'CANCELLATION_INVALID'],
      ['out', undefined],
    ]);
    expect(fx.deadLetters.map((d) => d.code)).toEqual(['MESSAGE_TARGET_INVALID', 'CANCELLATION_INVALID']);
    expect(fx.states).toEqual([{ name: 'n', value: { typename: INT, value: intValue(4).value } }]);
    expect(fx.urgent).toBe(false);
    // Effects that name no event time get the batch's latest.
    expect(fx.records[1]!.headers?.[Header.eventTime]).toBe('9');
  });

  it('a message to a waiting request is a reply and makes the checkpoint urgent', () => {
    const fx = effectsOf(
      input(),
      result({
        outgoingMessages: [
          { target: { namespace: REPLY_NAMESPACE, type: REPLY_TYPE, id: 'r1' }, argument: intValue(1) },
        ],
      }),
    );
    expect(fx.records.map((r) => r.topic)).toEqual(['replies']);
    expect(fx.urgent).toBe(true);
  });

  it('plans timers against the pending ones: cancel only what is pending, a pending token reused is a dead letter, the limit holds', () => {
    const pendingIds = new Set([timerId(KEY, 'old')]);
    const fx = effectsOf(
      input({ timers: { has: (id) => pendingIds.has(id), pending: 9 } }),
      result({
        delayedInvocations: [
          { isCancellationRequest: true, cancellationToken: 'unknown', delayInMs: 0 },
          { isCancellationRequest: true, cancellationToken: 'old', delayInMs: 0 },
          {
            isCancellationRequest: false,
            cancellationToken: 'a',
            delayInMs: 100,
            target: self,
            argument: intValue(1),
          },
          {
            isCancellationRequest: false,
            cancellationToken: 'a',
            delayInMs: 100,
            target: self,
            argument: intValue(2),
          },
          {
            isCancellationRequest: false,
            cancellationToken: '',
            delayInMs: 50,
            target: self,
            argument: intValue(3),
          },
          {
            isCancellationRequest: false,
            cancellationToken: '',
            delayInMs: 50,
            target: self,
            argument: intValue(4),
          },
          {
            isCancellationRequest: false,
            cancellationToken: '',
            delayInMs: -1,
            target: self,
            argument: intValue(5),
          },
        ],
      }),
    );
    expect(
      fx.timers.map((t) => (t.kind === 'cancel' ? `-${t.id}` : `+${t.timer.id}@${t.timer.fireAt}`)),
    ).toEqual([`-${timerId(KEY, 'old')}`, `+${timerId(KEY, 'a')}@1100`, `+${timerId(KEY, '#7.0')}@1050`]);
    // 9 pending - 1 cancelled + 2 added = 10, the limit: the second automatic one is refused.
    expect(fx.deadLetters.map((d) => d.code)).toEqual([
      'CANCELLATION_TOKEN_REUSED',
      'TIMER_LIMIT_REACHED',
      'DELAYED_MESSAGE_INVALID',
    ]);
    expect(fx.deadLetters[1]!.reason).toContain('partition 3 holds 10 pending');
    expect(fx.autoTimersUsed).toBe(2);
  });

  it('an event-time timer carries its own time; a non-positive one is a dead letter', () => {
    const fx = effectsOf(
      input(),
      result({
        delayedInvocations: [
          {
            isCancellationRequest: false,
            cancellationToken: 't',
            delayInMs: 0,
            atEventTime: true,
            eventTime: 500,
            target: self,
            argument: intValue(1),
          },
          {
            isCancellationRequest: false,
            cancellationToken: 'u',
            delayInMs: 0,
            atEventTime: true,
            eventTime: 0,
            target: self,
            argument: intValue(1),
          },
        ],
      }),
    );
    expect(fx.timers).toEqual([
      {
        kind: 'add',
        timer: expect.objectContaining({
          id: timerId(KEY, 't'),
          fireAt: 500,
          eventTime: 500,
          kind: 'event-time',
        }),
      },
    ]);
    expect(fx.deadLetters[0]!.reason).toContain('positive time');
  });

  it('refreshes "expire after invoke" states that the response did not write', () => {
    const stored: StoredValue = { typename: INT, value: intValue(1).value, expiresAt: 1001 };
    const fx = effectsOf(
      input({
        states: new Map([['s', stored]]),
        registered: new Map<string, RegisteredState>([
          ['s', { name: 's', typename: INT, expireMode: ExpireMode.AFTER_INVOKE, expireAfterMs: 60 }],
        ]),
      }),
      result(),
    );
    expect(fx.states).toEqual([{ name: 's', value: { ...stored, expiresAt: 1060 } }]);
  });

  it('a response changing an undeclared state or with the wrong type is a problem named before anything applies', () => {
    const registered = input().registered;
    expect(
      responseProblem(
        registered,
        result({ stateMutations: [{ mutationType: 1, stateName: 'x', stateValue: intValue(1) }] }),
      ),
    ).toContain('never declared');
    expect(
      responseProblem(
        registered,
        result({
          stateMutations: [
            {
              mutationType: 1,
              stateName: 'n',
              stateValue: { typename: 'other/t', hasValue: true, value: new Uint8Array() },
            },
          ],
        }),
      ),
    ).toContain('registered with type io.statefun.types/int');
    expect(
      responseProblem(registered, result({ stateMutations: [{ mutationType: 0, stateName: 'n' }] })),
    ).toBeUndefined();
  });
});
