// Carries committed replies into the reply store: a reply record becomes visible when the
// checkpoint transaction that wrote it commits; storing it announces it to the waiting process.
// The first reply of a request wins; a second one (the function replied twice) and a reply to a
// request that has gone are dead-lettered with REPLY_DUPLICATE / REPLY_REQUEST_GONE.
import type { Kafka, Consumer } from 'kafkajs';
import { encodeTypedValue } from '@continuum/sdk/protocol';
import type { ObservedCheckpoint, TaskObserver } from '../observers.js';
import { deadLetterRecord } from '../core/envelope.js';
import { parseAddressKey } from '../core/address.js';
import type { LogRecord, OutRecord } from '../log/log.js';
import { logRecordOf } from '../log/kafka/records.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { parseReplyRecord, replyAddress, type Reply } from './reply-address.js';
import type { CompleteResult, ReplyStore } from './reply-store.js';

export interface ReplyFeedOptions {
  store: ReplyStore;
  deadLetterTopic: string;
  /** Durable append of dead letters. */
  append: (records: readonly OutRecord[]) => Promise<void>;
  logger?: Logger | undefined;
  /** Told what became of each reply (metrics, tests). */
  onResult?: ((reply: Reply, result: CompleteResult) => void) | undefined;
}

/** Stores replies in order; dead-letters what cannot be a request's first reply. */
export class ReplyFeed {
  private readonly log: Logger;

  constructor(private readonly opts: ReplyFeedOptions) {
    this.log = opts.logger ?? silentLogger;
  }

  async take(replies: readonly Reply[]): Promise<void> {
    const dead: OutRecord[] = [];
    // Sent together, executed in order on the store's one connection: the first reply of a
    // request is the first committed.
    const results = await Promise.all(replies.map((reply) => this.opts.store.complete(reply)));
    for (const [i, reply] of replies.entries()) {
      const result = results[i]!;
      this.opts.onResult?.(reply, result);
      if (result === 'duplicate' || result === 'gone') {
        const code = result === 'duplicate' ? 'REPLY_DUPLICATE' : 'REPLY_REQUEST_GONE';
        const reason =
          result === 'duplicate'
            ? `request ${reply.requestId} already has a reply; ${reply.from} replied again (a request gets one reply: the first)`
            : `request ${reply.requestId} is unknown: never accepted here, or past its retention; the reply from ${reply.from} has no one to go to`;
        this.log.warn('dead-lettering a reply', { requestId: reply.requestId, code, from: reply.from });
        dead.push(
          deadLetterRecord(
            this.opts.deadLetterTopic,
            {
              code,
              reason,
              source: reply.origin,
              target: replyAddress(reply.requestId),
              caller: safeAddress(reply.from),
              key: reply.requestId,
              value: encodeTypedValue({ typename: reply.typename, hasValue: true, value: reply.value }),
              typename: reply.typename,
            },
            Date.now(),
          ),
        );
      }
    }
    if (dead.length > 0) await this.opts.append(dead);
  }
}

function safeAddress(key: string): ReturnType<typeof parseAddressKey> | undefined {
  try {
    return parseAddressKey(key);
  } catch {
    return undefined;
  }
}

/**
 * The fast path: a checkpoint that committed hands its reply records to the reply store at once
 * (which announces them to the waiting process, wherever it runs), without waiting for a reader of
 * the replies topic. In production that reader still stores every reply too, which covers a crash
 * between the commit and this hand-over; the reply's id makes it the same reply there (`same`),
 * not a second one.
 */
export function inProcessReplyObserver(feed: ReplyFeed, repliesTopic: string, logger?: Logger): TaskObserver {
  let seq = 0;
  const log = logger ?? silentLogger;
  let chain = Promise.resolve();
  return {
    committed(c: ObservedCheckpoint) {
      const replies: Reply[] = [];
      for (const r of c.records) {
        if (r.topic !== repliesTopic) continue;
        const record: LogRecord = {
          topic: r.topic,
          partition: c.partition,
          offset: seq++,
          key: r.key,
          value: r.value,
          headers: r.headers ?? {},
          timestamp: Date.now(),
        };
        const reply = parseReplyRecord(record);
        if (reply !== undefined) replies.push(reply);
      }
      if (replies.length === 0) return;
      chain = chain
        .then(() => feed.take(replies))
        .catch((err: unknown) => log.error('storing replies failed', { err }));
    },
  };
}

export interface KafkaReplyFeedOptions {
  kafka: Kafka;
  groupId: string;
  topic: string;
  feed: ReplyFeed;
  logger?: Logger | undefined;
  sessionTimeoutMs?: number | undefined;
  fetchMaxWaitMs?: number | undefined;
}

/** How often the reply readers commit their offsets (a restart stores again what came after). */
export const REPLY_OFFSETS_COMMIT_INTERVAL_MS = 1000;

/**
 * Production: the processes share the replies topic's partitions in their own consumer group and
 * read it read_committed (a reply is there once its checkpoint committed). Offsets are committed
 * after the replies are stored (at most once a second), so a crash stores some again, which the
 * store recognises (`same`).
 * A fetch waits on the broker for new records: nothing runs while no reply comes.
 */
export class KafkaReplyFeed {
  private consumer: Consumer | undefined;

  constructor(private readonly opts: KafkaReplyFeedOptions) {}

  async start(): Promise<void> {
    const { opts } = this;
    const consumer = opts.kafka.consumer({
      groupId: opts.groupId,
      readUncommitted: false,
      allowAutoTopicCreation: false,
      sessionTimeout: opts.sessionTimeoutMs ?? 10_000,
      heartbeatInterval: 3000,
      // A safety net: the committing process hands its replies over itself (inProcessReplyObserver),
      // so this reader need not wake for every transaction's few replies. Waiting for 64 KiB or a
      // second saves the broker a fetch per transaction under load and idles cheaply.
      minBytes: 64 * 1024,
      maxWaitTimeInMs: opts.fetchMaxWaitMs ?? 1000,
      retry: { retries: 10 },
    });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topic: opts.topic, fromBeginning: true });
    await consumer.run({
      // Committed at most once a second, all partitions in one request: kafkajs' auto-commit sends
      // an OffsetCommit after every partition's batch (a fetch over 32 partitions, up to 32).
      autoCommit: false,
      autoCommitInterval: REPLY_OFFSETS_COMMIT_INTERVAL_MS,
      eachBatchAutoResolve: true,
      eachBatch: async (payload) => {
        const { batch } = payload;
        const replies: Reply[] = [];
        for (const m of batch.messages) {
          const reply = parseReplyRecord(logRecordOf(batch.topic, batch.partition, m));
          if (reply !== undefined) replies.push(reply);
        }
        await opts.feed.take(replies);
        if (batch.messages.length > 0) payload.resolveOffset(batch.lastOffset());
        await payload.commitOffsetsIfNecessary();
      },
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
    this.consumer = undefined;
  }
}
