// Runs one invocation batch against a function: state negotiation, sequential invocations on one shared
// storage, and collection of the effects. Shared by the HTTP handler and the testing harness.
import { fromWireAddress } from './address.js';
import { ContextImpl } from './context-impl.js';
import { SdkError } from './errors.js';
import type { StatefulFunction } from './function.js';
import { MessageImpl, MessageTypeError } from './message-impl.js';
import {
  ExpireMode,
  type ExpirationSpec,
  type FromFunction,
  type InvocationBatchRequest,
  type PersistedValueSpec,
  type TypedValue,
} from './protocol/messages.js';
import type { Specs, ValueSpec } from './spec.js';

function expirationOf(spec: ValueSpec<unknown>): ExpirationSpec {
  const e = spec.expiration;
  if (e === undefined) return { mode: ExpireMode.NONE, expireAfterMillis: 0 };
  return {
    mode: e.mode === 'after-write' ? ExpireMode.AFTER_WRITE : ExpireMode.AFTER_INVOKE,
    expireAfterMillis: e.afterMs,
  };
}

/** The protocol description of a declared state, as sent in IncompleteInvocationContext. */
export function persistedValueSpec(name: string, spec: ValueSpec<unknown>): PersistedValueSpec {
  return { stateName: name, typeTypename: spec.type.typename, expirationSpec: expirationOf(spec) };
}

/**
 * True for what can never succeed on a retry: a {@link TerminalError}, a message that is not a valid
 * value of the type it is read as (`message.as(type)` failed), or a zod validation error thrown as
 * is. A state that does not fit its declared type is not the message's fault: that is retried.
 */
function isTerminal(e: unknown): boolean {
  if (e instanceof MessageTypeError) return true;
  if (e instanceof SdkError) return e.code === 'MESSAGE_REJECTED';
  return e instanceof Error && e.name === 'ZodError';
}

function describeError(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Runs `batch` against `fn`. Returns `incompleteInvocationContext` (and runs nothing) when a declared state
 * is missing from the request; otherwise the effects of the whole batch.
 * @throws {SdkError} `FUNCTION_FAILED` when the function throws; nothing of the batch takes effect then.
 */
export async function invokeBatch(
  fn: StatefulFunction<Specs>,
  batch: InvocationBatchRequest,
): Promise<FromFunction> {
  const received = new Map<string, TypedValue | undefined>();
  for (const s of batch.state) received.set(s.stateName, s.stateValue);

  const missing: PersistedValueSpec[] = [];
  for (const [name, spec] of Object.entries(fn.specs)) {
    if (!received.has(name)) missing.push(persistedValueSpec(name, spec));
  }
  if (missing.length > 0) return { incompleteInvocationContext: { missingValues: missing } };

  const self = fromWireAddress(batch.target);
  const ctx = new ContextImpl(self, fn.specs, received);
  const total = batch.invocations.length;
  let index = 0;
  try {
    for (; index < total; index++) {
      const invocation = batch.invocations[index]!;
      ctx.caller = invocation.caller === undefined ? undefined : fromWireAddress(invocation.caller);
      ctx.eventTime = invocation.eventTime;
      ctx.watermark = invocation.watermark;
      await fn.handler(ctx, new MessageImpl(invocation.argument, invocation));
    }
    ctx.close();
    return { invocationResult: ctx.response() };
  } catch (cause) {
    ctx.close();
    const step = index < total ? `invocation ${index + 1} of ${total}` : 'writing back its state';
    if (isTerminal(cause)) {
      throw new SdkError(
        'MESSAGE_REJECTED',
        `function ${self.typename} (id ${self.id}) rejected the message of ${step}: ${describeError(cause)}`,
        { cause, retryable: false },
      );
    }
    throw new SdkError(
      'FUNCTION_FAILED',
      `function ${self.typename} (id ${self.id}) failed in ${step}: ${describeError(cause)}`,
      { cause, retryable: true },
    );
  }
}
