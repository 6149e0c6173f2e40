// The message types of the shopping cart example: JSON, validated with zod on send and on receipt.
import { z } from 'zod';
import { jsonType, type TypeOf } from '@continuum/sdk';

const itemId = z.string().min(1);
const quantity = z.number().int().positive();
/**
 * Who waits for the outcome of an add-to-cart (the caller of AddToCart, e.g. a waiting HTTP request
 * of the runtime's request-response ingress): carried through the inventory and back.
 */
const replyTo = z.object({ typename: z.string().min(1), id: z.string().min(1) }).optional();

/** Ingress → inventory: add stock. */
export const RestockItem = jsonType('example/RestockItem', z.object({ quantity }));
/** Ingress → cart: put an item into the basket (reserving it in the inventory). */
export const AddToCart = jsonType('example/AddToCart', z.object({ itemId, quantity }));
/** Ingress → cart: buy what the basket holds. */
export const Checkout = jsonType('example/Checkout', z.object({}));
/** Ingress → cart: give everything back. */
export const ClearCart = jsonType('example/ClearCart', z.object({}));

/** Cart → inventory: take `quantity` out of stock for the user, if available. */
export const ReserveItem = jsonType(
  'example/ReserveItem',
  z.object({ userId: z.string().min(1), quantity, replyTo }),
);
/** Cart → inventory: put back a reservation's quantity. */
export const ReleaseItem = jsonType('example/ReleaseItem', z.object({ quantity }));
/** Inventory → cart: the reservation succeeded. */
export const ItemReserved = jsonType('example/ItemReserved', z.object({ itemId, quantity, replyTo }));
/** Inventory → cart: not enough stock. */
export const ItemUnavailable = jsonType(
  'example/ItemUnavailable',
  z.object({ itemId, requested: quantity, available: z.number().int().nonnegative(), replyTo }),
);
/** Cart → the caller of AddToCart: whether the reservation succeeded. */
export const AddToCartResult = jsonType(
  'example/AddToCartResult',
  z.object({
    itemId,
    quantity,
    reserved: z.boolean(),
    /** Stock left when the reservation failed. */
    available: z.number().int().nonnegative().optional(),
  }),
);
/** Cart → itself, delayed: a reservation held too long without checkout. */
export const ReservationExpired = jsonType(
  'example/ReservationExpired',
  z.object({ reservationId: z.string().min(1) }),
);

/** Cart → Kafka egress: what the user bought, or what happened to the basket. */
export const CartEvent = jsonType(
  'example/CartEvent',
  z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('receipt'), userId: z.string(), items: z.record(z.string(), quantity) }),
    z.object({
      kind: z.literal('unavailable'),
      userId: z.string(),
      itemId,
      requested: quantity,
      available: z.number().int(),
    }),
    z.object({ kind: z.literal('expired'), userId: z.string(), itemId, quantity }),
  ]),
);
export type CartEvent = TypeOf<typeof CartEvent>;
export type AddToCartResult = TypeOf<typeof AddToCartResult>;
