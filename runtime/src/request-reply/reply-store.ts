// The `ReplyStore` port: idempotency keys, the records of accepted requests and their committed
// replies, each kept for the request's retention, and the announcement of a stored reply to the
// processes waiting for it. Redis in production, memory in dev mode.
import type { Reply } from './reply-address.js';

/** An accepted request, written before its message enters the log. */
export interface RequestRecord {
  requestId: string;
  /** The target address, `namespace/type/id`. */
  target: string;
  createdAt: number;
  /** How long the request, its idempotency key and its reply are kept. */
  retentionMs: number;
  /** Hash of the request's content type and body: a key reused with other content is refused. */
  digest: string;
}

/**
 * `stored`: the first reply of the request, now kept and announced; `same`: this very reply was
 * stored already (read again after a crash); `duplicate`: another reply came first (the
 * request's function replied twice); `gone`: no such request (never accepted, or past retention).
 */
export type CompleteResult = 'stored' | 'same' | 'duplicate' | 'gone';

export interface ReplyStore {
  /**
   * Accepts a request before its message enters the log: binds the idempotency key (already
   * scoped to its target), if any, to `request` unless it is bound, and records the request the
   * key is bound to (kept for its retention; a no-op when it exists). Returns that request:
   * `request` itself, or the earlier one a retry's key is bound to.
   */
  accept(key: string | undefined, request: RequestRecord): Promise<RequestRecord>;
  request(requestId: string): Promise<RequestRecord | undefined>;
  reply(requestId: string): Promise<Reply | undefined>;
  /** Stores a committed reply unless one is stored; announces it to every `onReply` listener. */
  complete(reply: Reply): Promise<CompleteResult>;
  /** Listens for replies stored by any process; returns a function that stops listening. */
  onReply(listener: (reply: Reply) => void): () => void;
  close(): Promise<void>;
}

interface Expiring<T> {
  value: T;
  expiresAt: number;
}

/**
 * Dev mode: everything in this process, forgotten on restart. Each map holds at most `maxEntries`
 * (the oldest go first) besides expiring by retention.
 */
export class MemoryReplyStore implements ReplyStore {
  private readonly keys = new Map<string, Expiring<RequestRecord>>();
  private readonly requests = new Map<string, Expiring<RequestRecord>>();
  private readonly replies = new Map<string, Expiring<Reply>>();
  private readonly listeners = new Set<(reply: Reply) => void>();

  constructor(
    private readonly maxEntries = 100_000,
    private readonly clock: () => number = Date.now,
  ) {}

  accept(key: string | undefined, request: RequestRecord): Promise<RequestRecord> {
    let bound = request;
    if (key !== undefined) {
      const found = this.get(this.keys, key);
      if (found === undefined) this.put(this.keys, key, request, request.retentionMs);
      else bound = found;
    }
    if (this.get(this.requests, bound.requestId) === undefined)
      this.put(this.requests, bound.requestId, bound, bound.retentionMs);
    return Promise.resolve(bound);
  }

  request(requestId: string): Promise<RequestRecord | undefined> {
    return Promise.resolve(this.get(this.requests, requestId));
  }

  reply(requestId: string): Promise<Reply | undefined> {
    return Promise.resolve(this.get(this.replies, requestId));
  }

  complete(reply: Reply): Promise<CompleteResult> {
    const request = this.requests.get(reply.requestId);
    if (request === undefined || request.expiresAt <= this.clock()) return Promise.resolve('gone');
    const existing = this.get(this.replies, reply.requestId);
    if (existing !== undefined)
      return Promise.resolve(existing.origin === reply.origin ? 'same' : 'duplicate');
    this.put(this.replies, reply.requestId, reply, request.expiresAt - this.clock());
    for (const l of this.listeners) l(reply);
    return Promise.resolve('stored');
  }

  onReply(listener: (reply: Reply) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): Promise<void> {
    this.listeners.clear();
    return Promise.resolve();
  }

  private get<T>(map: Map<string, Expiring<T>>, key: string): T | undefined {
    const e = map.get(key);
    if (e === undefined) return undefined;
    if (e.expiresAt <= this.clock()) {
      map.delete(key);
      return undefined;
    }
    return e.value;
  }

  private put<T>(map: Map<string, Expiring<T>>, key: string, value: T, ttlMs: number): void {
    map.delete(key);
    map.set(key, { value, expiresAt: this.clock() + ttlMs });
    // Insertion order is age order: drop the oldest beyond the bound, and any expired at the front.
    for (const [k, e] of map) {
      if (map.size <= this.maxEntries && e.expiresAt > this.clock()) break;
      map.delete(k);
    }
  }
}
