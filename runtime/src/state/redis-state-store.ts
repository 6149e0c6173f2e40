// The Redis `StateStore`: per-partition committed state, timers and metadata in hashes under one
// Cluster hash tag, a staged delta fenced by the partition's epoch, and promote/resolve as single
// Lua scripts. Durability before the log commit comes from AOF fsync always, or from WAIT.
import type { Cluster, Redis } from 'ioredis';
import { Redis as RedisClient } from 'ioredis';
import { z } from 'zod';
import { ContinuumError } from '../errors.js';
import { decodeAddress, decodeTimer, encodeAddress, encodeTimer } from './redis-blob-codec.js';
import { clusterSlot, redisPartitionKeys, scriptKeys } from './redis-keys.js';
import type { RedisPartitionKeys } from './redis-keys.js';
import { PROMOTE_SCRIPT, RESOLVE_SCRIPT, STAGE_FIRST, STAGE_LAST, STAGE_SCRIPT } from './redis-scripts.js';
import type {
  PartitionDelta,
  PartitionStore,
  StagedInfo,
  StateStore,
  StoredAddress,
  StoredTimer,
} from './state-store.js';
import { DEFAULTS } from '../defaults.js';

/** Options of {@link RedisStateStore}. */
export interface RedisStateStoreOptions {
  /**
   * A connected ioredis client (standalone or Cluster), which the store uses but does not close,
   * or a `redis://` / `rediss://` URL, for which the store opens its own client and closes it.
   *
   * @example 'redis://127.0.0.1:6379'
   */
  redis: Redis | Cluster | string;
  /**
   * Password for the client the store opens from a URL (overrides one in the URL); ignored when
   * `redis` is a client.
   */
  password?: string | undefined;
  /**
   * First part of every key's hash tag: partition 7 lives under `{<keyPrefix>:p7}`. Runtimes that
   * share a Redis must use different prefixes. Must not contain `{` or `}`.
   *
   * @defaultValue 'continuum'
   */
  keyPrefix?: string | undefined;
  /**
   * When set, the store runs `WAIT count timeoutMs` on the partition's node after every claim,
   * stage, resolve and promote, and fails (retryably, code `STATE_STORE_NOT_DURABLE`) when fewer
   * replicas acknowledged: the alternative to running Redis with `appendfsync always`.
   *
   * @example { count: 1, timeoutMs: 1000 }
   */
  waitReplicas?: { count: number; timeoutMs: number } | undefined;
  /**
   * A staged delta larger than this (field and value bytes) is written in several script calls;
   * it only counts as staged once the last one succeeds. Bounds the size of one Redis command.
   *
   * @defaultValue 8 MiB
   */
  stageChunkBytes?: number | undefined;
}

const optionsSchema = z.object({
  keyPrefix: z
    .string()
    .min(1)
    .regex(/^[^{}]*$/, 'must not contain "{" or "}", which would break the hash tag')
    .default(DEFAULTS.redisKeyPrefix),
  waitReplicas: z
    .object({ count: z.number().int().min(0), timeoutMs: z.number().int().min(0) })
    .strict()
    .optional(),
  stageChunkBytes: z
    .number()
    .int()
    .min(1)
    .default(8 * 1024 * 1024),
});

type Options = z.infer<typeof optionsSchema>;

/** Most field/value pairs in one stage call, whatever their size. */
const STAGE_MAX_PAIRS = 10_000;
/** Most fields asked for in one HMGET. */
const GET_CHUNK = 1000;
/** HSCAN page size hint for reading timers. */
const SCAN_COUNT = 500;

const SCRIPT_NAMES = {
  stage: 'continuumStateStoreStage',
  promote: 'continuumStateStorePromote',
  resolve: 'continuumStateStoreResolve',
} as const;

type ScriptArg = string | Buffer | number;
type ScriptFn = (...args: ScriptArg[]) => Promise<unknown>;

interface Scripts {
  stage: ScriptFn;
  promote: ScriptFn;
  resolve: ScriptFn;
}

