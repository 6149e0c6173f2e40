// Corrects kafkajs 2.2.4's read_committed filtering, replaces its quadratic grouping of the
// messages of a send by partition, lets its protocol encoder allocate without zero-filling, and
// encodes Produce requests and request frames in one pass (produce-encoder.ts), before kafkajs
// loads (import this module before the first value import of 'kafkajs').
//
// kafkajs drops the records of aborted transactions with a filter that activates at most one
// aborted transaction per record it looks at. When several aborted transactions begin at or
// before a record (a crash aborts many at once; a fetch starts in the middle of them), the
// first records of the later ones slip through: a read_committed consumer sees records of
// aborted transactions. Our chaos test caught it as duplicated effects. This filter follows the
// Java consumer: every aborted transaction whose first offset a record has reached is active
// for its producer until that producer's ABORT marker.
import { createRequire } from 'node:module';
import { encodeProduceRequest, type ProduceRequestArgs } from './produce-encoder.js';

interface Message {
  offset: string;
  key: Buffer | null;
  isControlRecord?: boolean;
  batchContext: { producerId: string; inTransaction: boolean };
}
interface AbortedTransaction {
  producerId: string;
  firstOffset: string;
}

const ABORT_MARKER_KEY = Buffer.from([0, 0, 0, 0]);

/** Messages in offset order minus those of aborted transactions (control records kept). */
export function filterAbortedMessages({
  messages,
  abortedTransactions,
}: {
  messages: Message[];
  abortedTransactions?: AbortedTransaction[] | undefined;
}): Message[] {
  if (abortedTransactions === undefined || abortedTransactions.length === 0) return messages;
  const pending = [...abortedTransactions].sort((a, b) => compare(a.firstOffset, b.firstOffset));
  const active = new Set<string>();
  return messages.filter((m) => {
    while (pending.length > 0 && compare(m.offset, pending[0]!.firstOffset) >= 0) {
      active.add(String(pending.shift()!.producerId));
    }
    const producerId = String(m.batchContext.producerId);
    if (m.isControlRecord === true) {
      if (m.key !== null && Buffer.from(m.key).equals(ABORT_MARKER_KEY)) active.delete(producerId);
      return true;
    }
    return !(m.batchContext.inTransaction && active.has(producerId));
  });
}

function compare(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * kafkajs' own version copies a partition's whole list for every message it adds (`[...current,
 * message]`): quadratic in the messages per partition of one send, which a process transaction
 * with thousands of records per partition paid for in CPU and garbage. Same result, linear.
 */
export function groupMessagesPerPartition<M>({
  topic,
  partitionMetadata,
  messages,
  partitioner,
}: {
  topic: string;
  partitionMetadata: unknown[];
  messages: M[];
  partitioner: (args: { topic: string; partitionMetadata: unknown[]; message: M }) => number;
}): Record<number, M[]> {
  const result: Record<number, M[]> = {};
  if (partitionMetadata.length === 0) return result;
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    (result[partition] ??= []).push(message);
  }
  return result;
}

const require = createRequire(import.meta.url);
const modulePath = require.resolve('kafkajs/src/consumer/filterAbortedMessages.js');
const cache = require.cache as Record<string, unknown>;
const batchPath = require.resolve('kafkajs/src/consumer/batch.js');
if (cache[batchPath] !== undefined && !patchedBefore()) {
  process.emitWarning(
    'kafkajs was loaded before the read_committed fix; this process may see records of aborted transactions',
    { code: 'CONTINUUM_KAFKAJS_UNPATCHED' },
  );
}
const replace = (path: string, exports: unknown): void => {
  cache[path] = { id: path, filename: path, loaded: true, exports, children: [], paths: [] };
};
replace(modulePath, filterAbortedMessages);

