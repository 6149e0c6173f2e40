// The Redis reply store: per request one hash tag holding its record and its reply (one slot for
// the script that stores a reply), idempotency keys under their own keys, and one pub/sub channel
// on which a stored reply is announced to every runtime process.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import type { Reply } from './reply-address.js';
import type { CompleteResult, ReplyStore, RequestRecord } from './reply-store.js';

// KEYS: request record, reply. ARGV: reply JSON, origin, channel.
// The reply lives as long as its request: the caller can fetch it until the request's retention ends.
const COMPLETE = `
local req = redis.call('PTTL', KEYS[1])
if req < 0 and req ~= -1 then return 'gone' end
local existing = redis.call('GET', KEYS[2])
if existing then
  if cjson.decode(existing).origin == ARGV[2] then return 'same' end
  return 'duplicate'
end
if req == -1 then redis.call('SET', KEYS[2], ARGV[1]) else redis.call('SET', KEYS[2], ARGV[1], 'PX', req) end
redis.call('PUBLISH', ARGV[3], ARGV[1])
return 'stored'
`;

interface ReplyJson {
  requestId: string;
  typename: string;
  value: string;
  from: string;
  origin: string;
}

function toJson(r: Reply): string {
  const json: ReplyJson = { ...r, value: Buffer.from(r.value).toString('base64') };
  return JSON.stringify(json);
}

function fromJson(text: string): Reply {
  const j = JSON.parse(text) as ReplyJson;
  return { ...j, value: new Uint8Array(Buffer.from(j.value, 'base64')) };
}

export interface RedisReplyStoreOptions {
  redis: Redis;
  keyPrefix?: string | undefined;
  logger?: Logger | undefined;
}

export class RedisReplyStore implements ReplyStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly channel: string;
  private readonly log: Logger;
  private subscriber: Redis | undefined;
  private subscribing: Promise<unknown> | undefined;
  private readonly listeners = new Set<(reply: Reply) => void>();

  constructor(opts: RedisReplyStoreOptions) {
    this.redis = opts.redis;
    this.prefix = opts.keyPrefix ?? 'continuum';
    this.channel = `${this.prefix}:replies`;
    this.log = opts.logger ?? silentLogger;
  }

  private requestKey(id: string): string {
    return `{${this.prefix}:rr:${id}}:request`;
  }

  private replyKey(id: string): string {
    return `{${this.prefix}:rr:${id}}:reply`;
  }

  private idempotencyKey(key: string): string {
    // Keys are caller-chosen text of any length: a digest keeps the Redis key short and safe.
    return `${this.prefix}:rr-key:${createHash('sha256').update(key).digest('hex')}`;
  }

  /**
   * One round trip for a new request: the key's binding and the request's record are written
   * together (two commands on the connection at once; the keys may live in different cluster
   * slots, so not one script). A retry whose key is bound already also wrote a record for its
   * own, unused request id, which expires with its retention.
   */
  async accept(key: string | undefined, request: RequestRecord): Promise<RequestRecord> {
    if (key === undefined) {
      await this.putRequest(request);
      return request;
    }
    const [set] = await Promise.all([
      this.redis.set(this.idempotencyKey(key), JSON.stringify(request), 'PX', request.retentionMs, 'NX'),
      this.putRequest(request),
    ]);
    if (set === 'OK') return request;
    const bound = await this.bindKey(key, request);
    // The first attempt may have crashed before it recorded its request.
    if (bound.requestId !== request.requestId) await this.putRequest(bound);
    return bound;
  }

  private async bindKey(key: string, request: RequestRecord): Promise<RequestRecord> {
    const k = this.idempotencyKey(key);
    const set = await this.redis.set(k, JSON.stringify(request), 'PX', request.retentionMs, 'NX');
    if (set === 'OK') return request;
    const found = await this.redis.get(k);
    // Expired between the two calls: bind again.
    if (found === null) return this.bindKey(key, request);
    return JSON.parse(found) as RequestRecord;
  }

  private async putRequest(request: RequestRecord): Promise<void> {
    const ttl = Math.max(1, request.createdAt + request.retentionMs - Date.now());
    await this.redis.set(this.requestKey(request.requestId), JSON.stringify(request), 'PX', ttl, 'NX');
  }

  async request(requestId: string): Promise<RequestRecord | undefined> {
    const found = await this.redis.get(this.requestKey(requestId));
    return found === null ? undefined : (JSON.parse(found) as RequestRecord);
  }

  async reply(requestId: string): Promise<Reply | undefined> {
    const found = await this.redis.get(this.replyKey(requestId));
    return found === null ? undefined : fromJson(found);
  }

  async complete(reply: Reply): Promise<CompleteResult> {
    const result = await this.redis.eval(
      COMPLETE,
      2,
      this.requestKey(reply.requestId),
      this.replyKey(reply.requestId),
      toJson(reply),
      reply.origin,
      this.channel,
    );
    return result as CompleteResult;
  }

  onReply(listener: (reply: Reply) => void): () => void {
    this.listeners.add(listener);
    this.ensureSubscribed();
    return () => this.listeners.delete(listener);
  }

  /** Resolves once the announcement channel is subscribed (replies stored later are heard). */
  async ready(): Promise<void> {
    this.ensureSubscribed();
    await this.subscribing;
  }

  async close(): Promise<void> {
    this.listeners.clear();
    const sub = this.subscriber;
    this.subscriber = undefined;
    sub?.disconnect();
    await Promise.resolve();
  }

  private ensureSubscribed(): void {
    if (this.subscriber !== undefined) return;
    // A subscribed connection can do nothing else: a dedicated one, resubscribed by ioredis on
    // reconnect. A reply announced while it was down reaches its caller as 202 + the results URL.
    const sub = this.redis.duplicate();
    this.subscriber = sub;
    sub.on('message', (channel: string, text: string) => {
      if (channel !== this.channel) return;
      let reply: Reply;
      try {
        reply = fromJson(text);
      } catch (err) {
        this.log.warn('ignoring an unreadable reply announcement', { err });
        return;
      }
      for (const l of this.listeners) l(reply);
    });
    sub.on('error', (err: unknown) => this.log.debug('reply announcement connection error', { err }));
    this.subscribing = sub.subscribe(this.channel);
  }
}