function defineScripts(client: Redis | Cluster): Scripts {
  const keys = scriptKeys(redisPartitionKeys('x', 0)).length;
  client.defineCommand(SCRIPT_NAMES.stage, { numberOfKeys: keys, lua: STAGE_SCRIPT });
  client.defineCommand(SCRIPT_NAMES.promote, { numberOfKeys: keys, lua: PROMOTE_SCRIPT });
  client.defineCommand(SCRIPT_NAMES.resolve, { numberOfKeys: keys, lua: RESOLVE_SCRIPT });
  // defineCommand adds methods that ioredis' types cannot know about.
  const bind = (name: string): ScriptFn => {
    const fn = (client as unknown as Record<string, unknown>)[name];
    if (typeof fn !== 'function') throw new Error(`ioredis did not define the script command ${name}`);
    return (...args) => (fn as ScriptFn).apply(client, args);
  };
  return {
    stage: bind(SCRIPT_NAMES.stage),
    promote: bind(SCRIPT_NAMES.promote),
    resolve: bind(SCRIPT_NAMES.resolve),
  };
}

function isClient(value: unknown): value is Redis | Cluster {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { defineCommand?: unknown }).defineCommand === 'function' &&
    typeof (value as { isCluster?: unknown }).isCluster === 'boolean'
  );
}

/**
 * The production `StateStore`: Redis (standalone or Cluster, 7.0 or later) through ioredis.
 *
 * Redis must not lose an acknowledged write, because a staged delta has to outlive a crash that
 * follows the log commit: run it with `appendonly yes` and `appendfsync always`, or replicate it
 * and set {@link RedisStateStoreOptions.waitReplicas}.
 *
 * @example
 * const store = new RedisStateStore({ redis: 'redis://127.0.0.1:6379', keyPrefix: 'shop' });
 * const p0 = store.partition(0);
 * const epoch = await p0.claim();
 */
export class RedisStateStore implements StateStore {
  private readonly client: Redis | Cluster;
  private readonly owned: boolean;
  private readonly opts: Options;
  private readonly scripts: Scripts;
  // One small object per partition of the internal log, which bounds the map.
  private readonly parts = new Map<number, RedisPartitionStore>();
  private lastClientError: Error | undefined;

  constructor(options: RedisStateStoreOptions) {
    const parsed = optionsSchema.safeParse({
      keyPrefix: options.keyPrefix,
      waitReplicas: options.waitReplicas,
      stageChunkBytes: options.stageChunkBytes,
    });
    if (!parsed.success) {
      const issues = parsed.error.issues
        .map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`)
        .join('; ');
      throw new ContinuumError('STATE_STORE_CONFIG', `invalid Redis state store options: ${issues}`);
    }
    this.opts = parsed.data;
    if (typeof options.redis === 'string') {
      if (!/^rediss?:\/\//.test(options.redis)) {
        throw new ContinuumError(
          'STATE_STORE_CONFIG',
          `invalid Redis state store URL ${JSON.stringify(options.redis)}: expected redis://host:port or rediss://host:port`,
        );
      }
      const client =
        options.password === undefined
          ? new RedisClient(options.redis)
          : new RedisClient(options.redis, { password: options.password });
      // Without a listener ioredis prints every reconnect error; keep the last one for messages.
      client.on('error', (err: Error) => {
        this.lastClientError = err;
      });
      this.client = client;
      this.owned = true;
    } else if (isClient(options.redis)) {
      this.client = options.redis;
      this.owned = false;
    } else {
      throw new ContinuumError(
        'STATE_STORE_CONFIG',
        'invalid Redis state store option redis: expected an ioredis client or a URL',
      );
    }
    this.scripts = defineScripts(this.client);
  }

  /** The store of partition `p` (created on first use; cheap). */
  partition(p: number): PartitionStore {
    if (!Number.isSafeInteger(p) || p < 0)
      throw new ContinuumError('STATE_STORE_CONFIG', `partition must be a non-negative integer, got ${p}`);
    let store = this.parts.get(p);
    if (store === undefined) {
      store = new RedisPartitionStore(p, redisPartitionKeys(this.opts.keyPrefix, p), {
        client: this.client,
        scripts: this.scripts,
        opts: this.opts,
        lastClientError: () => this.lastClientError,
      });
      this.parts.set(p, store);
    }
    return store;
  }

  /** Closes the client if the store opened it from a URL; a client passed in stays open. */
  async close(): Promise<void> {
    if (!this.owned) return;
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}

interface Shared {
  client: Redis | Cluster;
  scripts: Scripts;
  opts: Options;
  lastClientError: () => Error | undefined;
}

const EMPTY = Buffer.alloc(0);