interface KafkajsEncoder {
  buf: Buffer;
  offset: number;
}
type EncoderClass = (new (initialSize?: number) => KafkajsEncoder) & {
  nextPowerOfTwo(value: number): number;
};
const encoderPath = require.resolve('kafkajs/src/protocol/encoder.js');
if (cache[encoderPath] === undefined) {
  const Encoder = require(encoderPath) as EncoderClass;
  /**
   * kafkajs encodes every record and every header with a new encoder whose buffer is zero-filled
   * and outside Node's buffer pool (`Buffer.alloc`): one ArrayBuffer per record and header, which
   * the garbage collector then tracks one by one. Only bytes below `offset` are ever read, so
   * pooled, uninitialised memory (`Buffer.allocUnsafe`) is the same result for less work.
   */
  class PooledEncoder extends Encoder {
    constructor(initialSize = 511) {
      super(0);
      this.buf = Buffer.allocUnsafe(Encoder.nextPowerOfTwo(initialSize));
    }

    ensureAvailable(length: number): void {
      if (this.offset + length > this.buf.length) {
        const grown = Buffer.allocUnsafe(Encoder.nextPowerOfTwo(this.offset + length));
        this.buf.copy(grown, 0, 0, this.offset);
        this.buf = grown;
      }
    }
  }
  replace(encoderPath, PooledEncoder);
}
/** The encoder kafkajs uses from here on (the pooled one, unless kafkajs was loaded first). */
const KafkajsEncoderClass = require(encoderPath) as EncoderClass;
replace(require.resolve('kafkajs/src/producer/groupMessagesPerPartition.js'), groupMessagesPerPartition);

interface KafkajsRequest {
  apiKey: number;
  apiVersion: number;
  encode: () => Promise<{ buffer: Buffer }>;
}
type ProduceV3 = (args: ProduceRequestArgs & { compression?: number }) => KafkajsRequest;
const produceV3Path = require.resolve('kafkajs/src/protocol/requests/produce/v3/request.js');
if (cache[produceV3Path] === undefined) {
  /** kafkajs' own Produce v3 request (v4 to v7 are it with another version number). */
  const original = require(produceV3Path) as ProduceV3;
  const produceV3: ProduceV3 = (args) => {
    const request = original(args);
    // Compressed batches stay with kafkajs (its codecs); ours are never compressed.
    if ((args.compression ?? 0) !== 0) return request;
    return { ...request, encode: () => Promise.resolve(encoderOf(encodeProduceRequest(args))) };
  };
  replace(produceV3Path, produceV3);
}

const requestPath = require.resolve('kafkajs/src/protocol/request.js');
if (cache[requestPath] === undefined) {
  /**
   * A request as kafkajs frames it (size, api key and version, correlation id, client id, body),
   * written once: kafkajs copies the body into a header encoder and that into a size-prefixed one.
   */
  const createRequest = async ({
    correlationId,
    clientId,
    request: { apiKey, apiVersion, encode },
  }: {
    correlationId: number;
    clientId: string | null;
    request: KafkajsRequest;
  }): Promise<KafkajsEncoder> => {
    const body = (await encode()).buffer;
    const idLength = clientId == null ? 0 : Buffer.byteLength(clientId, 'utf8');
    const size = 2 + 2 + 4 + 2 + idLength + body.length;
    const buf = Buffer.allocUnsafe(4 + size);
    let at = buf.writeInt32BE(size, 0);
    at = buf.writeInt16BE(apiKey, at);
    at = buf.writeInt16BE(apiVersion, at);
    at = buf.writeInt32BE(correlationId, at);
    at = buf.writeInt16BE(clientId == null ? -1 : idLength, at);
    if (clientId != null) at += buf.write(clientId, at, idLength, 'utf8');
    body.copy(buf, at);
    return encoderOf(buf);
  };
  replace(requestPath, createRequest);
}

/** A kafkajs encoder holding `buf` as its written bytes. */
function encoderOf(buf: Buffer): KafkajsEncoder & { buffer: Buffer } {
  const encoder = new KafkajsEncoderClass(0) as KafkajsEncoder & { buffer: Buffer };
  encoder.buf = buf;
  encoder.offset = buf.length;
  return encoder;
}

interface RequestQueueInternals {
  throttledUntil: number;
  pending: unknown[];
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}
/** kafkajs' CHECK_PENDING_REQUESTS_INTERVAL. */
const CHECK_PENDING_MS = 10;
const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as {
  prototype: RequestQueueInternals;
};
/**
 * kafkajs schedules its throttle check after `throttledUntil - Date.now()` ms even when the broker
 * never throttled it (`throttledUntil` 0: minus the time since the epoch). Node runs such a timer
 * after 1 ms, and from Node 24 also prints a TimeoutNegativeWarning to stderr, outside the log,
 * for every request. It does so after every response too, with nothing queued: a timer per
 * request that checks an empty queue (a quarter of an idle runtime's main-thread time). Here: no
 * timer while nothing is queued (queueing a request schedules one), never a negative delay.
 */
