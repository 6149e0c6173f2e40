// What every ReplyStore does (memory in dev mode, Redis in production): accepting a request
// binds its idempotency key once and records the bound request; a reply is stored once and
// announced; replies to unknown requests are `gone`.
import { describe, expect, it } from 'vitest';
import type { Reply } from '../../src/request-reply/reply-address.js';
import type { ReplyStore, RequestRecord } from '../../src/request-reply/reply-store.js';

let seq = 0;
export function requestRecord(over: Partial<RequestRecord> = {}): RequestRecord {
  return {
    requestId: `req-${process.pid}-${++seq}-${Math.random().toString(36).slice(2)}`,
    target: 'shop/cart/42',
    createdAt: Date.now(),
    retentionMs: 60_000,
    digest: 'd1',
    ...over,
  };
}

export function replyTo(request: RequestRecord, origin = 'p0@1'): Reply {
  return {
    requestId: request.requestId,
    typename: 'example/answer',
    value: new Uint8Array([1, 2, 3]),
    from: 'shop/cart/42',
    origin,
  };
}

export function describeReplyStoreContract(name: string, open: () => Promise<ReplyStore>): void {
  describe(`${name} (ReplyStore contract)`, () => {
    it('accepts a request without a key: records it, a reply to it is stored', async () => {
      const store = await open();
      const r = requestRecord();
      expect(await store.accept(undefined, r)).toEqual(r);
      expect(await store.request(r.requestId)).toEqual(r);
      expect(await store.complete(replyTo(r))).toBe('stored');
      expect((await store.reply(r.requestId))?.value).toEqual(new Uint8Array([1, 2, 3]));
      await store.close();
    });

    it('binds a key once: a retry with the same key gets the first request, which stays recorded', async () => {
      const store = await open();
      const key = `key-${Math.random()}`;
      const first = requestRecord();
      const retry = requestRecord();
      expect((await store.accept(key, first)).requestId).toBe(first.requestId);
      const bound = await store.accept(key, retry);
      expect(bound).toEqual(first);
      expect(await store.request(first.requestId)).toEqual(first);
      // Another key is another request.
      const other = requestRecord();
      expect((await store.accept(`${key}-2`, other)).requestId).toBe(other.requestId);
      await store.close();
    });

    it('keeps the first reply: the same reply again is `same`, another is `duplicate`', async () => {
      const store = await open();
      const r = requestRecord();
      await store.accept(undefined, r);
      expect(await store.complete(replyTo(r, 'p0@1'))).toBe('stored');
      expect(await store.complete(replyTo(r, 'p0@1'))).toBe('same');
      expect(await store.complete(replyTo(r, 'p0@9'))).toBe('duplicate');
      await store.close();
    });

    it('answers `gone` for a reply to a request it never accepted', async () => {
      const store = await open();
      expect(await store.complete(replyTo(requestRecord()))).toBe('gone');
      await store.close();
    });

    it('announces a stored reply to its listeners', async () => {
      const store = await open();
      const heard: string[] = [];
      const got = new Promise<void>((resolve) =>
        store.onReply((reply) => {
          heard.push(reply.requestId);
          resolve();
        }),
      );
      const ready = (store as { ready?: () => Promise<void> }).ready;
      if (ready !== undefined) await ready.call(store);
      const r = requestRecord();
      await store.accept(undefined, r);
      await store.complete(replyTo(r));
      await got;
      expect(heard).toEqual([r.requestId]);
      await store.close();
    });
  });
}