/** The staged hash's fields for `delta`, lazily, so that only one call's worth is encoded at a time. */
function* stagedFields(delta: PartitionDelta): Generator<[string, Buffer | string]> {
  for (const [key, a] of delta.addresses) {
    yield [`a:${key}`, Object.keys(a.states).length === 0 ? EMPTY : encodeAddress(a.states)];
  }
  // A timer both added and removed ends up removed, as when the two are applied in that order.
  for (const t of delta.timersAdded.values())
    if (!delta.timersRemoved.has(t.id)) yield [`t:${t.id}`, encodeTimer(t)];
  for (const id of delta.timersRemoved) yield [`t:${id}`, EMPTY];
  if (delta.meta !== undefined) {
    yield ['M', '1'];
    for (const [name, value] of Object.entries(delta.meta)) yield [`m:${name}`, value];
  }
}

class RedisPartitionStore implements PartitionStore {
  private readonly scriptKeys: string[];

  constructor(
    readonly partition: number,
    private readonly keys: RedisPartitionKeys,
    private readonly shared: Shared,
  ) {
    this.scriptKeys = scriptKeys(keys);
  }

  async claim(): Promise<number> {
    const epoch = await this.call('claim', () => this.shared.client.incr(this.keys.epoch));
    await this.awaitReplicas('claim');
    return epoch;
  }

  async staged(): Promise<StagedInfo | undefined> {
    const id = await this.call('staged', () => this.shared.client.get(this.keys.stagedId));
    return id === null ? undefined : { checkpointId: this.checkpointIdOf(id, this.keys.stagedId) };
  }

  async resolve(epoch: number, committedCheckpointId: number): Promise<'promoted' | 'discarded' | 'none'> {
    const result = await this.call('resolve', () =>
      this.shared.scripts.resolve(...this.scriptKeys, String(epoch), String(committedCheckpointId)),
    );
    if (result !== 'promoted' && result !== 'discarded' && result !== 'none')
      throw this.unexpected('resolve', result);
    if (result !== 'none') await this.awaitReplicas('resolve');
    return result;
  }

  async get(keys: readonly string[]): Promise<Map<string, StoredAddress>> {
    const out = new Map<string, StoredAddress>();
    const chunks: string[][] = [];
    for (let i = 0; i < keys.length; i += GET_CHUNK) chunks.push(keys.slice(i, i + GET_CHUNK));
    const replies = await this.call('get', () =>
      Promise.all(chunks.map((chunk) => this.shared.client.hmgetBuffer(this.keys.state, ...chunk))),
    );
    chunks.forEach((chunk, c) => {
      const values = replies[c]!;
      chunk.forEach((key, i) => {
        const blob = values[i];
        if (blob !== null && blob !== undefined)
          out.set(key, decodeAddress(blob, `${this.keys.state} field ${JSON.stringify(key)}`));
      });
    });
    return out;
  }

  async timers(): Promise<StoredTimer[]> {
    // HSCAN may repeat an entry; keying by id keeps each timer once.
    const found = new Map<string, StoredTimer>();
    let cursor = '0';
    do {
      const [next, items] = await this.call('timers', () =>
        this.shared.client.hscanBuffer(this.keys.timers, cursor, 'COUNT', SCAN_COUNT),
      );
      cursor = next.toString('latin1');
      for (let i = 0; i + 1 < items.length; i += 2) {
        const id = items[i]!.toString('utf8');
        const timer = decodeTimer(items[i + 1]!, `${this.keys.timers} field ${JSON.stringify(id)}`);
        found.set(timer.id, timer);
      }
    } while (cursor !== '0');
    return [...found.values()];
  }

  async meta(): Promise<Record<string, string>> {
    const all = await this.call('meta', () => this.shared.client.hgetall(this.keys.meta));
    return { ...all };
  }

  async stage(epoch: number, checkpointId: number, delta: PartitionDelta): Promise<void> {
    const { stageChunkBytes } = this.shared.opts;
    const send = async (flags: number, pairs: (string | Buffer)[]): Promise<void> => {
      const result = await this.call('stage', () =>
        this.shared.scripts.stage(...this.scriptKeys, String(epoch), String(checkpointId), flags, ...pairs),
      );
      if (result !== 'staged') throw this.unexpected('stage', result);
    };
    let first = true;
    let pairs: (string | Buffer)[] = [];
    let bytes = 0;
    for (const [field, value] of stagedFields(delta)) {
      pairs.push(field, value);
      bytes += field.length + value.length;
      if (bytes >= stageChunkBytes || pairs.length >= 2 * STAGE_MAX_PAIRS) {
        await send(first ? STAGE_FIRST : 0, pairs);
        first = false;
        pairs = [];
        bytes = 0;
      }
    }
    await send((first ? STAGE_FIRST : 0) | STAGE_LAST, pairs);
    await this.awaitReplicas('stage');
  }

