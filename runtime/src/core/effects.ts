// A function's response turned into what it changes, without doing any of it: records to write
// (messages, replies, egress, dead letters), state writes, timer additions and cancellations. Pure:
// the partition task applies the result to its checkpoint buffer and timer queues.
import type { Address, DelayedInvocation, InvocationResponse, TypedValue } from '@continuum/sdk/protocol';
import { ExpireMode, MutationType } from '@continuum/sdk/protocol';
import type { LogRecord, OutRecord } from '../log/log.js';
import type { StoredTimer, StoredValue } from '../state/state-store.js';
import { replyRecord, requestIdOf } from '../request-reply/reply-address.js';
import { addressKey, parseAddressKey, type Partitioning } from './address.js';
import type { DeadLetterCode } from './dead-letter-codes.js';
import { argumentBytes, deadLetterRecord, sourceOf, toInternalRecord, type Envelope } from './envelope.js';
import type { EgressRouter } from './routing.js';
import type { RegisteredState } from './state-registry.js';

/** What stays the same for every response of a partition. */
export interface EffectTopics {
  partition: number;
  internalTopic: string;
  /** Partitions of the internal topic (messages are keyed to one by their target). */
  partitions: number;
  /** How a target picks its partition (the deployment's). */
  partitioning: Partitioning;
  repliesTopic: string;
  deadLetterTopic: string;
}

export interface EffectInput {
  topics: EffectTopics;
  egress: EgressRouter;
  /** The invoked address. */
  address: Address;
  /** Its state before the response. */
  states: ReadonlyMap<string, StoredValue>;
  /** The states its function type declared. */
  registered: ReadonlyMap<string, RegisteredState>;
  /** The event times of the batch's invocations. */
  eventTimes: readonly number[];
  now: number;
  /** The partition's pending delayed messages and event-time timers, before this response. */
  timers: { has(id: string): boolean; readonly pending: number };
  maxPendingTimers: number;
  /** Ids of timers without a cancellation token: `${autoTimerPrefix}${n}` from `autoTimerSeq` on. */
  autoTimerPrefix: string;
  autoTimerSeq: number;
}

export type TimerEffect = { kind: 'add'; timer: StoredTimer } | { kind: 'cancel'; id: string };

export interface Effects {
  /** In the protocol's order: messages, delayed-message dead letters, egress. */
  records: OutRecord[];
  /** The dead letters among `records`, in order (for metrics and logs). */
  deadLetters: { code: DeadLetterCode; reason: string }[];
  /** State writes in order; null deletes. */
  states: { name: string; value: StoredValue | null }[];
  /** Timer changes in order; a cancel only names a timer pending at that point. */
  timers: TimerEffect[];
  /** How many automatic timer ids were used. */
  autoTimersUsed: number;
  /** A reply to a waiting request is among the records. */
  urgent: boolean;
}

/** Timer ids are scoped to the sending address, like StateFun's cancellation tokens. */
export function timerId(senderKey: string, token: string): string {
  return `${senderKey}\u0000${token}`;
}

/**
 * Checks what would otherwise be applied half-way (spec §2.2: these fail the job in StateFun).
 * Returns what is wrong, or undefined.
 */
export function responseProblem(
  registered: ReadonlyMap<string, RegisteredState>,
  result: InvocationResponse,
): string | undefined {
  for (const m of result.stateMutations) {
    const spec = registered.get(m.stateName);
    if (spec === undefined) return `the function changed state "${m.stateName}", which it never declared`;
    if (m.mutationType === MutationType.MODIFY) {
      if (m.stateValue === undefined) return `MODIFY of state "${m.stateName}" carries no value`;
      if (m.stateValue.typename !== spec.typename) {
        return (
          `MODIFY of state "${m.stateName}" has type ${m.stateValue.typename}, ` +
          `but the state is registered with type ${spec.typename}`
        );
      }
    } else if (m.mutationType !== MutationType.DELETE) {
      return `state "${m.stateName}" has unknown mutation type ${String(m.mutationType)}`;
    }
  }
  return undefined;
}

/**
 * The effects of a valid response (see `responseProblem`) in StateFun's order: messages, delayed,
 * egress, state. An effect that cannot be carried out becomes a dead letter; the rest still apply.
 */
