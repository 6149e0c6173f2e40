// The shopping cart: a basket per user (`example/cart`, id = user id) and a stock per item (`example/inventory`,
// id = item id). The basket reserves items in the inventory; a reservation expires after a delay unless the user
// checks out, which cancels the pending expiry.
import { z } from 'zod';
import {
  address,
  jsonType,
  kafkaEgressMessage,
  messageBuilder,
  statefulFunction,
  types,
  valueSpec,
  type Context,
  type StatefulFunction,
} from '@continuum/sdk';
import {
  AddToCart,
  AddToCartResult,
  CartEvent,
  Checkout,
  ClearCart,
  ItemReserved,
  ItemUnavailable,
  ReleaseItem,
  ReservationExpired,
  ReserveItem,
  RestockItem,
} from './messages.js';

export const CART = 'example/cart';
export const INVENTORY = 'example/inventory';
/** Kafka egress id of the cart events (declare it in module.yaml). */
export const CART_EVENTS_EGRESS = 'example/cart-events';
export const CART_EVENTS_TOPIC = 'cart-events';
/** How long a reservation holds stock before it expires. */
export const RESERVATION_TTL_MS = 15 * 60 * 1000;

/** A basket: its open reservations, keyed by reservation id (also the cancellation token of its expiry). */
const Basket = jsonType(
  'example/Basket',
  z.object({
    nextReservation: z.number().int().nonnegative(),
    reservations: z.record(
      z.string(),
      z.object({ itemId: z.string(), quantity: z.number().int().positive() }),
    ),
  }),
);

function emit(ctx: Pick<Context, 'sendEgress'>, event: CartEvent): void {
  ctx.sendEgress(
    kafkaEgressMessage({
      typename: CART_EVENTS_EGRESS,
      topic: CART_EVENTS_TOPIC,
      key: event.userId,
      value: event,
      valueType: CartEvent,
    }),
  );
}

/** The user's basket. */
export const cart = statefulFunction({
  typename: CART,
  // An abandoned basket is dropped after a week without any message.
  specs: { basket: valueSpec(Basket, { expireAfterCall: 7 * 24 * 60 * 60 * 1000 }) },
  handler(ctx, message) {
    const userId = ctx.self.id;
    const basket = ctx.storage.basket ?? { nextReservation: 0, reservations: {} };
    const release = (reservationId: string): void => {
      const r = basket.reservations[reservationId];
      if (r === undefined) return;
      delete basket.reservations[reservationId];
      ctx.send(
        messageBuilder({
          typename: INVENTORY,
          id: r.itemId,
          value: { quantity: r.quantity },
          valueType: ReleaseItem,
        }),
      );
    };

    // A caller of AddToCart (a waiting HTTP request) learns whether the reservation succeeded.
    const answer = (to: { typename: string; id: string } | undefined, result: AddToCartResult): void => {
      if (to === undefined) return;
      ctx.send(
        messageBuilder({ target: address(to.typename, to.id), value: result, valueType: AddToCartResult }),
      );
    };

    if (message.is(AddToCart)) {
      const { itemId, quantity } = message.as(AddToCart);
      const caller = ctx.caller;
      ctx.send(
        messageBuilder({
          typename: INVENTORY,
          id: itemId,
          value: {
            userId,
            quantity,
            ...(caller === undefined ? {} : { replyTo: { typename: caller.typename, id: caller.id } }),
          },
          valueType: ReserveItem,
        }),
      );
      return; // the basket changes when the inventory answers
    }
    if (message.is(ItemReserved)) {
      const { itemId, quantity, replyTo } = message.as(ItemReserved);
      answer(replyTo, { itemId, quantity, reserved: true });
      // Reservation ids are never reused: a token that is still pending must not be sent again.
      const reservationId = `reservation-${basket.nextReservation}`;
      basket.nextReservation += 1;
      basket.reservations[reservationId] = { itemId, quantity };
      ctx.sendAfter(
        RESERVATION_TTL_MS,
        messageBuilder({ target: ctx.self, value: { reservationId }, valueType: ReservationExpired }),
        { cancellationToken: reservationId },
      );
    } else if (message.is(ItemUnavailable)) {
      const { itemId, requested, available, replyTo } = message.as(ItemUnavailable);
      emit(ctx, { kind: 'unavailable', userId, itemId, requested, available });
      answer(replyTo, { itemId, quantity: requested, reserved: false, available });
      return;
    } else if (message.is(ReservationExpired)) {
      // Cancellation is best effort: an expiry may still arrive after checkout, and then finds nothing.
      const { reservationId } = message.as(ReservationExpired);
      const r = basket.reservations[reservationId];
      if (r === undefined) return;
      release(reservationId);
      emit(ctx, { kind: 'expired', userId, itemId: r.itemId, quantity: r.quantity });
    } else if (message.is(Checkout)) {
      const items: Record<string, number> = {};
      for (const [reservationId, r] of Object.entries(basket.reservations)) {
        items[r.itemId] = (items[r.itemId] ?? 0) + r.quantity;
        ctx.cancelDelayedMessage(reservationId);
      }
      if (Object.keys(items).length > 0) emit(ctx, { kind: 'receipt', userId, items });
      basket.reservations = {};
    } else if (message.is(ClearCart)) {
      for (const reservationId of Object.keys(basket.reservations)) {
        ctx.cancelDelayedMessage(reservationId);
        release(reservationId);
      }
    } else {
      throw new Error(`the cart does not handle messages of type ${message.typename}`);
    }
    ctx.storage.basket = basket;
  },
});

/** The stock of one item. */
export const inventory = statefulFunction({
  typename: INVENTORY,
  specs: { stock: valueSpec(types.int) },
  handler(ctx, message) {
    const stock = ctx.storage.stock ?? 0;
    if (message.is(RestockItem)) {
      ctx.storage.stock = stock + message.as(RestockItem).quantity;
    } else if (message.is(ReleaseItem)) {
      ctx.storage.stock = stock + message.as(ReleaseItem).quantity;
    } else if (message.is(ReserveItem)) {
      const { userId, quantity, replyTo } = message.as(ReserveItem);
      const itemId = ctx.self.id;
      if (quantity <= stock) {
        ctx.storage.stock = stock - quantity;
        ctx.send(
          messageBuilder({
            typename: CART,
            id: userId,
            value: { itemId, quantity, replyTo },
            valueType: ItemReserved,
          }),
        );
      } else {
        ctx.send(
          messageBuilder({
            typename: CART,
            id: userId,
            value: { itemId, requested: quantity, available: stock, replyTo },
            valueType: ItemUnavailable,
          }),
        );
      }
    } else {
      throw new Error(`the inventory does not handle messages of type ${message.typename}`);
    }
  },
});

/** Every function of this example, to serve them together. */
export const functions: readonly StatefulFunction[] = [cart, inventory];
