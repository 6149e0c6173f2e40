// The SDK's view of a function address, and its conversions to and from the protocol shape.
import type { Address as WireAddress } from './protocol/messages.js';
import { checkId, parseTypename } from './typename.js';

/**
 * A function instance: the function type `typename` (= `namespace/type`) and the instance `id`.
 *
 * @example
 * ```ts
 * ctx.self     // { namespace: 'example', type: 'greeter', id: 'alice', typename: 'example/greeter' }
 * ```
 */
export interface Address {
  /** Namespace of the function type, e.g. `example`. */
  readonly namespace: string;
  /** Name of the function type within its namespace, e.g. `greeter`. */
  readonly type: string;
  /** The instance id: the key that scopes state, e.g. a user id. */
  readonly id: string;
  /** `namespace/type`, e.g. `example/greeter`. */
  readonly typename: string;
}

/** Builds an {@link Address} from a function type name and an id, validating both. */
export function address(typename: string, id: string): Address {
  const { namespace, name } = parseTypename(typename, 'address');
  checkId(id, `address of ${typename}`);
  return Object.freeze({ namespace, type: name, id, typename });
}

/** @internal */
export function fromWireAddress(a: WireAddress): Address {
  return Object.freeze({
    namespace: a.namespace,
    type: a.type,
    id: a.id,
    typename: `${a.namespace}/${a.type}`,
  });
}

/** @internal */
export function toWireAddress(a: Address): WireAddress {
  return { namespace: a.namespace, type: a.type, id: a.id };
}
