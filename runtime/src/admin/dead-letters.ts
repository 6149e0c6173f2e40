// The dead-letter topic as the admin API shows it: follows the topic through the log's reader,
// keeps the newest letters and counts per code in bounded memory, and replays a letter to its
// target (or another address) as a fresh message. Each replay is recorded in the topic itself
// (a replay record after the letter, in its partition), so a second replay is refused after a
// restart too, in dev (embedded log on disk) and in production (Kafka).
import type { Address, TypedValue } from '@continuum/sdk/protocol';
import { decodeTypedValue } from '@continuum/sdk/protocol';
import { parseAddressKey } from '../core/address.js';
import type { DeadLetterCode } from '../core/dead-letter-codes.js';
import { Header } from '../core/envelope.js';
import { ContinuumError, type ErrorCode } from '../errors.js';
import type { Log, LogRecord, TopicReader } from '../log/log.js';
import type { IngressMessage } from '../observers.js';
import { describeValue } from './describe-value.js';

/** Where a replayed letter goes: the runtime, as a message from outside. */
export interface MessageSender {
  send(messages: readonly IngressMessage[], source?: string): Promise<void>;
}

/** A dead letter as the admin API returns it. */
export interface DeadLetterView {
  /** `<partition>-<offset>` in the dead-letter topic: what replay takes. */
  id: string;
  partition: number;
  offset: number;
  /** Stable code, e.g. FUNCTION_CALL_FAILED, FUNCTION_UNKNOWN, INGRESS_KEY_MISSING. */
  code: string;
  reason: string;
  failedAt: string | undefined;
  /** `topic/partition@offset` of the record that failed. */
  source: string | undefined;
  /** The address the message was for (absent for effects and ingress records without one). */
  target: string | undefined;
  caller: string | undefined;
  typename: string | undefined;
  eventTime: number | undefined;
  key: string | null;
  /** The message's value: decoded when it is a primitive or JSON, always as base64. */
  value: { value?: unknown; base64: string } | undefined;
  /** True when the letter names a target and carries a message that can be sent again. */
  replayable: boolean;
  /** True once the letter was replayed (recorded in the topic, so also by an earlier process). */
  replayed: boolean;
  /** When it was last replayed (ISO-8601), if it was. */
  replayedAt?: string | undefined;
}

/**
 * Headers of the record a replay appends to the dead-letter topic, after the letter in the same
 * partition: its id, when, and to which address. Such records carry no value and are not letters.
 */
export const ReplayHeader = {
  of: 'continuum.dlq.replay-of',
  at: 'continuum.dlq.replayed-at',
  target: 'continuum.dlq.replay-target',
} as const;

/** A recorded replay of a letter. */
export interface ReplayRecord {
  at: string;
  target: string;
}

/** Options of {@link DeadLetters}. */
export interface DeadLettersOptions {
  log: Log;
  topic: string;
  /** Letters whose source is this topic carry the encoded message (TypedValue) as their value. */
  internalTopic: string;
  /** Newest letters kept for listing. @defaultValue 1000 */
  capacity?: number | undefined;
}

const readChunk = 500;
/** Reads per refresh: a long backlog is caught up over several refreshes, not in one request. */
const readsPerRefresh = 40;
const partitionsTtlMs = 30_000;
const maxCodes = 256;
/** Replays remembered in memory; older ones are found by scanning the topic after their letter. */
const maxReplayed = 10_000;
/** How long a replay waits for the reader to reach the end of the letter's partition. */
const caughtUpTimeoutMs = 15_000;
/** Replays handled at once (each reads the topic and sends a message). */
const maxReplaysInFlight = 16;

/** Thrown for ids that name no letter, or letters that cannot be replayed as asked. */
export class DeadLetterError extends ContinuumError {
  constructor(
    code: Extract<ErrorCode, `DEAD_LETTER_${string}`>,
    message: string,
    /** For DEAD_LETTER_ALREADY_REPLAYED: the earlier replay. */
    readonly previous?: ReplayRecord,
  ) {
    super(code, message, {
      retryable: code === 'DEAD_LETTER_REPLAYS_BUSY' || code === 'DEAD_LETTER_TOPIC_BEHIND',
    });
  }
}

