// Appends that arrive while a produce request is in flight share the next one, in order; a
// failed request fails exactly the appends it carried; the queue is bounded.
import { describe, expect, it } from 'vitest';
import { AppendBatcher } from '../../src/log/kafka/append-batcher.js';
import type { OutRecord } from '../../src/log/log.js';

const rec = (key: string): OutRecord => ({ topic: 't', partition: 0, key, value: new Uint8Array(1) });

/** A send whose requests are released by the test, one at a time. */
function manualSend(): {
  send: (r: readonly OutRecord[]) => Promise<void>;
  requests: string[][];
  release: (err?: Error) => void;
} {
  const requests: string[][] = [];
  const pending: { resolve: () => void; reject: (e: Error) => void }[] = [];
  return {
    requests,
    send: (records) => {
      requests.push(records.map((r) => String(r.key)));
      return new Promise<void>((resolve, reject) => pending.push({ resolve, reject }));
    },
    release: (err) => {
      const p = pending.shift()!;
      if (err === undefined) p.resolve();
      else p.reject(err);
    },
  };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('AppendBatcher', () => {
  it('sends the first append at once and the ones arriving meanwhile together, in order', async () => {
    const m = manualSend();
    const b = new AppendBatcher({ send: m.send });
    const a1 = b.append([rec('a')]);
    const a2 = b.append([rec('b'), rec('c')]);
    const a3 = b.append([rec('d')]);
    expect(m.requests).toEqual([['a']]);
    m.release();
    await a1;
    await tick();
    expect(m.requests).toEqual([['a'], ['b', 'c', 'd']]);
    m.release();
    await Promise.all([a2, a3]);
    expect(b.stats).toEqual({ requests: 2, appends: 3 });
  });

  it('fails the appends of a failed request, and only those', async () => {
    const m = manualSend();
    const b = new AppendBatcher({ send: m.send });
    const a1 = b.append([rec('a')]);
    const a2 = b.append([rec('b')]);
    m.release(new Error('broker gone'));
    await expect(a1).rejects.toThrow('broker gone');
    await tick();
    m.release();
    await expect(a2).resolves.toBeUndefined();
  });

  it('never splits an append, and keeps requests under maxBatchRecords otherwise', async () => {
    const m = manualSend();
    const b = new AppendBatcher({ send: m.send, maxBatchRecords: 2 });
    const first = b.append([rec('a')]);
    const rest = [b.append([rec('b')]), b.append([rec('c'), rec('d'), rec('e')]), b.append([rec('f')])];
    m.release();
    await first;
    for (let i = 0; i < 3; i++) {
      await tick();
      m.release();
    }
    await Promise.all(rest);
    expect(m.requests).toEqual([['a'], ['b'], ['c', 'd', 'e'], ['f']]);
  });

  it('refuses appends beyond maxQueuedRecords with a retryable error', async () => {
    const m = manualSend();
    const b = new AppendBatcher({ send: m.send, maxQueuedRecords: 3 });
    const a1 = b.append([rec('a')]); // in flight: not queued
    const a2 = b.append([rec('b'), rec('c')]);
    await expect(b.append([rec('d'), rec('e')])).rejects.toMatchObject({
      code: 'INGRESS_OVERLOADED',
      retryable: true,
    });
    m.release();
    await a1;
    await tick();
    m.release();
    await a2;
  });
});
