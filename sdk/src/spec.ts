// State declarations: value specs (a type plus an optional expiration) and the storage type inferred from them.
import { SdkError } from './errors.js';
import type { Type } from './types.js';

/** When a stored value expires. `after-write`: time since the last write; `after-call`: since the last invocation. */
export interface Expiration {
  readonly mode: 'after-write' | 'after-call';
  /** Milliseconds, a positive integer. */
  readonly afterMs: number;
}

/** A declared state: its value type and optional expiration. Its name is its key in `specs`. */
export interface ValueSpec<T> {
  readonly type: Type<T>;
  readonly expiration: Expiration | undefined;
}

/** Options of {@link valueSpec}. Set at most one of the two. */
export interface ValueSpecOptions {
  /**
   * Expire the value this many milliseconds after it was last written.
   * @example `valueSpec(types.int, { expireAfterWrite: 24 * 60 * 60 * 1000 })` — forget after a day without writes.
   */
  expireAfterWrite?: number;
  /**
   * Expire the value this many milliseconds after the address was last invoked (read or written).
   * @example `valueSpec(Cart, { expireAfterCall: 30 * 60 * 1000 })` — drop a basket after 30 idle minutes.
   */
  expireAfterCall?: number;
}

/** The specs of a function: state name → {@link ValueSpec}. */
export type Specs = Readonly<Record<string, ValueSpec<unknown>>>;

/** The value type of a {@link ValueSpec}. */
export type SpecValue<V> = V extends ValueSpec<infer T> ? T : never;

/**
 * `ctx.storage` for specs `S`: one property per spec, `undefined` when the state holds no value.
 * Assigning `undefined` (or `null`) deletes the value.
 */
export type Storage<S extends Specs> = { -readonly [K in keyof S]: SpecValue<S[K]> | undefined };

/** State names must be identifiers: portable across every StateFun SDK and safe as property names. */
export const STATE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function checkMillis(value: number, option: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new SdkError(
      'INVALID_ARGUMENT',
      `valueSpec: ${option} must be a positive integer number of milliseconds, got ${value}`,
    );
  }
  return value;
}

/**
 * Declares a state of type `type`.
 *
 * @example
 * ```ts
 * statefulFunction({
 *   typename: 'example/greeter',
 *   specs: { seen: valueSpec(types.int), lastSeen: valueSpec(types.long, { expireAfterWrite: 3_600_000 }) },
 *   handler(ctx) { ctx.storage.seen = (ctx.storage.seen ?? 0) + 1; },  // ctx.storage.seen: number | undefined
 * });
 * ```
 */
export function valueSpec<T>(type: Type<T>, options: ValueSpecOptions = {}): ValueSpec<T> {
  if (typeof type !== 'object' || type === null || typeof type.typename !== 'string') {
    throw new SdkError(
      'INVALID_ARGUMENT',
      'valueSpec: the first argument must be a Type, e.g. types.int or jsonType(...)',
    );
  }
  const { expireAfterWrite, expireAfterCall } = options;
  if (expireAfterWrite !== undefined && expireAfterCall !== undefined) {
    throw new SdkError(
      'INVALID_ARGUMENT',
      'valueSpec: set at most one of expireAfterWrite and expireAfterCall',
    );
  }
  let expiration: Expiration | undefined;
  if (expireAfterWrite !== undefined) {
    expiration = Object.freeze({
      mode: 'after-write',
      afterMs: checkMillis(expireAfterWrite, 'expireAfterWrite'),
    });
  } else if (expireAfterCall !== undefined) {
    expiration = Object.freeze({
      mode: 'after-call',
      afterMs: checkMillis(expireAfterCall, 'expireAfterCall'),
    });
  }
  return Object.freeze({ type, expiration });
}