export class DeadLetters {
  private readonly reader: TopicReader;
  private readonly capacity: number;
  private readonly cursors = new Map<number, number>();
  private readonly byCode = new Map<string, number>();
  /** Replays read from the topic or made here, by letter id, oldest first (bounded). */
  private readonly replays = new Map<string, ReplayRecord>();
  /** True once `replays` dropped an entry: a miss must then be checked in the topic. */
  private replaysForgotten = false;
  private readonly replaying = new Set<string>();
  private recent: DeadLetterView[] = [];
  private seen = 0;
  private partitionCount: { n: number; at: number } | undefined;
  private refreshing: Promise<void> | undefined;

  constructor(private readonly opts: DeadLettersOptions) {
    this.reader = opts.log.reader(opts.topic);
    this.capacity = opts.capacity ?? 1000;
  }

  get topic(): string {
    return this.opts.topic;
  }

  /** Reads letters written since the last refresh (at most a bounded number per call). */
  refresh(): Promise<void> {
    this.refreshing ??= this.catchUp().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /**
   * Letters seen in the topic, newest first, optionally of one code. `total` and `byCode` count
   * every letter read since this process started following the topic.
   */
  async list(opts: { limit: number; code?: DeadLetterCode | undefined }): Promise<{
    topic: string;
    total: number;
    byCode: Record<string, number>;
    items: DeadLetterView[];
  }> {
    await this.refresh();
    // Newest first by failure time (partitions of the topic interleave in time).
    const items = this.recent
      .filter((v) => opts.code === undefined || v.code === opts.code)
      .sort((a, b) => (b.failedAt ?? '').localeCompare(a.failedAt ?? '') || b.offset - a.offset)
      .slice(0, opts.limit)
      .map((v) => {
        const replay = this.replays.get(v.id);
        return { ...v, replayed: replay !== undefined, replayedAt: replay?.at };
      });
    return { topic: this.opts.topic, total: this.seen, byCode: Object.fromEntries(this.byCode), items };
  }

  /** The raw record of a letter. */
  async record(id: string): Promise<LogRecord> {
    const { partition, offset } = parseId(id);
    const [record] = await this.reader.read(partition, offset, 1);
    if (record?.offset !== offset || replayOf(record) !== undefined) {
      throw new DeadLetterError(
        'DEAD_LETTER_NOT_FOUND',
        `no dead letter ${id} (partition ${partition}, offset ${offset}) in topic ${this.opts.topic}; list them with GET /v1/dead-letters`,
      );
    }
    return record;
  }

  /**
   * Sends a letter's message again, as a new message through `runtime.send`, to the letter's
   * target or to `override.target`, then records the replay in the topic. The letter stays in the
   * topic. A letter replayed before (by this or an earlier process) is refused with
   * `DEAD_LETTER_ALREADY_REPLAYED` unless `force`. A crash between the send and the record can
   * leave a replay unrecorded; the record is written before the caller hears of success.
   */
  async replay(
    runtime: MessageSender,
    id: string,
    override: { target?: string | undefined; typename?: string | undefined } = {},
    options: { force?: boolean | undefined } = {},
  ): Promise<{ id: string; target: string; typename: string; replayedAt: string; previous?: ReplayRecord }> {
    const { partition, offset } = parseId(id);
    if (this.replaying.has(id)) {
      throw new DeadLetterError(
        'DEAD_LETTER_REPLAY_IN_PROGRESS',
        `dead letter ${id} is being replayed by another request right now; list it again to see when it was replayed`,
      );
    }
    if (this.replaying.size >= maxReplaysInFlight) {
      throw new DeadLetterError(
        'DEAD_LETTER_REPLAYS_BUSY',
        `${maxReplaysInFlight} replays are in progress; retry in a moment`,
      );
    }
    this.replaying.add(id);
    try {
      // A reader that has not yet read the whole partition (Kafka, just after a start) could
      // miss the letter or its earlier replay.
      if (this.reader.caughtUp !== undefined && !(await this.reader.caughtUp(partition, caughtUpTimeoutMs))) {
        throw new DeadLetterError(
          'DEAD_LETTER_TOPIC_BEHIND',
          `partition ${partition} of ${this.opts.topic} is still being read, so an earlier replay of ${id} ` +
            'may not be known yet; retry in a few seconds',
        );
      }
      const record = await this.record(id);
      const previous = await this.previousReplay(id, partition, offset);
      if (previous !== undefined && options.force !== true) {
        throw new DeadLetterError(
          'DEAD_LETTER_ALREADY_REPLAYED',
          `dead letter ${id} was already replayed at ${previous.at} (to ${previous.target}); replaying it again ` +
            'would deliver its message a second time: add ?force=true to do that anyway',
          previous,
        );
      }
      const sent = await this.send(runtime, id, record, override);
      const at = new Date().toISOString();
      await this.opts.log.append([
        {
          topic: this.opts.topic,
          partition,
          key: id,
          value: null,
          headers: { [ReplayHeader.of]: id, [ReplayHeader.at]: at, [ReplayHeader.target]: sent.target },
        },
      ]);
      this.remember(id, { at, target: sent.target });
      return { id, ...sent, replayedAt: at, ...(previous === undefined ? {} : { previous }) };
    } finally {
      this.replaying.delete(id);
    }
  }

  private async send(
    runtime: MessageSender,
    id: string,
    record: LogRecord,
    override: { target?: string | undefined; typename?: string | undefined },
  ): Promise<{ target: string; typename: string }> {
    const targetKey = override.target ?? record.headers[Header.target];
    if (targetKey === undefined) {
      throw new DeadLetterError(
        'DEAD_LETTER_NOT_REPLAYABLE',
        `dead letter ${id} (${record.headers[Header.code] ?? 'no code'}) names no target address; ` +
          'give one in the request body: {"target": "namespace/type/id"}',
      );
    }
    let target: Address;
    try {
      target = parseAddressKey(targetKey);
    } catch (err) {
      throw new DeadLetterError(
        'DEAD_LETTER_NOT_REPLAYABLE',
        `target "${targetKey}" of dead letter ${id} is not an address namespace/type/id: ${(err as Error).message}`,
      );
    }
    const argument = this.argumentOf(record, override.typename);
    if (argument === undefined) {
      throw new DeadLetterError(
        'DEAD_LETTER_NOT_REPLAYABLE',
        `dead letter ${id} carries no message to send (no value or no type name); ` +
          'give the type in the request body: {"typename": "namespace/Type"}',
      );
    }
    const eventTime = Number(record.headers[Header.eventTime]);
    await runtime.send(
      [{ target, argument, eventTime: Number.isFinite(eventTime) ? eventTime : undefined }],
      'replay',
    );
    return { target: targetKey, typename: argument.typename };
  }

  /**
   * The last recorded replay of a letter. Replay records follow their letter in its partition:
   * those before the reading position are in memory (unless forgotten); the rest are scanned.
   */
  private async previousReplay(
    id: string,
    partition: number,
    offset: number,
  ): Promise<ReplayRecord | undefined> {
    let found = this.replays.get(id);
    const from = this.replaysForgotten ? offset + 1 : Math.max(offset + 1, this.cursors.get(partition) ?? 0);
    for (let at = from; ;) {
      const records = await this.reader.read(partition, at, readChunk);
      for (const r of records) {
        const replay = replayOf(r);
        if (replay?.id === id) found = replay.record;
      }
      const last = records.at(-1);
      if (last === undefined || records.length < readChunk) return found;
      at = last.offset + 1;
    }
  }

  private remember(id: string, record: ReplayRecord): void {
    this.replays.delete(id);
    this.replays.set(id, record);
    if (this.replays.size > maxReplayed) {
      const oldest = this.replays.keys().next().value;
      if (oldest !== undefined) this.replays.delete(oldest);
      this.replaysForgotten = true;
    }
  }

  private argumentOf(record: LogRecord, typename: string | undefined): TypedValue | undefined {
    if (record.value === null) return undefined;
    // Letters of internal messages keep the internal record's value: the encoded TypedValue.
    if (typename === undefined && this.fromInternal(record)) {
      try {
        return decodeTypedValue(record.value);
      } catch {
        // Undecodable (that may be why it is here): fall through to the raw bytes.
      }
    }
    const name = typename ?? record.headers[Header.typename];
    return name === undefined ? undefined : { typename: name, hasValue: true, value: record.value };
  }

  private fromInternal(record: LogRecord): boolean {
    return record.headers[Header.source]?.startsWith(`${this.opts.internalTopic}/`) === true;
  }

  private async catchUp(): Promise<void> {
    const partitions = await this.partitions();
    let reads = 0;
    for (let p = 0; p < partitions; p++) {
      for (;;) {
        if (reads++ >= readsPerRefresh) return;
        const from = this.cursors.get(p) ?? 0;
        const records = await this.reader.read(p, from, readChunk);
        for (const r of records) this.add(r);
        const last = records.at(-1);
        if (last !== undefined) this.cursors.set(p, last.offset + 1);
        if (records.length < readChunk) break;
      }
    }
  }

  private async partitions(): Promise<number> {
    const now = Date.now();
    // Counting partitions can cost a metadata round trip (Kafka); a count found is kept a while.
    if (
      this.partitionCount !== undefined &&
      this.partitionCount.n > 0 &&
      now - this.partitionCount.at < partitionsTtlMs
    )
      return this.partitionCount.n;
    const n = await this.reader.partitions();
    this.partitionCount = { n, at: now };
    return n;
  }

  private add(r: LogRecord): void {
    const replay = replayOf(r);
    if (replay !== undefined) {
      this.remember(replay.id, replay.record);
      return;
    }
    this.seen++;
    const view = this.view(r);
    const code = this.byCode.has(view.code) || this.byCode.size < maxCodes ? view.code : '_other';
    this.byCode.set(code, (this.byCode.get(code) ?? 0) + 1);
    this.recent.push(view);
    if (this.recent.length > this.capacity) this.recent.splice(0, this.recent.length - this.capacity);
  }

  private view(r: LogRecord): DeadLetterView {
    const h = r.headers;
    const eventTime = Number(h[Header.eventTime]);
    let value: DeadLetterView['value'];
    let typename = h[Header.typename];
    if (r.value !== null) {
      const argument = this.fromInternal(r) ? tryDecode(r.value) : undefined;
      if (argument !== undefined) {
        typename ??= argument.typename;
        value = describeValue(argument.typename, argument.value);
      } else {
        value = describeValue(typename ?? '', r.value);
      }
    }
    const id = `${r.partition}-${r.offset}`;
    return {
      id,
      partition: r.partition,
      offset: r.offset,
      code: h[Header.code] ?? 'UNKNOWN',
      reason: h[Header.reason] ?? '',
      failedAt: h[Header.failedAt],
      source: h[Header.source],
      target: h[Header.target],
      caller: h[Header.caller],
      typename,
      eventTime: Number.isFinite(eventTime) ? eventTime : undefined,
      key: r.key,
      value,
      replayable: h[Header.target] !== undefined && r.value !== null && typename !== undefined,
      replayed: false,
    };
  }
}

function replayOf(r: LogRecord): { id: string; record: ReplayRecord } | undefined {
  const id = r.headers[ReplayHeader.of];
  if (id === undefined) return undefined;
  return {
    id,
    record: {
      at: r.headers[ReplayHeader.at] ?? new Date(r.timestamp).toISOString(),
      target: r.headers[ReplayHeader.target] ?? 'unknown',
    },
  };
}

function tryDecode(bytes: Uint8Array): TypedValue | undefined {
  try {
    return decodeTypedValue(bytes);
  } catch {
    return undefined;
  }
}

function parseId(id: string): { partition: number; offset: number } {
  const m = /^(\d+)-(\d+)$/.exec(id);
  if (m === null) {
    throw new DeadLetterError(
      'DEAD_LETTER_ID_INVALID',
      `"${id}" is not a dead-letter id (<partition>-<offset>, as GET /v1/dead-letters lists them)`,
    );
  }
  return { partition: Number(m[1]), offset: Number(m[2]) };
}
