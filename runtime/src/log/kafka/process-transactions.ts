// The transactional producers of a runtime process (two lanes by default), shared by every
// partition it owns: commits of all partition tasks and ingress movers that arrive while the
// lanes are busy (or within the linger after the previous transaction started) go into the next
// transaction together. The transaction rate follows the process, not partitions x checkpoint
// frequency. A partition task or an ingress mover has one commit in flight at a time, so its
// commits stay in order whichever lane takes them.
//
// A commit part may carry `prepare` (the partition task stages its state delta in Redis there):
// it runs after the part's records are written into the open transaction and before the
// transaction commits. That order is what recovery relies on without a fence per partition: a
// stage that succeeded (before a new owner claimed the partition's epoch) belongs to a
// transaction whose records already sit in the partition before the new owner's fence marker,
// and a read_committed scan cannot pass them until that transaction has ended.
//
// Retriable broker errors before the commit request (CONCURRENT_TRANSACTIONS while the previous
// transaction's markers are written, a coordinator moving) abort and retry the transaction in
// place; parts whose `prepare` failed are dropped from it (rejected) and the others retried.
// Only an error of the commit request itself, whose outcome is unknown, fails every part.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Kafka, Producer, Transaction } from 'kafkajs';
import { ContinuumError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { OutRecord } from '../log.js';
import { kafkaError, kafkaErrorType } from './client.js';
import { forgetTransactionCoordinators } from './kafkajs-patch.js';
import { groupByTopic } from './records.js';
import { DEFAULTS } from '../../defaults.js';

/** A consumer offset committed with a transaction. */
export interface TxnOffset {
  groupId: string;
  topic: string;
  partition: number;
  offset: number;
  metadata: string | null;
}

/** What one partition contributes to a transaction. */
export interface TxnPart {
  records: readonly OutRecord[];
  offsets: readonly TxnOffset[];
  /**
   * Runs once the records are in the open transaction, before it commits (may run again when the
   * transaction is retried). Rejecting takes this part out: it is rejected with that error.
   */
  prepare?: (() => Promise<void>) | undefined;
  /**
   * Someone waits for this part (a request for its reply): its transaction starts without the
   * linger, as soon as no other transaction of the process runs.
   */
  urgent?: boolean | undefined;
}

export interface ProcessTransactionsOptions {
  kafka: Kafka;
  logger: Logger;
  /** Prefix of the transactional id (the consumer group); the process identity follows it. */
  idPrefix: string;
  /**
   * This process's identity, stable across restarts of the same process (the pod name, which a
   * container restart keeps), unique among live processes. The transactional ids are
   * `<idPrefix>.<identity>.<lane>`: a restarted process initialising them aborts the open
   * transaction its predecessor left at once, instead of after the transaction timeout. Default
   * `<hostname>.<pid>`. A live process fenced by another with the same identity moves to fresh ids.
   */
  identity?: string | undefined;
  /** The broker aborts a transaction of a crashed process after this long (default 10 s). */
  transactionTimeoutMs?: number | undefined;
  /**
   * A transaction starts at least this long after the previous one started (default
   * DEFAULT_COMMIT_LINGER_MS; 0: as soon as a lane is free). Parts arriving meanwhile share it.
   */
  lingerMs?: number | undefined;
  /** Records per transaction at most (parts are never split; default 20,000). */
  maxRecords?: number | undefined;
  /**
   * Producers, each running one transaction at a time (default 2): while one waits for the broker
   * to finish its commit, the next transaction is already being sent.
   */
  lanes?: number | undefined;
  /** Retries of a transaction that failed before its commit request (default 10). */
  retries?: number | undefined;
  /**
   * One attempt of a transaction that has not ended after this long is given up (default 30 s,
   * at least three transaction timeouts): its parts fail with an unknown outcome, its producer is
   * replaced, and the attempt, should the client ever resume it, aborts instead of committing. The
   * Java producer bounds its blocking calls the same way (max.block.ms); a client that never
   * answers must not hold the parts' partitions (and the ingress records waiting on them) forever.
   */
  attemptTimeoutMs?: number | undefined;
}

export interface TransactionStats {
  transactions: number;
  /** Parts committed (each a partition's checkpoint or an ingress batch). */
  parts: number;
  records: number;
  /** Transactions aborted and retried in place after a retriable error. */
  retried: number;
  /** Parts taken out of a transaction because their prepare failed. */
  dropped: number;
}

interface Pending {
  part: TxnPart;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * The default linger (measured in bench/RESULTS.md): at 1,000 events/s it keeps p50/p99 near
 * 100/200 ms with ~50 transactions/s; 50 ms halves the transactions for ~90 ms more p50.
 */
export const DEFAULT_COMMIT_LINGER_MS = DEFAULTS.run.commitLingerMs;

/** Errors a transaction can be retried after (the Java producer retries these in place). */
const RETRIABLE = new Set([
  'CONCURRENT_TRANSACTIONS',
  'COORDINATOR_LOAD_IN_PROGRESS',
  'COORDINATOR_NOT_AVAILABLE',
  'NOT_COORDINATOR',
  'NOT_LEADER_FOR_PARTITION',
  'NOT_LEADER_OR_FOLLOWER',
  'LEADER_NOT_AVAILABLE',
  'UNKNOWN_TOPIC_OR_PARTITION',
  'REQUEST_TIMED_OUT',
  'NETWORK_EXCEPTION',
  'NOT_ENOUGH_REPLICAS',
  'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
]);

class CommitOutcomeUnknown extends Error {}

/** An attempt given up by the watchdog: when the client resumes it, it must not commit. */
interface AttemptState {
  abandoned: boolean;
}

/**
 * One producer and the transaction it runs. A producer cannot begin its next transaction until
 * the broker has written the previous one's markers (CONCURRENT_TRANSACTIONS meanwhile); with two
 * lanes one commits while the other sends.
 */
class Lane {
  producer: Producer | undefined;
  starting: Promise<Producer> | undefined;
  running: Promise<void> | undefined;
  /** When this lane last started a transaction (the process's count of transactions started). */
  started = 0;
  constructor(public transactionalId: string) {}
}

/** The producer was fenced: another producer initialised the same transactional id. */
const FENCED = new Set(['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH']);

/** The identity of a process that was given none: `<hostname>.<pid>` (unique among live processes). */
export function defaultProcessIdentity(): string {
  return `${hostname()}.${process.pid}`;
}

/** A transactional id part from a process identity (kept readable; ids are plain strings). */
function idPart(identity: string): string {
  return identity.replace(/[^A-Za-z0-9._-]+/gu, '.');
}

export class ProcessTransactions {
  /** The transactional ids of this process's producers (one per lane). */
  get transactionalIds(): readonly string[] {
    return this.lanes.map((l) => l.transactionalId);
  }
  readonly stats: TransactionStats = { transactions: 0, parts: 0, records: 0, retried: 0, dropped: 0 };
  private readonly base: string;
  private readonly lanes: Lane[];
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastStart = 0;
  /** Transactions started (numbers the lanes' turns). */
  private started = 0;
  private closing = false;
  private closed = false;

  constructor(private readonly opts: ProcessTransactionsOptions) {
    this.base = `${opts.idPrefix}.${idPart(opts.identity ?? defaultProcessIdentity())}`;
    const lanes = Math.max(1, opts.lanes ?? 2);
    this.lanes = Array.from({ length: lanes }, (_, i) => new Lane(`${this.base}.${i}`));
  }

  /** Connects and initialises the producers (the first commits do it otherwise). */
  async start(): Promise<void> {
    await Promise.all(this.lanes.map((l) => this.ready(l)));
  }

  /** Adds a part to the next transaction; resolves once that transaction has committed. */
  commit(part: TxnPart): Promise<void> {
    if (this.closed) {
      return Promise.reject(
        new ContinuumError('LOG_CLOSED', 'the process transaction producer is closed', { retryable: true }),
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ part, resolve, reject });
      this.schedule();
    });
  }

  /** Commits what is queued (without lingering), then disconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.kick();
    // Each run schedules the next one itself while parts are queued.
    for (;;) {
      const running = this.lanes.map((l) => l.running).filter((r) => r !== undefined);
      if (running.length === 0) break;
      await Promise.all(running);
    }
    this.closed = true;
    await Promise.all(this.lanes.map((l) => this.reset(l)));
  }

  /**
   * The idle lane that started a transaction longest ago: the lane that just committed has its
   * markers still being written for a few milliseconds, during which its next transaction's first
   * request would meet CONCURRENT_TRANSACTIONS (and wait out a retry); the other lane's would not.
   */
  private idleLane(): Lane | undefined {
    let idle: Lane | undefined;
    for (const l of this.lanes) {
      if (l.running === undefined && (idle === undefined || l.started < idle.started)) idle = l;
    }
    return idle;
  }

  private schedule(): void {
    if (this.queue.length === 0 || this.idleLane() === undefined) return;
    // A part someone waits for (a request's reply) does not wait out the linger, but it waits for
    // a running transaction to end: the parts arriving meanwhile then share the next one instead
    // of each taking a lane of its own (the broker's cost is per transaction; measured in
    // bench/RESULTS.md). Lingering parts still start a second lane when their linger is up.
    const urgent =
      this.closing ||
      (this.queue.some((p) => p.part.urgent === true) && this.lanes.every((l) => l.running === undefined));
    if (this.timer !== undefined && !urgent) return;
    const wait = urgent ? 0 : this.lastStart + (this.opts.lingerMs ?? DEFAULT_COMMIT_LINGER_MS) - Date.now();
    if (wait <= 0) {
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
      this.kick();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, wait);
  }

  private kick(): void {
    const lane = this.idleLane();
    if (lane === undefined || this.queue.length === 0) return;
    this.lastStart = Date.now();
    lane.started = ++this.started;
    const batch = this.take();
    lane.running = this.run(lane, batch).finally(() => {
      lane.running = undefined;
      this.schedule();
    });
    // Another idle lane takes what is left once the linger allows.
    this.schedule();
  }

  /** The next transaction's parts: queued order, up to maxRecords (at least one part). */
  private take(): Pending[] {
    const max = this.opts.maxRecords ?? 20_000;
    let n = 0;
    let records = 0;
    while (n < this.queue.length) {
      const size = this.queue[n]!.part.records.length;
      if (n > 0 && records + size > max) break;
      records += size;
      n++;
    }
    return this.queue.splice(0, n);
  }

  private async run(lane: Lane, batch: Pending[]): Promise<void> {
    const retries = this.opts.retries ?? 10;
    for (let attempt = 0; batch.length > 0; attempt++) {
      try {
        // Parts left out (their prepare failed) are settled; the rest goes again at once.
        batch = await this.watched(lane, batch);
        continue;
      } catch (err) {
        // The coordinator may have moved or gone: the next attempt looks it up again.
        forgetTransactionCoordinators();
        const type = kafkaErrorType(err);
        const retriable =
          !(err instanceof CommitOutcomeUnknown) && (type === undefined || RETRIABLE.has(type));
        if (!retriable || attempt >= retries || this.closed) {
          const cause = err instanceof CommitOutcomeUnknown ? err.cause : err;
          const failure = kafkaError('committing a process transaction', cause);
          // Fenced while alive: another live process may use this identity. Taking the id back
          // would fence that one in turn; this lane goes on under an id of its own.
          if (type !== undefined && FENCED.has(type) && !this.closed) this.renew(lane);
          for (const p of batch) p.reject(failure);
          // A fenced or confused producer (or one whose commit went unanswered) starts afresh.
          if (err instanceof CommitOutcomeUnknown || (type !== undefined && !RETRIABLE.has(type)))
            await this.reset(lane);
          return;
        }
        this.stats.retried++;
        this.opts.logger.debug('process transaction failed before its commit; retrying', {
          attempt,
          error: err instanceof Error ? err.message : String(err),
        });
        // The Java producer waits 20 ms after CONCURRENT_TRANSACTIONS; back off a little more
        // each time for the rarer coordinator errors.
        await new Promise((r) => setTimeout(r, Math.min(1000, 20 * 2 ** attempt)));
        if (type === undefined) await this.reset(lane);
      }
    }
  }

  /** `attempt`, given up after attemptTimeoutMs (see the option). */
  private async watched(lane: Lane, batch: Pending[]): Promise<Pending[]> {
    const limit =
      this.opts.attemptTimeoutMs ??
      Math.max(30_000, 3 * (this.opts.transactionTimeoutMs ?? DEFAULTS.run.transactionTimeoutMs));
    const state: AttemptState = { abandoned: false };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        state.abandoned = true;
        this.opts.logger.warn('a process transaction did not end in time; giving it up', {
          transactionalId: lane.transactionalId,
          parts: batch.length,
          timeoutMs: limit,
        });
        // Not awaited: a client that does not answer may not answer its disconnect either.
        const stale = lane.producer;
        lane.producer = undefined;
        lane.starting = undefined;
        void stale?.disconnect().catch(() => undefined);
        const cause = new Error(`the transaction had no end within ${limit} ms`);
        reject(new CommitOutcomeUnknown('attempt', { cause }));
      }, limit);
    });
    try {
      return await Promise.race([this.attempt(lane, batch, state), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * One transaction of `batch`. Returns the parts still to commit (after some were dropped, the
   * transaction is aborted and the rest returned for another attempt), [] when committed.
   */
  private async attempt(lane: Lane, batch: Pending[], state: AttemptState): Promise<Pending[]> {
    const producer = await this.ready(lane);
    const txn: Transaction = await producer.transaction();
    let committing = false;
    const startedAt = Date.now();
    try {
      const records = batch.flatMap((p) => p.part.records);
      if (records.length > 0) await txn.sendBatch({ topicMessages: groupByTopic(records), acks: -1 });
      const sentAt = Date.now();
      let preparedAt = sentAt;
      // The parts' prepares (Redis round trips) and the offsets (three broker round trips) are
      // independent: both only need the records in the open transaction, so they overlap.
      const preparing = Promise.allSettled(
        batch.map((p) => (p.part.prepare === undefined ? Promise.resolve() : p.part.prepare())),
      ).then((settled) => {
        preparedAt = Date.now();
        return settled;
      });
      const offsetting = (async () => {
        for (const [groupId, topics] of offsetsByGroup(batch)) {
          await txn.sendOffsets({ consumerGroupId: groupId, topics });
        }
      })();
      const [prepared, offsets] = await Promise.allSettled([preparing, offsetting]);
      const offsetsAt = Date.now();
      const settled = (prepared as PromiseFulfilledResult<PromiseSettledResult<void>[]>).value;
      const failed = settled.flatMap((r, i) => (r.status === 'rejected' ? [i] : []));
      if (offsets.status === 'rejected') throw offsets.reason;
      if (failed.length > 0) {
        await txn.abort();
        for (const i of failed) {
          this.stats.dropped++;
          batch[i]!.reject((settled[i] as PromiseRejectedResult).reason);
        }
        return batch.filter((_, i) => !failed.includes(i));
      }
      if (state.abandoned) throw new Error('the attempt was given up');
      committing = true;
      await txn.commit();
      // Where a transaction's time goes (ms per phase), for tuning the linger and the lanes.
      this.opts.logger.debug('process transaction committed', {
        parts: batch.length,
        records: records.length,
        send: sentAt - startedAt,
        prepare: preparedAt - sentAt,
        offsets: offsetsAt - sentAt,
        commit: Date.now() - offsetsAt,
        queued: this.queue.length,
      });
      this.stats.transactions++;
      this.stats.parts += batch.length;
      this.stats.records += records.length;
      for (const p of batch) p.resolve();
      return [];
    } catch (err) {
      if (committing) throw new CommitOutcomeUnknown('commit', { cause: err });
      if (txn.isActive()) await txn.abort().catch(() => undefined);
      throw err;
    }
  }

  private async ready(lane: Lane): Promise<Producer> {
    if (lane.producer !== undefined) return lane.producer;
    lane.starting ??= (async () => {
      const producer = this.opts.kafka.producer({
        transactionalId: lane.transactionalId,
        maxInFlightRequests: 1,
        idempotent: true,
        transactionTimeout: this.opts.transactionTimeoutMs ?? DEFAULTS.run.transactionTimeoutMs,
        allowAutoTopicCreation: false,
        // The broker answers CONCURRENT_TRANSACTIONS to the next transaction's first request while
        // it still writes the previous one's markers (a few ms). kafkajs retries it inside the
        // send; its client-wide first wait of 100 ms would add that to every other transaction.
        retry: { retries: 12, initialRetryTime: 5, maxRetryTime: 1000, factor: 0.2, multiplier: 2 },
      });
      try {
        await producer.connect();
        // kafkajs initialises the producer id lazily, at the first send; an empty transaction
        // ends locally without a broker round trip.
        const probe = await producer.transaction();
        await probe.abort();
      } catch (err) {
        await producer.disconnect().catch(() => undefined);
        throw kafkaError('initialising the process transaction producer', err);
      }
      lane.producer = producer;
      return producer;
    })().finally(() => {
      lane.starting = undefined;
    });
    return lane.starting;
  }

  private renew(lane: Lane): void {
    const previous = lane.transactionalId;
    lane.transactionalId = `${this.base}.${randomUUID().slice(0, 8)}.${this.lanes.indexOf(lane)}`;
    this.opts.logger.warn(
      'the process transaction producer was fenced: its transaction outlived the transaction timeout, ' +
        'or another live process has the same identity (CONTINUUM_INSTANCE must be unique); ' +
        'continuing under a new transactional id',
      { transactionalId: previous, next: lane.transactionalId },
    );
  }

  /** A new producer after an error that leaves the old one unusable (fenced, state unknown). */
  private async reset(lane: Lane): Promise<void> {
    const p = lane.producer;
    lane.producer = undefined;
    await p?.disconnect().catch(() => undefined);
  }
}

function offsetsByGroup(
  batch: readonly Pending[],
): Map<string, { topic: string; partitions: { partition: number; offset: string }[] }[]> {
  const groups = new Map<
    string,
    Map<string, { partition: number; offset: string; metadata: string | null }[]>
  >();
  for (const p of batch) {
    for (const o of p.part.offsets) {
      let topics = groups.get(o.groupId);
      if (topics === undefined) {
        topics = new Map<string, { partition: number; offset: string; metadata: string | null }[]>();
        groups.set(o.groupId, topics);
      }
      let parts = topics.get(o.topic);
      if (parts === undefined) topics.set(o.topic, (parts = []));
      // kafkajs' types omit `metadata`, but its TxnOffsetCommit request sends it.
      parts.push({ partition: o.partition, offset: String(o.offset), metadata: o.metadata });
    }
  }
  const out = new Map<string, { topic: string; partitions: { partition: number; offset: string }[] }[]>();
  for (const [group, topics] of groups) {
    out.set(
      group,
      [...topics].map(([topic, partitions]) => ({ topic, partitions })),
    );
  }
  return out;
}
