import { describe, expect, it } from 'vitest';
import { address } from '@continuum/sdk';
import { invoke, testMessage } from '@continuum/sdk/testing';
import {
  AddToCart,
  AddToCartResult,
  CART_EVENTS_EGRESS,
  CartEvent,
  cart,
  Checkout,
  ClearCart,
  inventory,
  ItemReserved,
  ItemUnavailable,
  ReleaseItem,
  ReservationExpired,
  ReserveItem,
  RESERVATION_TTL_MS,
  RestockItem,
} from '../src/index.js';

const basketOf = (
  reservations: Record<string, { itemId: string; quantity: number }>,
  nextReservation = 1,
) => ({
  nextReservation,
  reservations,
});

describe('inventory', () => {
  it('reserves stock for a user and confirms to that user’s cart', async () => {
    const result = await invoke(inventory, {
      id: 'socks',
      state: { stock: 5 },
      messages: [testMessage(ReserveItem, { userId: 'ann', quantity: 2 })],
    });
    expect(result.state.stock).toBe(3);
    expect(result.sent).toHaveLength(1);
    expect(result.sent[0]!.target.typename).toBe('example/cart');
    expect(result.sent[0]!.target.id).toBe('ann');
    expect(result.sent[0]!.as(ItemReserved)).toEqual({ itemId: 'socks', quantity: 2 });
  });

  it('answers ItemUnavailable and keeps its stock when there is not enough', async () => {
    const result = await invoke(inventory, {
      id: 'socks',
      state: { stock: 1 },
      messages: [testMessage(ReserveItem, { userId: 'ann', quantity: 2 })],
    });
    expect(result.stateChanges).toEqual([]);
    expect(result.sent[0]!.as(ItemUnavailable)).toEqual({ itemId: 'socks', requested: 2, available: 1 });
  });

  it('adds restocked and released quantities', async () => {
    const result = await invoke(inventory, {
      id: 'socks',
      messages: [testMessage(RestockItem, { quantity: 10 }), testMessage(ReleaseItem, { quantity: 2 })],
    });
    expect(result.state.stock).toBe(12);
  });
});

describe('cart', () => {
  it('asks the inventory to reserve an added item, without changing the basket yet', async () => {
    const result = await invoke(cart, {
      id: 'ann',
      messages: [testMessage(AddToCart, { itemId: 'socks', quantity: 2 })],
    });
    expect(result.sent.map((m) => [m.target.typename, m.target.id, m.as(ReserveItem)])).toEqual([
      ['example/inventory', 'socks', { userId: 'ann', quantity: 2 }],
    ]);
    expect(result.stateChanges).toEqual([]);
  });

  it('holds a confirmed reservation and schedules its expiry with a fresh cancellation token', async () => {
    const socks = address('example/inventory', 'socks');
    const result = await invoke(cart, {
      id: 'ann',
      messages: [
        testMessage(ItemReserved, { itemId: 'socks', quantity: 2 }, { caller: socks }),
        testMessage(ItemReserved, { itemId: 'socks', quantity: 1 }, { caller: socks }),
      ],
    });
    expect(result.state.basket).toEqual({
      nextReservation: 2,
      reservations: {
        'reservation-0': { itemId: 'socks', quantity: 2 },
        'reservation-1': { itemId: 'socks', quantity: 1 },
      },
    });
    expect(
      result.delayed.map((d) => [d.delayMs, d.cancellationToken, d.target.id, d.as(ReservationExpired)]),
    ).toEqual([
      [RESERVATION_TTL_MS, 'reservation-0', 'ann', { reservationId: 'reservation-0' }],
      [RESERVATION_TTL_MS, 'reservation-1', 'ann', { reservationId: 'reservation-1' }],
    ]);
  });

  it('on checkout cancels the pending expiries, emits a receipt and empties the basket', async () => {
    const result = await invoke(cart, {
      id: 'ann',
      state: {
        basket: basketOf(
          {
            'reservation-3': { itemId: 'socks', quantity: 2 },
            'reservation-4': { itemId: 'hat', quantity: 1 },
          },
          5,
        ),
      },
      messages: [testMessage(Checkout, {})],
    });
    expect(result.cancellations).toEqual(['reservation-3', 'reservation-4']);
    expect(result.egress).toHaveLength(1);
    const record = result.egress[0]!.asKafkaRecord();
    expect(result.egress[0]!.egress).toBe(CART_EVENTS_EGRESS);
    expect(record.key).toBe('ann');
    expect(record.valueAs(CartEvent)).toEqual({
      kind: 'receipt',
      userId: 'ann',
      items: { socks: 2, hat: 1 },
    });
    expect(result.state.basket).toEqual(basketOf({}, 5));
  });

  it('when a reservation expires, gives the stock back and tells the user', async () => {
    const result = await invoke(cart, {
      id: 'ann',
      state: { basket: basketOf({ 'reservation-0': { itemId: 'socks', quantity: 2 } }) },
      messages: [
        testMessage(
          ReservationExpired,
          { reservationId: 'reservation-0' },
          { caller: address('example/cart', 'ann') },
        ),
      ],
    });
    expect(result.sent.map((m) => [m.target.id, m.as(ReleaseItem)])).toEqual([['socks', { quantity: 2 }]]);
    expect(result.egress[0]!.asKafkaRecord().valueAs(CartEvent)).toEqual({
      kind: 'expired',
      userId: 'ann',
      itemId: 'socks',
      quantity: 2,
    });
    expect(result.state.basket).toEqual(basketOf({}));
  });

  it('ignores an expiry that arrives after checkout (cancellation is best effort)', async () => {
    const result = await invoke(cart, {
      id: 'ann',
      state: { basket: basketOf({}) },
      messages: [testMessage(ReservationExpired, { reservationId: 'reservation-0' })],
    });
    expect(result.sent).toEqual([]);
    expect(result.egress).toEqual([]);
    expect(result.stateChanges).toEqual([]);
  });

  it('on clear releases every reservation and cancels its expiry', async () => {
    const result = await invoke(cart, {
      id: 'ann',
      state: { basket: basketOf({ 'reservation-0': { itemId: 'socks', quantity: 2 } }) },
      messages: [testMessage(ClearCart, {})],
    });
    expect(result.cancellations).toEqual(['reservation-0']);
    expect(result.sent.map((m) => [m.target.id, m.as(ReleaseItem)])).toEqual([['socks', { quantity: 2 }]]);
  });
});