RequestQueue.prototype.scheduleCheckPendingRequests = function (this: RequestQueueInternals): void {
  if (this.throttleCheckTimeoutId || this.pending.length === 0) return;
  let delay = this.throttledUntil - Date.now();
  if (this.pending.length > 0 && delay <= 0) delay = CHECK_PENDING_MS;
  this.throttleCheckTimeoutId = setTimeout(
    () => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    },
    Math.max(1, delay),
  );
};

interface ClusterInternals {
  findGroupCoordinator: (
    this: object,
    args: { groupId: string; coordinatorType?: number },
  ) => Promise<unknown>;
}
interface CachedCoordinator {
  broker: Promise<unknown>;
  until: number;
  generation: number;
}
/** kafkajs' COORDINATOR_TYPES.TRANSACTION. */
const TRANSACTION_COORDINATOR = 1;
/** How long a transaction coordinator lookup is reused (unless a transaction failed meanwhile). */
export const TRANSACTION_COORDINATOR_TTL_MS = 10_000;
/** Bumped to forget every cached coordinator of every client at once. */
const coordinatorGeneration = { value: 0 };

/**
 * Coordinator lookups of one kafkajs client, by transactional id: a lookup is shared while it
 * runs, reused for `ttlMs` after it, dropped when it fails and when the shared generation moves.
 */
export class CoordinatorCache {
  private readonly entries = new Map<string, CachedCoordinator>();

  constructor(
    private readonly ttlMs: number,
    private readonly generation: { value: number } = coordinatorGeneration,
    private readonly now: () => number = Date.now,
  ) {}

  /** Looks up again whatever is cached, and caches the new answer. */
  refresh(key: string, lookup: () => Promise<unknown>): Promise<unknown> {
    this.entries.delete(key);
    return this.get(key, lookup);
  }

  get(key: string, lookup: () => Promise<unknown>): Promise<unknown> {
    const now = this.now();
    const hit = this.entries.get(key);
    if (hit !== undefined && hit.until > now && hit.generation === this.generation.value) return hit.broker;
    const broker = lookup();
    const entry: CachedCoordinator = { broker, until: now + this.ttlMs, generation: this.generation.value };
    this.entries.set(key, entry);
    broker.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    return broker;
  }
}

const Cluster = require('kafkajs/src/cluster/index.js') as { prototype: ClusterInternals };
const findCoordinator = Cluster.prototype.findGroupCoordinator;
const coordinators = new WeakMap<object, CoordinatorCache>();
/**
 * kafkajs asks the cluster for the transaction coordinator (a FindCoordinator round trip) before
 * each of AddPartitionsToTxn, AddOffsetsToTxn and EndTxn: three of a transaction's nine
 * sequential requests, for an answer that only changes when the coordinator moves. Here the
 * answer is reused for TRANSACTION_COORDINATOR_TTL_MS, and forgotten at once when a transaction
 * fails (forgetTransactionCoordinators: a moved coordinator answers NOT_COORDINATOR, a gone one
 * does not answer, and the retry looks it up again). Consumers' group coordinator lookups are not
 * cached (kafkajs' consumer group re-finds its coordinator itself); a transaction's offset commits
 * have their own cache (TxnOffsetsCoordinator).
 */
Cluster.prototype.findGroupCoordinator = function (
  this: object,
  args: { groupId: string; coordinatorType?: number },
): Promise<unknown> {
  if (args.coordinatorType !== TRANSACTION_COORDINATOR) return findCoordinator.call(this, args);
  let cache = coordinators.get(this);
  if (cache === undefined)
    coordinators.set(this, (cache = new CoordinatorCache(TRANSACTION_COORDINATOR_TTL_MS)));
  return cache.get(args.groupId, () => findCoordinator.call(this, args));
};

