// The Message a function receives: a view over the invocation's TypedValue that decodes on demand.
import { SdkError } from './errors.js';
import type { Message } from './message.js';
import type { TypedValue } from './protocol/messages.js';
import { types, type Type } from './types.js';

/** Event time of a message and the watermark at its position; both undefined when unknown. */
export interface EventTimeInfo {
  eventTime?: number | undefined;
  watermark?: number | undefined;
}

/** @internal */
export class MessageImpl implements Message {
  readonly #value: TypedValue;
  readonly #eventTime: number | undefined;
  readonly #lateness: number;

  constructor(value: TypedValue, time: EventTimeInfo = {}) {
    this.#value = value;
    this.#eventTime = time.eventTime;
    const { eventTime, watermark } = time;
    this.#lateness =
      eventTime !== undefined && watermark !== undefined && eventTime < watermark ? watermark - eventTime : 0;
  }

  get eventTime(): number | undefined {
    return this.#eventTime;
  }

  get isLate(): boolean {
    return this.#lateness > 0;
  }

  get lateness(): number {
    return this.#lateness;
  }

  get typename(): string {
    return this.#value.typename;
  }

  get hasValue(): boolean {
    return this.#value.hasValue;
  }

  get rawValue(): Uint8Array {
    return this.#value.value;
  }

  is(type: Type<unknown>): boolean {
    return this.#value.typename === type.typename;
  }

  as<T>(type: Type<T>): T {
    if (!this.is(type)) {
      throw new MessageTypeError(
        'TYPE_MISMATCH',
        `the message is of type ${this.#value.typename || '(none)'}, not ${type.typename}; check message.is(type) first`,
      );
    }
    if (!this.#value.hasValue) {
      throw new MessageTypeError('TYPE_MISMATCH', `the message of type ${type.typename} carries no value`);
    }
    try {
      return type.deserialize(this.#value.value);
    } catch (cause) {
      if (cause instanceof SdkError && cause.code === 'TYPE_MISMATCH') {
        throw new MessageTypeError('TYPE_MISMATCH', cause.message, { cause: cause.cause });
      }
      throw cause;
    }
  }

  isBool(): boolean {
    return this.is(types.bool);
  }
  asBool(): boolean {
    return this.as(types.bool);
  }
  isInt(): boolean {
    return this.is(types.int);
  }
  asInt(): number {
    return this.as(types.int);
  }
  isLong(): boolean {
    return this.is(types.long);
  }
  asLong(): bigint {
    return this.as(types.long);
  }
  isFloat(): boolean {
    return this.is(types.float);
  }
  asFloat(): number {
    return this.as(types.float);
  }
  isDouble(): boolean {
    return this.is(types.double);
  }
  asDouble(): number {
    return this.as(types.double);
  }
  isString(): boolean {
    return this.is(types.string);
  }
  asString(): string {
    return this.as(types.string);
  }
}

/**
 * A message that is not a valid value of the type a function reads it as. Its code stays
 * `TYPE_MISMATCH`; the class tells the invoker that the message (not a state, not the function)
 * is at fault, so the runtime dead-letters it instead of retrying.
 */
export class MessageTypeError extends SdkError {}