describe('add to cart as a request', () => {
  const waiting = address('io.continuum.request/reply', 'req-7');

  it('carries the caller of AddToCart through the inventory and answers it whether the reservation succeeded', async () => {
    const added = await invoke(cart, {
      id: 'ann',
      messages: [testMessage(AddToCart, { itemId: 'socks', quantity: 2 }, { caller: waiting })],
    });
    const reserve = added.sent[0]!.as(ReserveItem);
    expect(reserve.replyTo).toEqual({ typename: 'io.continuum.request/reply', id: 'req-7' });

    const reserved = await invoke(inventory, {
      id: 'socks',
      state: { stock: 5 },
      messages: [testMessage(ReserveItem, reserve)],
    });
    const confirmed = await invoke(cart, {
      id: 'ann',
      messages: [testMessage(ItemReserved, reserved.sent[0]!.as(ItemReserved))],
    });
    expect(confirmed.sent.map((m) => [m.target.typename, m.target.id])).toEqual([
      ['io.continuum.request/reply', 'req-7'],
    ]);
    expect(confirmed.sent[0]!.as(AddToCartResult)).toEqual({ itemId: 'socks', quantity: 2, reserved: true });

    const refused = await invoke(inventory, {
      id: 'socks',
      state: { stock: 1 },
      messages: [testMessage(ReserveItem, reserve)],
    });
    const declined = await invoke(cart, {
      id: 'ann',
      messages: [testMessage(ItemUnavailable, refused.sent[0]!.as(ItemUnavailable))],
    });
    expect(declined.sent[0]!.as(AddToCartResult)).toEqual({
      itemId: 'socks',
      quantity: 2,
      reserved: false,
      available: 1,
    });
  });

  it('answers no one when AddToCart has no caller (the playground ingress)', async () => {
    const added = await invoke(cart, {
      id: 'ann',
      messages: [testMessage(AddToCart, { itemId: 'socks', quantity: 2 })],
    });
    expect(added.sent[0]!.as(ReserveItem).replyTo).toBeUndefined();
    const confirmed = await invoke(cart, {
      id: 'ann',
      messages: [testMessage(ItemReserved, { itemId: 'socks', quantity: 2 })],
    });
    expect(confirmed.sent).toEqual([]);
  });
});
