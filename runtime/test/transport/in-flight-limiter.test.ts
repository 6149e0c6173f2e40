import { describe, expect, it } from 'vitest';
import { InFlightLimiter, LimiterFullError } from '../../src/transport/in-flight-limiter.js';

describe('InFlightLimiter', () => {
  it('hands slots to waiters in arrival order as they are released', async () => {
    const limiter = new InFlightLimiter(1, 2);
    const first = await limiter.acquire();
    const order: string[] = [];
    const b = limiter.acquire().then((release) => (order.push('b'), release));
    const c = limiter.acquire().then((release) => (order.push('c'), release));
    expect(limiter.queued).toBe(2);

    first();
    (await b)();
    (await c)();
    expect(order).toEqual(['b', 'c']);
    expect(limiter.inFlight).toBe(0);
  });

  it('refuses a caller once the slots and the queue are full', async () => {
    const limiter = new InFlightLimiter(1, 1);
    await limiter.acquire();
    void limiter.acquire();
    await expect(limiter.acquire()).rejects.toBeInstanceOf(LimiterFullError);
  });

  it('drops a waiter whose signal aborts, freeing its place in the queue', async () => {
    const limiter = new InFlightLimiter(1, 1);
    const release = await limiter.acquire();
    const controller = new AbortController();
    const waiting = limiter.acquire(controller.signal);
    controller.abort(new Error('caller gave up'));
    await expect(waiting).rejects.toThrow('caller gave up');
    expect(limiter.queued).toBe(0);

    const next = limiter.acquire();
    release();
    (await next)();
    expect(limiter.inFlight).toBe(0);
  });

  it('ignores a second release of the same slot', async () => {
    const limiter = new InFlightLimiter(2, 0);
    const release = await limiter.acquire();
    await limiter.acquire();
    release();
    release();
    expect(limiter.inFlight).toBe(1);
  });

  it('rejects every waiter on shutdown', async () => {
    const limiter = new InFlightLimiter(1, 3);
    await limiter.acquire();
    const waiters = [limiter.acquire(), limiter.acquire()];
    limiter.rejectWaiting(new Error('closed'));
    for (const w of waiters) await expect(w).rejects.toThrow('closed');
    expect(limiter.queued).toBe(0);
  });
});
