// The cart and the inventory talking to each other, routed in-process the way the runtime would route them:
// one batch per message, state kept per address, delayed messages held until "fired" or cancelled.
import { describe, expect, it } from 'vitest';
import { address, type StatefulFunction, type Type } from '@continuum/sdk';
import { invoke, testMessage, testMessageFrom, type TestMessage } from '@continuum/sdk/testing';
import { AddToCart, CartEvent, cart, Checkout, inventory, RestockItem } from '../src/index.js';

type Envelope = { target: string; id: string; message: TestMessage<unknown> };

class MiniRouter {
  readonly state = new Map<string, Record<string, unknown>>();
  readonly pendingDelayed = new Map<string, Envelope>();
  readonly events: CartEvent[] = [];
  readonly #functions: Map<string, StatefulFunction>;

  constructor(functions: readonly StatefulFunction[]) {
    this.#functions = new Map(functions.map((f) => [f.typename, f]));
  }

  deliver<T>(typename: string, id: string, type: Type<T>, value: T): Promise<void> {
    return this.#run([{ target: typename, id, message: testMessage(type as Type<unknown>, value) }]);
  }

  /** Lets the time pass: every pending delayed message is delivered. */
  firePendingDelayed(): Promise<void> {
    const due = [...this.pendingDelayed.values()];
    this.pendingDelayed.clear();
    return this.#run(due);
  }

  async #run(queue: Envelope[]): Promise<void> {
    // Bounded: a correct flow settles in a few hops.
    for (let hops = 0; queue.length > 0; hops++) {
      expect(hops).toBeLessThan(100);
      const next = queue.shift()!;
      const fn = this.#functions.get(next.target)!;
      const self = address(next.target, next.id);
      const key = `${self.typename}/${self.id}`;
      const result = await invoke(fn, {
        id: next.id,
        state: this.state.get(key) ?? {},
        messages: [next.message],
      });
      this.state.set(key, { ...result.state });
      for (const m of result.sent) {
        queue.push({
          target: m.target.typename,
          id: m.target.id,
          message: testMessageFrom(m, { caller: self }),
        });
      }
      for (const d of result.delayed) {
        const message = testMessageFrom(d, { caller: self });
        this.pendingDelayed.set(`${key}#${d.cancellationToken}`, {
          target: d.target.typename,
          id: d.target.id,
          message,
        });
      }
      for (const token of result.cancellations) this.pendingDelayed.delete(`${key}#${token}`);
      for (const e of result.egress) this.events.push(e.asKafkaRecord().valueAs(CartEvent));
    }
  }
}

describe('the shopping cart flow', () => {
  it('reserves stock on add, and checkout cancels the expiry and emits the receipt', async () => {
    const router = new MiniRouter([cart, inventory]);
    await router.deliver('example/inventory', 'socks', RestockItem, { quantity: 3 });
    await router.deliver('example/cart', 'ann', AddToCart, { itemId: 'socks', quantity: 2 });
    expect(router.state.get('example/inventory/socks')).toEqual({ stock: 1 });
    expect(router.pendingDelayed.size).toBe(1);

    await router.deliver('example/cart', 'bob', AddToCart, { itemId: 'socks', quantity: 2 });
    expect(router.events).toEqual([
      { kind: 'unavailable', userId: 'bob', itemId: 'socks', requested: 2, available: 1 },
    ]);

    await router.deliver('example/cart', 'ann', Checkout, {});
    expect(router.pendingDelayed.size).toBe(0);
    expect(router.events.at(-1)).toEqual({ kind: 'receipt', userId: 'ann', items: { socks: 2 } });
    expect(router.state.get('example/inventory/socks')).toEqual({ stock: 1 });
  });

  it('an unpaid reservation expires: the stock comes back and the user is told', async () => {
    const router = new MiniRouter([cart, inventory]);
    await router.deliver('example/inventory', 'hat', RestockItem, { quantity: 1 });
    await router.deliver('example/cart', 'cid', AddToCart, { itemId: 'hat', quantity: 1 });
    expect(router.state.get('example/inventory/hat')).toEqual({ stock: 0 });

    await router.firePendingDelayed();
    expect(router.state.get('example/inventory/hat')).toEqual({ stock: 1 });
    expect(router.events).toEqual([{ kind: 'expired', userId: 'cid', itemId: 'hat', quantity: 1 }]);

    // A checkout afterwards finds an empty basket: no receipt.
    await router.deliver('example/cart', 'cid', Checkout, {});
    expect(router.events).toHaveLength(1);
  });
});
