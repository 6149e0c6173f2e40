// The Context given to user code for one batch: lazily decoded state cells, the effects collected in order,
// and their conversion into the protocol's InvocationResponse.
import { toWireAddress, type Address } from './address.js';
import type { Context, SendAfterOptions, SendAtEventTimeOptions } from './context.js';
import { SdkError } from './errors.js';
import { messageBuilder, type EgressMessage, type OutgoingMessage } from './message.js';
import type { Type } from './types.js';
import {
  MutationType,
  type DelayedInvocation,
  type EgressMessage as WireEgressMessage,
  type InvocationResponse,
  type OutgoingInvocation,
  type PersistedValueMutation,
  type TypedValue,
} from './protocol/messages.js';
import type { Specs, Storage, ValueSpec } from './spec.js';
import { parseTypename } from './typename.js';

/** Upper bound on the effects one batch may produce, so a runaway loop fails instead of exhausting memory. */
export const MAX_EFFECTS_PER_BATCH = 100_000;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** One declared state during a batch: decoded on first read, tracked for writes and in-place changes. */
class StateCell {
  readonly #name: string;
  readonly #spec: ValueSpec<unknown>;
  readonly #original: TypedValue | undefined;
  #loaded = false;
  #written = false;
  #value: unknown = undefined;

  constructor(name: string, spec: ValueSpec<unknown>, original: TypedValue | undefined) {
    this.#name = name;
    this.#spec = spec;
    this.#original = original !== undefined && original.hasValue ? original : undefined;
  }

  get(): unknown {
    if (!this.#loaded) {
      const original = this.#original;
      if (original !== undefined) {
        if (original.typename !== this.#spec.type.typename) {
          throw new SdkError(
            'TYPE_MISMATCH',
            `state "${this.#name}" holds a value of type ${original.typename}, but its spec declares ` +
              `${this.#spec.type.typename}; a state cannot change its type (use a new state name)`,
          );
        }
        this.#value = this.#spec.type.deserialize(original.value);
      }
      this.#loaded = true;
    }
    return this.#value;
  }

  set(value: unknown): void {
    // Serializing now makes an invalid value fail at the assignment, where the stack trace is useful.
    if (value !== undefined && value !== null) this.#spec.type.serialize(value);
    this.#value = value ?? undefined;
    this.#loaded = true;
    this.#written = true;
  }

  /** The mutation this batch produced, if any. Objects read (or written) are serialized again to catch in-place edits. */
  mutation(): PersistedValueMutation | undefined {
    if (!this.#loaded) return undefined;
    if (this.#value === undefined) {
      return this.#written ? { mutationType: MutationType.DELETE, stateName: this.#name } : undefined;
    }
    if (!this.#written && typeof this.#value !== 'object') return undefined;
    const bytes = this.#spec.type.serialize(this.#value);
    if (!this.#written && this.#original !== undefined && sameBytes(bytes, this.#original.value))
      return undefined;
    return {
      mutationType: MutationType.MODIFY,
      stateName: this.#name,
      stateValue: { typename: this.#spec.type.typename, hasValue: true, value: bytes },
    };
  }
}

function checkMessage(message: OutgoingMessage, method: string): void {
  if (
    typeof message !== 'object' ||
    message === null ||
    message.target === undefined ||
    message.argument === undefined
  ) {
    throw new SdkError('INVALID_ARGUMENT', `ctx.${method}: expected a message from messageBuilder(...)`);
  }
}

/** @internal The context of one batch. Call {@link ContextImpl.close} when the batch is done. */
export class ContextImpl<S extends Specs> implements Context<S> {
  readonly self: Address;
  caller: Address | undefined = undefined;
  eventTime: number | undefined = undefined;
  watermark: number | undefined = undefined;
  readonly storage: Storage<S>;
  readonly #cells: StateCell[] = [];
  readonly #outgoing: OutgoingInvocation[] = [];
  readonly #delayed: DelayedInvocation[] = [];
  readonly #egress: WireEgressMessage[] = [];
  #closed = false;

  constructor(self: Address, specs: S, state: ReadonlyMap<string, TypedValue | undefined>) {
    this.self = self;
    const storage: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const [name, spec] of Object.entries(specs)) {
      const cell = new StateCell(name, spec, state.get(name));
      this.#cells.push(cell);
      Object.defineProperty(storage, name, {
        enumerable: true,
        get: () => cell.get(),
        set: (v: unknown) => {
          this.#checkOpen(`ctx.storage.${name} = …`);
          cell.set(v);
        },
      });
    }
    // Sealed: assigning an undeclared state throws (ES modules run in strict mode) instead of being lost.
    this.storage = Object.seal(storage) as Storage<S>;
  }

  send(message: OutgoingMessage): void {
    this.#checkOpen('ctx.send');
    checkMessage(message, 'send');
    this.#count();
    this.#outgoing.push(
      this.#stamped<OutgoingInvocation>({
        target: toWireAddress(message.target),
        argument: wire(message.argument),
      }),
    );
  }