interface EosManagerInternals {
  addPartitionsToTransaction: (this: void, topicData: unknown) => Promise<void>;
  sendOffsets: (this: void, args: unknown) => Promise<unknown>;
}
interface EosManagerOptions {
  cluster: ClusterInternals;
}
type CreateEosManager = (opts: EosManagerOptions) => EosManagerInternals;
/** Waits before the tries of AddPartitionsToTxn after CONCURRENT_TRANSACTIONS (ms, ~1.3 s in all). */
export const CONCURRENT_TRANSACTIONS_BACKOFF_MS: readonly number[] = [5, 10, 20, 40, 80, 160, 320, 640];

/**
 * The first request of a transaction (AddPartitionsToTxn) gets CONCURRENT_TRANSACTIONS while the
 * coordinator still writes the previous transaction's markers, a few milliseconds after its EndTxn
 * was answered. kafkajs treats it like stale metadata: a Metadata request, then its client-wide
 * retry. The Java producer retries the request itself after a short wait; so does this, and only
 * passes the error on (to kafkajs' retry) once the waits above are used up.
 */
export async function retryConcurrentTransactions<T>(
  send: () => Promise<T>,
  backoffMs: readonly number[] = CONCURRENT_TRANSACTIONS_BACKOFF_MS,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await send();
    } catch (err) {
      const type = (err as { type?: unknown } | null)?.type;
      if (type !== 'CONCURRENT_TRANSACTIONS' || attempt >= backoffMs.length) throw err;
      await sleep(backoffMs[attempt]!);
    }
  }
}

/** kafkajs' COORDINATOR_TYPES.GROUP. */
const GROUP_COORDINATOR = 0;

/**
 * The group coordinator lookups of one transactional producer's offset commits. kafkajs asks for
 * the coordinator of the consumer group (a FindCoordinator round trip) in every transaction that
 * commits offsets; here the first lookup of a send is answered from a cache (as the transaction
 * coordinator is, with the same time to live and the same forgetting after a failed transaction),
 * and a lookup kafkajs makes again within the send (its coordinator answered NOT_COORDINATOR or
 * could not be reached) goes to the broker and replaces the cached answer.
 */
export class TxnOffsetsCoordinator {
  /** The cluster as the producer's transaction manager sees it. */
  readonly cluster: ClusterInternals;
  private readonly cache: CoordinatorCache;
  private lookupsInSend = 0;

  constructor(cluster: ClusterInternals, cache = new CoordinatorCache(TRANSACTION_COORDINATOR_TTL_MS)) {
    this.cache = cache;
    const lookup = (args: { groupId: string; coordinatorType?: number }): Promise<unknown> => {
      const fresh = (): Promise<unknown> => cluster.findGroupCoordinator(args);
      if (args.coordinatorType !== GROUP_COORDINATOR) return fresh();
      return this.lookupsInSend++ === 0
        ? this.cache.get(args.groupId, fresh)
        : this.cache.refresh(args.groupId, fresh);
    };
    this.cluster = new Proxy(cluster, {
      get(target, prop) {
        if (prop === 'findGroupCoordinator') return lookup;
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  /** A send of offsets begins: its first group coordinator lookup may be answered from the cache. */
  startSend(): void {
    this.lookupsInSend = 0;
  }
}

const eosManagerPath = require.resolve('kafkajs/src/producer/eosManager/index.js');
if (cache[eosManagerPath] === undefined) {
  const createEosManager = require(eosManagerPath) as CreateEosManager;
  replace(eosManagerPath, (opts: EosManagerOptions) => {
    const offsets = new TxnOffsetsCoordinator(opts.cluster);
    const manager = createEosManager({ ...opts, cluster: offsets.cluster });
    const add = manager.addPartitionsToTransaction;
    manager.addPartitionsToTransaction = (topicData) => retryConcurrentTransactions(() => add(topicData));
    const sendOffsets = manager.sendOffsets;
    manager.sendOffsets = (args) => {
      offsets.startSend();
      return sendOffsets(args);
    };
    return manager;
  });
}

/** Forgets every cached transaction coordinator (after a failed transaction). */
export function forgetTransactionCoordinators(): void {
  coordinatorGeneration.value++;
}

(globalThis as { __continuumKafkajsPatched?: boolean }).__continuumKafkajsPatched = true;

function patchedBefore(): boolean {
  return (globalThis as { __continuumKafkajsPatched?: boolean }).__continuumKafkajsPatched === true;
}