export function effectsOf(input: EffectInput, result: InvocationResponse): Effects {
  const out: Effects = {
    records: [],
    deadLetters: [],
    states: [],
    timers: [],
    autoTimersUsed: 0,
    urgent: false,
  };
  const { address, now } = input;
  const key = addressKey(address);
  // An effect carries the event time of the invocation that produced it when the function says
  // which (our SDK does); otherwise (StateFun SDKs) the latest event time of the batch.
  const batchTime = input.eventTimes.reduce((t, e) => Math.max(t, e), 0);
  const deadLetter = (
    code: DeadLetterCode,
    reason: string,
    argument: { typename: string; value: Uint8Array } | undefined,
    eventTime: number,
    target?: Address,
  ): void => {
    out.deadLetters.push({ code, reason });
    out.records.push(
      deadLetterRecord(
        input.topics.deadLetterTopic,
        {
          code,
          reason,
          caller: address,
          target,
          key,
          value: argument?.value ?? null,
          typename: argument?.typename,
          eventTime,
        },
        now,
      ),
    );
  };

  for (const msg of result.outgoingMessages) {
    const eventTime = effectTime(msg.eventTime, batchTime);
    const reason = addressProblem(msg.target);
    if (reason !== undefined) {
      deadLetter('MESSAGE_TARGET_INVALID', `outgoing message: ${reason}`, msg.argument, eventTime);
      continue;
    }
    const m = messageRecord(input.topics, msg.target, address, msg.argument, eventTime);
    if (m.reply) out.urgent = true;
    out.records.push(m.record);
  }

  // The timers as this response leaves them, for token checks and the limit.
  const added = new Set<string>();
  const cancelled = new Set<string>();
  let pending = input.timers.pending;
  const pendingNow = (id: string): boolean => added.has(id) || (!cancelled.has(id) && input.timers.has(id));
  const plan = (
    d: DelayedInvocation,
    eventTime: number,
  ): { cancel: string } | { add: StoredTimer } | undefined => {
    if (d.isCancellationRequest) {
      if (d.cancellationToken === '') {
        deadLetter(
          'CANCELLATION_INVALID',
          'a delayed-message cancellation carries no token',
          undefined,
          eventTime,
        );
        return undefined;
      }
      return { cancel: timerId(key, d.cancellationToken) };
    }
    if (d.target === undefined || d.argument === undefined) {
      deadLetter(
        'DELAYED_MESSAGE_INVALID',
        'a delayed message has no target or no argument',
        d.argument,
        eventTime,
      );
      return undefined;
    }
    const atEventTime = d.atEventTime === true;
    const reason =
      addressProblem(d.target) ??
      (atEventTime
        ? d.eventTime === undefined || !Number.isSafeInteger(d.eventTime) || d.eventTime <= 0
          ? `an event-time timer needs a positive time in ms since the epoch, got ${String(d.eventTime)}`
          : undefined
        : d.delayInMs < 0
          ? `negative delay ${d.delayInMs} ms`
          : undefined);
    if (reason !== undefined) {
      deadLetter('DELAYED_MESSAGE_INVALID', `delayed message: ${reason}`, d.argument, eventTime);
      return undefined;
    }
    let id: string;
    if (d.cancellationToken !== '') {
      id = timerId(key, d.cancellationToken);
      if (pendingNow(id)) {
        deadLetter(
          'CANCELLATION_TOKEN_REUSED',
          `cancellation token "${d.cancellationToken}" is still pending for ${key}; a token can be reused only after its message was delivered or cancelled`,
          d.argument,
          eventTime,
        );
        return undefined;
      }
    } else {
      id = timerId(key, `${input.autoTimerPrefix}${input.autoTimerSeq + out.autoTimersUsed++}`);
    }
    if (pending >= input.maxPendingTimers) {
      deadLetter(
        'TIMER_LIMIT_REACHED',
        `partition ${input.topics.partition} holds ${pending} pending delayed messages and event-time timers, the limit (maxPendingTimers); this one from ${key} was not scheduled`,
        d.argument,
        eventTime,
        d.target,
      );
      return undefined;
    }
    const t: StoredTimer = {
      id,
      fireAt: atEventTime ? d.eventTime! : now + d.delayInMs,
      targetKey: addressKey(d.target),
      callerKey: key,
      typename: d.argument.typename,
      value: d.argument.value,
      userToken: d.cancellationToken !== '',
      // A timer's message carries the timer's time as its event time.
      eventTime: atEventTime ? d.eventTime! : eventTime,
    };
    if (atEventTime) t.kind = 'event-time';
    return { add: t };
  };
  for (const d of result.delayedInvocations) {
    const eventTime = effectTime(d.atEventTime === true ? undefined : d.eventTime, batchTime);
    const timer = plan(d, eventTime);
    if (timer === undefined) continue;
    if ('cancel' in timer) {
      // Best effort, as in StateFun: an unknown or already delivered token is a no-op. Delayed
      // messages and event-time timers share the tokens of their sender.
      if (pendingNow(timer.cancel)) {
        added.delete(timer.cancel);
        cancelled.add(timer.cancel);
        pending--;
        out.timers.push({ kind: 'cancel', id: timer.cancel });
      }
      continue;
    }
    out.timers.push({ kind: 'add', timer: timer.add });
    added.add(timer.add.id);
    cancelled.delete(timer.add.id);
    pending++;
  }

  for (const e of result.outgoingEgresses) {
    const eventTime = effectTime(e.eventTime, batchTime);
    const routed = input.egress.route(e, eventTime);
    if ('record' in routed) out.records.push(routed.record);
    else deadLetter(routed.code, routed.error, e.argument, eventTime);
  }

  const mutated = new Set<string>();
  for (const m of result.stateMutations) {
    mutated.add(m.stateName);
    if (m.mutationType === MutationType.DELETE) {
      out.states.push({ name: m.stateName, value: null });
      continue;
    }
    const spec = input.registered.get(m.stateName)!;
    const expires = spec.expireMode === ExpireMode.NONE ? undefined : now + spec.expireAfterMs;
    out.states.push({
      name: m.stateName,
      value: { typename: m.stateValue!.typename, value: m.stateValue!.value, expiresAt: expires },
    });
  }
  // "Expire after invoke" is refreshed by every invocation, written or not (spec §3).
  for (const spec of input.registered.values()) {
    if (spec.expireMode !== ExpireMode.AFTER_INVOKE || mutated.has(spec.name)) continue;
    const stored = input.states.get(spec.name);
    if (stored !== undefined)
      out.states.push({ name: spec.name, value: { ...stored, expiresAt: now + spec.expireAfterMs } });
  }
  return out;
}