  reply<T>(value: T, valueType?: Type<T>): void {
    this.#checkOpen('ctx.reply');
    if (this.caller === undefined) {
      throw new SdkError(
        'NO_CALLER',
        `ctx.reply: the message to ${this.self.typename}/${this.self.id} has no caller to answer (it came from an ingress that does not wait for a reply)`,
      );
    }
    const options = { target: this.caller, value, valueType } as Parameters<typeof messageBuilder<T>>[0];
    this.send(messageBuilder<T>(options));
  }

  sendAfter(delayMs: number, message: OutgoingMessage, options: SendAfterOptions = {}): void {
    this.#checkOpen('ctx.sendAfter');
    if (!Number.isSafeInteger(delayMs) || delayMs < 0) {
      throw new SdkError(
        'INVALID_ARGUMENT',
        `ctx.sendAfter: the delay must be a non-negative integer of milliseconds, got ${delayMs}`,
      );
    }
    checkMessage(message, 'sendAfter');
    const token = checkToken(options.cancellationToken, 'sendAfter');
    this.#count();
    this.#delayed.push(
      this.#stamped<DelayedInvocation>({
        isCancellationRequest: false,
        cancellationToken: token,
        delayInMs: delayMs,
        target: toWireAddress(message.target),
        argument: wire(message.argument),
      }),
    );
  }

  sendAtEventTime(time: number, message: OutgoingMessage, options: SendAtEventTimeOptions = {}): void {
    this.#checkOpen('ctx.sendAtEventTime');
    if (!Number.isSafeInteger(time) || time <= 0) {
      throw new SdkError(
        'INVALID_ARGUMENT',
        `ctx.sendAtEventTime: the time must be a positive integer of milliseconds since the epoch, got ${time}`,
      );
    }
    checkMessage(message, 'sendAtEventTime');
    const token = checkToken(options.cancellationToken, 'sendAtEventTime');
    this.#count();
    this.#delayed.push({
      isCancellationRequest: false,
      cancellationToken: token,
      delayInMs: 0,
      target: toWireAddress(message.target),
      argument: wire(message.argument),
      eventTime: time,
      atEventTime: true,
    });
  }

  cancelDelayedMessage(cancellationToken: string): void {
    this.#checkOpen('ctx.cancelDelayedMessage');
    if (typeof cancellationToken !== 'string' || cancellationToken === '') {
      throw new SdkError(
        'INVALID_ARGUMENT',
        'ctx.cancelDelayedMessage: the cancellation token must be a non-empty string',
      );
    }
    this.#count();
    this.#delayed.push({ isCancellationRequest: true, cancellationToken, delayInMs: 0 });
  }

  sendEgress(message: EgressMessage): void {
    this.#checkOpen('ctx.sendEgress');
    if (
      typeof message !== 'object' ||
      message === null ||
      typeof message.egress !== 'string' ||
      message.argument === undefined
    ) {
      throw new SdkError(
        'INVALID_ARGUMENT',
        'ctx.sendEgress: expected a message from kafkaEgressMessage(...) or egressMessageBuilder(...)',
      );
    }
    const { namespace, name } = parseTypename(message.egress, 'ctx.sendEgress');
    this.#count();
    this.#egress.push(
      this.#stamped<WireEgressMessage>({
        egressNamespace: namespace,
        egressType: name,
        argument: wire(message.argument),
      }),
    );
  }

  /** Ends the batch: later calls (from un-awaited promises) throw instead of being silently dropped. */
  close(): void {
    this.#closed = true;
  }

  /** The effects of the batch: one mutation per dirty state (in spec order), then messages in call order. */
  response(): InvocationResponse {
    const stateMutations: PersistedValueMutation[] = [];
    for (const cell of this.#cells) {
      const m = cell.mutation();
      if (m !== undefined) stateMutations.push(m);
    }
    return {
      stateMutations,
      outgoingMessages: this.#outgoing,
      delayedInvocations: this.#delayed,
      outgoingEgresses: this.#egress,
    };
  }

  /** Effects carry the event time of the invocation that produced them (when the runtime gave one). */
  #stamped<T extends { eventTime?: number | undefined }>(effect: T): T {
    if (this.eventTime !== undefined) effect.eventTime = this.eventTime;
    return effect;
  }

  #checkOpen(what: string): void {
    if (this.#closed) {
      throw new SdkError(
        'INVALID_ARGUMENT',
        `${what} was called after the invocation of ${this.self.typename} (id ${this.self.id}) completed; ` +
          'await every promise inside the handler',
      );
    }
  }

  #count(): void {
    if (this.#outgoing.length + this.#delayed.length + this.#egress.length >= MAX_EFFECTS_PER_BATCH) {
      throw new SdkError(
        'INVALID_ARGUMENT',
        `a batch may produce at most ${MAX_EFFECTS_PER_BATCH} messages and egress records`,
      );
    }
  }
}

function checkToken(token: unknown, method: string): string {
  if (token === undefined) return '';
  if (typeof token !== 'string' || token === '') {
    throw new SdkError(
      'INVALID_ARGUMENT',
      `ctx.${method}: cancellationToken must be a non-empty string when given`,
    );
  }
  return token;
}

function wire(v: { typename: string; value: Uint8Array }): TypedValue {
  return { typename: v.typename, hasValue: true, value: v.value };
}
