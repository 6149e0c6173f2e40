// Stateful function definitions: a type name, state specs and a handler, validated once when defined.
import type { Context, NoSpecs } from './context.js';
import { SdkError } from './errors.js';
import type { Message } from './message.js';
import { STATE_NAME, type Specs } from './spec.js';
import { parseTypename } from './typename.js';

/** Options of {@link statefulFunction}. */
export interface FunctionOptions<S extends Specs> {
  /**
   * The function type, `<namespace>/<name>`: what module.yaml routes to this service.
   * @example `'example/greeter'`
   */
  typename: string;
  /**
   * The states of each instance: name → {@link valueSpec}. The names become the properties of `ctx.storage`.
   * @example `{ seen: valueSpec(types.int), profile: valueSpec(Profile, { expireAfterCall: 86_400_000 }) }`
   */
  specs?: S;
  /**
   * Handles one message. Invocations of one address never overlap; a batch runs in order on shared state.
   * Throwing (or rejecting) fails the whole batch: nothing of it takes effect and the runtime retries it.
   */
  handler(ctx: Context<S>, message: Message): void | Promise<void>;
}

/** A defined stateful function, ready to be served. */
export interface StatefulFunction<S extends Specs = Specs> {
  readonly typename: string;
  readonly specs: S;
  handler(ctx: Context<S>, message: Message): void | Promise<void>;
}

/**
 * Defines a stateful function. `ctx.storage` is typed from `specs`.
 *
 * @example
 * ```ts
 * export const greeter = statefulFunction({
 *   typename: 'example/greeter',
 *   specs: { seen: valueSpec(types.int) },
 *   handler(ctx, message) {
 *     const seen = (ctx.storage.seen ?? 0) + 1;
 *     ctx.storage.seen = seen;
 *     ctx.sendEgress(kafkaEgressMessage({ typename: 'example/greets', topic: 'greetings', key: ctx.self.id,
 *       value: `Hello ${message.asString()}, visit #${seen}` }));
 *   },
 * });
 * ```
 */
export function statefulFunction<S extends Specs = NoSpecs>(
  options: FunctionOptions<S>,
): StatefulFunction<S> {
  const where = `statefulFunction(${JSON.stringify(options.typename)})`;
  parseTypename(options.typename, where);
  if (typeof options.handler !== 'function') {
    throw new SdkError(
      'INVALID_ARGUMENT',
      `${where}: handler must be a function (ctx, message) => void | Promise<void>`,
    );
  }
  const specs = (options.specs ?? {}) as S;
  for (const [name, spec] of Object.entries(specs)) {
    if (!STATE_NAME.test(name)) {
      throw new SdkError(
        'INVALID_ARGUMENT',
        `${where}: the state name "${name}" must be an identifier (letters, digits, _; not starting with a digit)`,
      );
    }
    if (typeof spec !== 'object' || spec === null || typeof spec.type?.typename !== 'string') {
      throw new SdkError('INVALID_ARGUMENT', `${where}: specs.${name} must be a valueSpec(...)`);
    }
    parseTypename(spec.type.typename, `${where}: specs.${name}`);
  }
  return Object.freeze({
    typename: options.typename,
    specs: Object.freeze({ ...specs }),
    handler: (ctx: Context<S>, message: Message) => options.handler(ctx, message),
  });
}