/**
 * The record of a message to a function (into the internal log), or of a reply when the target
 * stands for a waiting HTTP request.
 */
export function messageRecord(
  topics: EffectTopics,
  target: Address,
  caller: Address,
  argument: TypedValue,
  eventTime: number,
): { record: OutRecord; reply: boolean } {
  const requestId = requestIdOf(target);
  if (requestId !== undefined) {
    return { record: replyRecord(topics.repliesTopic, requestId, caller, argument, eventTime), reply: true };
  }
  return {
    record: toInternalRecord(
      topics.internalTopic,
      topics.partitions,
      { target, caller, argument, eventTime },
      topics.partitioning,
    ),
    reply: false,
  };
}

/** The message a due timer sends. */
export function timerMessage(topics: EffectTopics, t: StoredTimer): { record: OutRecord; reply: boolean } {
  return messageRecord(
    topics,
    parseAddressKey(t.targetKey),
    parseAddressKey(t.callerKey),
    { typename: t.typename, hasValue: true, value: t.value },
    t.eventTime ?? t.fireAt,
  );
}

/** The dead letter of a received record that cannot be delivered. */
export function recordDeadLetter(
  deadLetterTopic: string,
  args: {
    code: DeadLetterCode;
    reason: string;
    record: LogRecord;
    env?: Envelope | undefined;
    target?: Address | undefined;
  },
  now: number,
): OutRecord {
  const { record, env } = args;
  return deadLetterRecord(
    deadLetterTopic,
    {
      code: args.code,
      reason: args.reason,
      source: sourceOf(record),
      target: args.target ?? env?.target,
      caller: env?.caller,
      key: record.key,
      // The argument as the function would have got it (replayable); the raw value when the
      // record could not be decoded.
      value: env === undefined || record.value === null ? record.value : argumentBytes(record.value),
      typename: env?.argument.typename,
      eventTime: env?.eventTime,
    },
    now,
  );
}

/** The event time an effect names when it is a usable int64, else the batch's. */
function effectTime(own: number | undefined, batchTime: number): number {
  return own !== undefined && Number.isSafeInteger(own) && own !== 0 ? own : batchTime;
}

function addressProblem(a: Address | undefined): string | undefined {
  if (a === undefined) return 'no target address';
  if (a.namespace === '' || a.type === '') return `target "${a.namespace}/${a.type}" is not a function type`;
  if (a.namespace.includes('/') || a.type.includes('/')) {
    return `target function type "${a.namespace}/${a.type}" must contain exactly one "/"`;
  }
  return undefined;
}