  async promote(epoch: number, checkpointId: number): Promise<void> {
    const result = await this.call('promote', () =>
      this.shared.scripts.promote(...this.scriptKeys, String(epoch), String(checkpointId)),
    );
    if (result !== 'promoted' && result !== 'already') throw this.unexpected('promote', result);
    await this.awaitReplicas('promote');
  }

  /** Runs one Redis operation and turns what it throws into a ContinuumError. */
  private async call<T>(op: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.storeError(op, err);
    }
  }

  private storeError(op: string, err: unknown): ContinuumError {
    if (err instanceof ContinuumError) return err;
    const msg = err instanceof Error ? err.message : String(err);
    const where = `partition ${this.partition} (${this.keys.tag})`;
    const scriptError = /^(FENCED|CHECKPOINT_NOT_STAGED|STAGE_INTERRUPTED) (.*)$/s.exec(msg);
    if (scriptError !== null) {
      const [, code, detail] = scriptError as unknown as [
        string,
        'FENCED' | 'CHECKPOINT_NOT_STAGED' | 'STAGE_INTERRUPTED',
        string,
      ];
      const advice =
        code === 'FENCED'
          ? 'another process claimed the partition; this owner must stop working on it'
          : 'the checkpoint sequence of this owner is broken; restart the partition so that it recovers';
      return new ContinuumError(code, `${where}: ${op} rejected: ${detail}; ${advice}`, { cause: err });
    }
    // Replies that no retry can change: the keys or the account are misconfigured.
    const permanent = /^(WRONGTYPE|CROSSSLOT|NOPERM|NOAUTH|WRONGPASS)\b/.exec(msg);
    if (permanent !== null) {
      return new ContinuumError(
        'STATE_STORE_REJECTED',
        `${where}: ${op} was refused by Redis: ${msg}. Check the key prefix (no other application may use ` +
          'keys under it) and the credentials and ACL of the Redis user.',
        { cause: err },
      );
    }
    const last = this.shared.lastClientError();
    const lastText =
      last !== undefined && last.message !== msg ? ` (last connection error: ${last.message})` : '';
    return new ContinuumError(
      'STATE_STORE_UNAVAILABLE',
      `${where}: ${op} failed in Redis: ${msg}${lastText}. Check that Redis is reachable and accepts writes; ` +
        'the operation may be retried.',
      { cause: err, retryable: true },
    );
  }

  private unexpected(op: string, result: unknown): ContinuumError {
    return new ContinuumError(
      'STATE_STORE_UNAVAILABLE',
      `partition ${this.partition} (${this.keys.tag}): ${op} script answered ${JSON.stringify(result)}; ` +
        'another script may be registered under the same name on this Redis client',
      { retryable: true },
    );
  }

  private checkpointIdOf(text: string, key: string): number {
    const id = Number(text);
    if (!Number.isSafeInteger(id))
      throw new ContinuumError('STATE_CORRUPT', `${key} holds ${JSON.stringify(text)}, not a checkpoint id`);
    return id;
  }

  /** WAIT on the node that holds this partition's slot, when replicas are the durability mode. */
  private async awaitReplicas(op: string): Promise<void> {
    const wanted = this.shared.opts.waitReplicas;
    if (wanted === undefined) return;
    const acked = await this.call(`${op} (WAIT)`, () => this.node().wait(wanted.count, wanted.timeoutMs));
    if (acked < wanted.count) {
      throw new ContinuumError(
        'STATE_STORE_NOT_DURABLE',
        `partition ${this.partition} (${this.keys.tag}): ${op} reached ${acked} of ${wanted.count} replicas within ` +
          `${wanted.timeoutMs} ms, so it may not survive a failover; check the replicas' link to their primary.`,
        { retryable: true },
      );
    }
  }

  /**
   * The connection that wrote this partition's keys: WAIT counts the replicas that acknowledged
   * that connection's writes, so in a Cluster it must go to the slot's primary.
   */
  private node(): Redis {
    const client = this.shared.client;
    if (!client.isCluster) return client as Redis;
    const cluster = client as Cluster;
    const nodeKey = cluster.slots[clusterSlot(this.keys.tag)]?.[0];
    const node = cluster.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === nodeKey);
    if (node === undefined)
      throw new Error(
        `no connected primary serves the slot of ${this.keys.tag} (slot map says ${nodeKey ?? 'none'})`,
      );
    return node;
  }
}
