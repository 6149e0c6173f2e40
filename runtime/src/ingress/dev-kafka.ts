// Kafka ingresses and egresses in dev mode. Every topic of a Kafka ingress is a topic of the embedded
// log (or, with `statefun dev --kafka`, of a real broker) and its records are routed by the same
// function the production Kafka ingress uses, so they reach functions exactly as they would from
// Kafka. A batch's routed records, its watermark mark and the new read positions are one append to
// the embedded log: a crash neither loses a record nor moves one twice. Kafka egress records land in
// embedded topics of the same name; with a broker they are also forwarded to it (at least once).
import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';
import { watermarkRecords } from '../core/envelope.js';
import type { WatermarkMark } from '../core/watermarks.js';
import { ContinuumError } from '../errors.js';
import type { EmbeddedLog } from '../log/embedded-log.js';
import { createKafka, type KafkaConnection } from '../log/kafka/client.js';
import { groupByTopic, logRecordOf } from '../log/kafka/records.js';
import { KafkaTopicReader } from '../log/kafka/topic-reader.js';
import type { LogRecord, OutRecord } from '../log/log.js';
import type { Logger } from '../logger.js';
import type { KafkaIngressConfig, KafkaIngressTopic, ModuleConfig } from '../module/types.js';
import type { RuntimeObserver } from '../observers.js';
import { SourceWatermark } from './event-time.js';
import { routeIngressRecord } from '../core/ingress-routing.js';
import { emptyIngressStats, type IngressStats } from './kafka-ingress.js';

/** The embedded topic holding the read positions of the dev ingresses and egress forwarders. */
export const DEV_POSITIONS_TOPIC = 'continuum-dev.positions';

export interface DevKafkaOptions {
  module: ModuleConfig;
  log: EmbeddedLog;
  deadLetterTopic: string;
  logger: Logger;
  /** Tracing of the records moved; none when absent. */
  observer?: RuntimeObserver | undefined;
  /** Read ingress topics from and forward egress records to this Kafka cluster instead. */
  kafka?: KafkaConnection | undefined;
  /** Records moved per append at most. @defaultValue 500 */
  maxBatch?: number | undefined;
}

/** One record to write to an ingress topic (`statefun produce`, the admin API). */
export interface ProduceRecord {
  key: string | null;
  value: Uint8Array | null;
  headers?: Record<string, string> | undefined;
}

/** A Kafka topic of the module as the dashboard and `GET /v1/topics` show it. */
export interface DevTopicView {
  topic: string;
  /** Ingress ids reading it; `egress` when functions wrote to it. */
  roles: string[];
  partitions: number;
  /** Records in the topic (written since it was created; old ones may be dropped by retention). */
  records: number;
  /** Records moved into the internal log by its ingresses (this process, since start). */
  moved: number;
  /** Records dead-lettered by its ingresses (this process, since start). */
  deadLetters: number;
}

/** Records of a topic from a cursor (`GET /v1/topics/:topic/records`). */
export interface TopicPage {
  topic: string;
  records: LogRecord[];
  /** Cursor for the next page: `partition:offset` pairs. */
  next: string;
}

/** True for topics of the embedded log that stand for Kafka topics (not the runtime's own). */
function isReserved(topic: string, internal: readonly string[]): boolean {
  return (
    internal.includes(topic) ||
    topic.startsWith('continuum-playground.') ||
    topic.startsWith('continuum-dev.')
  );
}

/**
 * The read positions of the dev ingresses and forwarders. Every update is written with the records
 * it belongs to as one append whose position record holds all positions, so only the newest
 * position record matters and retention cannot drop a position that is still needed.
 */
class PositionBook {
  private readonly positions = new Map<string, number>();
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly log: EmbeddedLog) {}

  async load(): Promise<void> {
    await this.log.createTopic(DEV_POSITIONS_TOPIC, 1);
    const end = this.log.endOffset(DEV_POSITIONS_TOPIC, 0);
    if (end === 0) return;
    const [last] = this.log.readRange(DEV_POSITIONS_TOPIC, 0, end - 1, 1);
    if (last?.value == null) return;
    const saved = JSON.parse(Buffer.from(last.value).toString('utf8')) as Record<string, number>;
    for (const [k, v] of Object.entries(saved)) this.positions.set(k, v);
  }

  get(key: string): number | undefined {
    return this.positions.get(key);
  }

  /** Appends `records` and the updated positions atomically; one append at a time. */
  commit(records: readonly OutRecord[], updates: Record<string, number>): Promise<void> {
    const next = this.chain.then(async () => {
      const all = { ...Object.fromEntries(this.positions), ...updates };
      await this.log.append([
        ...records,
        {
          topic: DEV_POSITIONS_TOPIC,
          partition: 0,
          key: null,
          value: new TextEncoder().encode(JSON.stringify(all)),
        },
      ]);
      for (const [k, v] of Object.entries(updates)) this.positions.set(k, v);
    });
    this.chain = next.catch(() => undefined);
    return next;
  }
}

/** Moves the records of one ingress topic partition into the internal log. */
class IngressMover {
  readonly stats: IngressStats = emptyIngressStats();
  private readonly watermark: SourceWatermark;
  private readonly positionKey: string;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly owner: DevKafka,
    private readonly ingress: KafkaIngressConfig,
    private readonly route: KafkaIngressTopic,
    readonly partition: number,
    members: string,
    public next: number,
  ) {
    this.positionKey = `ingress|${ingress.id}|${route.topic}|${partition}`;
    this.watermark = new SourceWatermark(
      ingress.eventTime,
      { group: ingress.id, source: `${route.topic}/${partition}`, members },
      Date.now(),
    );
  }

  get ingressId(): string {
    return this.ingress.id;
  }

  get topic(): string {
    return this.route.topic;
  }

  /** Moves records (those before the read position are skipped: already moved). */
  move(records: readonly LogRecord[]): Promise<void> {
    const next = this.chain.then(() => this.moveNow(records));
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Writes the idle mark once the partition has been quiet for the idle timeout. */
  idleCheck(now: number, drained: boolean): Promise<void> {
    if (!drained || !this.watermark.idleDue(now)) return Promise.resolve();
    const next = this.chain.then(async () => {
      const mark = this.watermark.takeIdle(now);
      if (mark === undefined) return;
      try {
        await this.owner.book.commit(this.owner.markRecords(mark), {});
        this.stats.marks++;
      } catch (err) {
        this.watermark.unsent(mark);
        throw err;
      }
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async moveNow(records: readonly LogRecord[]): Promise<void> {
    const fresh = records.filter((r) => r.offset >= this.next);
    if (fresh.length === 0) return;
    const out: OutRecord[] = [];
    let dead = 0;
    const now = Date.now();
    const ended: ((err: unknown) => void)[] = [];
    for (const r of fresh) {
      const routed = routeIngressRecord(
        r,
        this.route,
        {
          internalTopic: this.owner.log.internalTopic,
          partitions: this.owner.log.partitions,
          partitioning: this.owner.log.partitioning,
          deadLetterTopic: this.owner.deadLetterTopic,
          ingressId: this.ingress.id,
          extractor: this.ingress.eventTime.extractor,
          observer: this.owner.observer,
        },
        now,
      );
      out.push(...routed.records);
      if (routed.observation?.ended !== undefined)
        ended.push(routed.observation.ended.bind(routed.observation));
      if (routed.deadLetter) dead++;
      else if (routed.eventTime !== undefined) this.watermark.observe(routed.eventTime, now);
    }
    const mark = this.watermark.takeMark();
    if (mark !== undefined) out.push(...this.owner.markRecords(mark));
    const next = fresh[fresh.length - 1]!.offset + 1;
    try {
      await this.owner.book.commit(out, { [this.positionKey]: next });
    } catch (err) {
      if (mark !== undefined) this.watermark.unsent(mark);
      for (const e of ended) e(err);
      throw err;
    }
    for (const e of ended) e(undefined);
    this.next = next;
    this.stats.transactions++;
    this.stats.moved += fresh.length - dead;
    this.stats.deadLetters += dead;
    if (mark !== undefined) this.stats.marks++;
  }
}

/** The Kafka topics of a module in dev mode: ingress movers, produce, read, and (with a broker) forwarding. */
export class DevKafka {
  readonly log: EmbeddedLog;
  readonly book: PositionBook;
  readonly deadLetterTopic: string;
  readonly observer: RuntimeObserver | undefined;
  private readonly opts: DevKafkaOptions;
  private readonly movers: IngressMover[] = [];
  /** Ingress topic → its routes (one per ingress reading it). */
  private readonly ingressTopics = new Map<
    string,
    { ingress: KafkaIngressConfig; route: KafkaIngressTopic }[]
  >();
  private readonly unsubscribe: (() => void)[] = [];
  private readonly draining = new Map<IngressMover, Promise<void>>();
  private idleTimer: NodeJS.Timeout | undefined;
  private kafka: Kafka | undefined;
  /** Kept connected: the dashboard asks for the topics' offsets every few seconds. */
  private admin: Admin | undefined;
  private consumer: Consumer | undefined;
  private producer: Producer | undefined;
  private readonly readers = new Map<string, KafkaTopicReader>();
  private readonly forwarding = new Map<string, Promise<void>>();
  private readonly forwardAgain = new Set<string>();
  private readonly egressTopics = new Set<string>();
  private forwarded = 0;
  private stopped = false;

  constructor(opts: DevKafkaOptions) {
    this.opts = opts;
    this.log = opts.log;
    this.book = new PositionBook(opts.log);
    this.deadLetterTopic = opts.deadLetterTopic;
    this.observer = opts.observer;
    for (const ingress of opts.module.kafkaIngresses) {
      for (const route of ingress.topics) {
        const list = this.ingressTopics.get(route.topic) ?? [];
        list.push({ ingress, route });
        this.ingressTopics.set(route.topic, list);
      }
    }
  }

  /** Where records of ingress and egress topics live: `embedded` or the broker list. */
  get mode(): 'embedded' | 'kafka' {
    return this.opts.kafka === undefined ? 'embedded' : 'kafka';
  }

  get brokers(): string[] {
    return this.opts.kafka?.brokers ?? [];
  }

  /** Counts per ingress, in the shape the metrics fold into their series. */
  ingressStats(): { id: string; stats: IngressStats }[] {
    const byId = new Map<string, IngressStats>();
    for (const m of this.movers) {
      const s = byId.get(m.ingressId) ?? emptyIngressStats();
      s.moved += m.stats.moved;
      s.deadLetters += m.stats.deadLetters;
      s.transactions += m.stats.transactions;
      s.marks += m.stats.marks;
      byId.set(m.ingressId, s);
    }
    return [...byId].map(([id, stats]) => ({ id, stats }));
  }

  async start(): Promise<void> {
    await this.book.load();
    if (this.opts.kafka === undefined) await this.startEmbedded();
    else await this.startKafka(this.opts.kafka);
    const intervals = this.opts.module.kafkaIngresses
      .map((i) => i.eventTime.idleTimeoutMs)
      .filter((ms) => ms > 0);
    if (intervals.length > 0) {
      this.idleTimer = setInterval(
        () => this.idleCheck(),
        Math.max(20, Math.min(1000, Math.min(...intervals) / 2)),
      );
      this.idleTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.idleTimer !== undefined) clearInterval(this.idleTimer);
    for (const u of this.unsubscribe.splice(0)) u();
    await this.consumer?.disconnect().catch(() => undefined);
    await Promise.all([...this.draining.values()].map((p) => p.catch(() => undefined)));
    await Promise.all([...this.forwarding.values()].map((p) => p.catch(() => undefined)));
    await this.producer?.disconnect().catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
    for (const r of this.readers.values()) await r.close();
  }

  /** Writes records to a Kafka ingress topic of the module; resolves once they are stored. */
  async produce(topic: string, records: readonly ProduceRecord[]): Promise<void> {
    if (!this.ingressTopics.has(topic)) {
      throw new ContinuumError(
        'TOPIC_UNKNOWN',
        `topic "${topic}" is not read by any Kafka ingress of the module; ingress topics: ${this.ingressTopicList()}`,
      );
    }
    if (this.producer !== undefined) {
      await this.producer.send({
        topic,
        acks: -1,
        messages: groupByTopic(records.map((r) => ({ topic, ...r })))[0]?.messages ?? [],
      });
      return;
    }
    await this.log.append(records.map((r) => ({ topic, key: r.key, value: r.value, headers: r.headers })));
  }

  /** The module's Kafka topics: its ingress topics and every topic a function has egressed to. */
  async topics(): Promise<DevTopicView[]> {
    const names = new Set<string>([...this.ingressTopics.keys()]);
    for (const t of this.kafkaTopicsInLog()) names.add(t.topic);
    for (const t of this.egressTopics) names.add(t);
    const views: DevTopicView[] = [];
    const admin = this.admin;
    for (const topic of [...names].sort()) {
      const ingresses = this.ingressTopics.get(topic)?.map((r) => r.ingress.id) ?? [];
      const inLog = this.log.topicNames().find((t) => t.topic === topic);
      const isEgress = this.egressTopics.has(topic) || (inLog !== undefined && ingresses.length === 0);
      let partitions = inLog?.partitions ?? 0;
      let records = 0;
      if (admin !== undefined) {
        const offsets = await admin.fetchTopicOffsets(topic).catch(() => []);
        partitions = offsets.length;
        records = offsets.reduce((n, o) => n + Number(o.high), 0);
      } else {
        for (let p = 0; p < partitions; p++) records += this.log.endOffset(topic, p);
      }
      const movers = this.movers.filter((m) => m.topic === topic);
      views.push({
        topic,
        roles: [...ingresses, ...(isEgress ? ['egress'] : [])],
        partitions,
        records,
        moved: movers.reduce((n, m) => n + m.stats.moved, 0),
        deadLetters: movers.reduce((n, m) => n + m.stats.deadLetters, 0),
      });
    }
    return views;
  }

  /**
   * Records of a Kafka topic of the module from `cursor` (`partition:offset` pairs, comma-separated;
   * partitions not named start at their first record), at most `limit`.
   */
  async read(topic: string, cursor: string | undefined, limit: number): Promise<TopicPage> {
    const from = parseCursor(cursor);
    const known =
      this.ingressTopics.has(topic) ||
      this.egressTopics.has(topic) ||
      this.kafkaTopicsInLog().some((t) => t.topic === topic);
    if (!known) {
      const all = [
        ...new Set([...this.ingressTopics.keys(), ...this.kafkaTopicsInLog().map((t) => t.topic)]),
      ];
      throw new ContinuumError(
        'TOPIC_UNKNOWN',
        `topic "${topic}" is neither an ingress topic of the module nor one a function has written to; known topics: ${all.length === 0 ? '(none)' : all.sort().join(', ')}`,
      );
    }
    const records: LogRecord[] = [];
    const next = new Map(from);
    if (this.kafka !== undefined) {
      const reader = this.readerFor(topic);
      const partitions = await reader.partitions();
      for (let p = 0; p < partitions && records.length < limit; p++) {
        const got = await reader.read(p, from.get(p) ?? 0, limit - records.length);
        records.push(...got);
        if (got.length > 0) next.set(p, got[got.length - 1]!.offset + 1);
      }
    } else {
      const partitions = this.log.topicNames().find((t) => t.topic === topic)?.partitions ?? 0;
      for (let p = 0; p < partitions && records.length < limit; p++) {
        const got = this.log.readRange(topic, p, from.get(p) ?? 0, limit - records.length);
        records.push(...got);
        if (got.length > 0) next.set(p, got[got.length - 1]!.offset + 1);
      }
    }
    return {
      topic,
      records,
      next: [...next]
        .sort(([a], [b]) => a - b)
        .map(([p, o]) => `${p}:${o}`)
        .join(','),
    };
  }

  /** The value type of an ingress topic (how its values decode), when one ingress reads it. */
  valueTypeOf(topic: string): string | undefined {
    return this.ingressTopics.get(topic)?.[0]?.route.valueType;
  }

  markRecords(mark: WatermarkMark): OutRecord[] {
    return watermarkRecords(this.log.internalTopic, this.log.partitions, mark, Date.now());
  }

  private ingressTopicList(): string {
    const names = [...this.ingressTopics.keys()].sort();
    return names.length === 0 ? '(the module has no Kafka ingress)' : names.join(', ');
  }

  private kafkaTopicsInLog(): { topic: string; partitions: number }[] {
    const own = [this.log.internalTopic, this.deadLetterTopic];
    return this.log.topicNames().filter((t) => !isReserved(t.topic, own));
  }

  private readerFor(topic: string): KafkaTopicReader {
    let reader = this.readers.get(topic);
    if (reader === undefined) {
      // A bounded set of readers: the oldest is closed when another topic is asked for.
      if (this.readers.size >= 16) {
        const [oldest, r] = this.readers.entries().next().value!;
        this.readers.delete(oldest);
        void r.close();
      }
      reader = new KafkaTopicReader(this.kafka!, topic, this.opts.logger);
      this.readers.set(topic, reader);
    }
    return reader;
  }

  private members(ingress: KafkaIngressConfig, partitionsOf: (topic: string) => number): string {
    return ingress.topics
      .map((t) => `${t.topic}:${partitionsOf(t.topic)}`)
      .sort()
      .join(',');
  }

  private async startEmbedded(): Promise<void> {
    for (const topic of this.ingressTopics.keys()) await this.log.createTopic(topic, 1);
    const partitionsOf = (topic: string): number =>
      this.log.topicNames().find((t) => t.topic === topic)?.partitions ?? 1;
    for (const ingress of this.opts.module.kafkaIngresses) {
      for (const route of ingress.topics) {
        for (let p = 0; p < partitionsOf(route.topic); p++) {
          const start = this.book.get(`ingress|${ingress.id}|${route.topic}|${p}`);
          const offset = start ?? this.embeddedInitialOffset(ingress, route.topic, p);
          const mover = new IngressMover(
            this,
            ingress,
            route,
            p,
            this.members(ingress, partitionsOf),
            offset,
          );
          this.addMover(mover);
          this.unsubscribe.push(
            this.log.onAppend(route.topic, p, () => this.drainEmbedded(route.topic, mover)),
          );
          this.drainEmbedded(route.topic, mover);
        }
      }
    }
    // Egress topics are known once a function writes to them.
    for (const t of this.kafkaTopicsInLog())
      if (!this.ingressTopics.has(t.topic)) this.egressTopics.add(t.topic);
    this.unsubscribe.push(
      this.log.onAnyAppend((topic) => {
        if (
          !this.ingressTopics.has(topic) &&
          !isReserved(topic, [this.log.internalTopic, this.deadLetterTopic])
        )
          this.egressTopics.add(topic);
      }),
    );
  }

  private addMover(mover: IngressMover): void {
    this.movers.push(mover);
  }

  /** Where an ingress starts reading a partition it has never read, per its startup position. */
  private embeddedInitialOffset(ingress: KafkaIngressConfig, topic: string, p: number): number {
    const low = this.log.startOffset(topic, p);
    const high = this.log.endOffset(topic, p);
    return initialOffset(ingress, topic, p, low, high, (ms) => {
      for (let at = low; at < high; at += 1000) {
        for (const r of this.log.readRange(topic, p, at, 1000)) if (r.timestamp >= ms) return r.offset;
      }
      return high;
    });
  }

  private drainEmbedded(topic: string, mover: IngressMover): void {
    if (this.stopped || this.draining.has(mover)) return;
    const run = (async () => {
      const max = this.opts.maxBatch ?? 500;
      for (;;) {
        if (this.stopped) return;
        const batch = this.log.readRange(topic, mover.partition, mover.next, max);
        if (batch.length === 0) return;
        await mover.move(batch);
      }
    })()
      .catch((err: unknown) => {
        this.opts.logger.error('moving dev ingress records failed; they are moved on the next write', {
          topic,
          err,
        });
      })
      .finally(() => this.draining.delete(mover));
    this.draining.set(mover, run);
  }

  private idleCheck(): void {
    const now = Date.now();
    for (const m of this.movers) {
      const drained = this.opts.kafka !== undefined || m.next >= this.log.endOffset(m.topic, m.partition);
      m.idleCheck(now, drained).catch((err: unknown) =>
        this.opts.logger.warn('writing an idle watermark mark failed; it is tried again', { err }),
      );
    }
  }

  private async startKafka(connection: KafkaConnection): Promise<void> {
    const kafka = createKafka(connection, this.opts.logger);
    this.kafka = kafka;
    const admin = kafka.admin();
    this.admin = admin;
    await admin.connect();
    const topics = [...this.ingressTopics.keys()];
    const offsets = new Map<string, { partition: number; low: number; high: number }[]>();
    try {
      if (topics.length > 0) {
        // Ingress topics are created like a broker with auto-creation would: one partition.
        const existing = new Set(await admin.listTopics());
        const missing = topics.filter((t) => !existing.has(t));
        if (missing.length > 0) {
          await admin.createTopics({
            topics: missing.map((topic) => ({ topic, numPartitions: 1 })),
            waitForLeaders: true,
          });
        }
      }
      for (const t of topics) {
        const o = await admin.fetchTopicOffsets(t);
        offsets.set(
          t,
          o.map((x) => ({ partition: x.partition, low: Number(x.low), high: Number(x.high) })),
        );
      }
      const partitionsOf = (topic: string): number => offsets.get(topic)?.length ?? 1;
      for (const ingress of this.opts.module.kafkaIngresses) {
        for (const route of ingress.topics) {
          for (const { partition, low, high } of offsets.get(route.topic) ?? []) {
            let start = this.book.get(`ingress|${ingress.id}|${route.topic}|${partition}`);
            if (start === undefined) {
              let byTime: number | undefined;
              if (ingress.startupPosition.type === 'date') {
                const found = await admin.fetchTopicOffsetsByTimestamp(
                  route.topic,
                  ingress.startupPosition.epochMs,
                );
                const o = Number(found.find((f) => f.partition === partition)?.offset ?? -1);
                byTime = o < 0 ? high : o;
              }
              start = initialOffset(ingress, route.topic, partition, low, high, () => byTime ?? high);
            }
            this.addMover(
              new IngressMover(this, ingress, route, partition, this.members(ingress, partitionsOf), start),
            );
          }
        }
      }
    } catch (err) {
      await admin.disconnect().catch(() => undefined);
      throw err;
    }
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: true,
    });
    await this.producer.connect();
    if (topics.length > 0) {
      // A private group that never commits: where to read is the embedded log's business, so
      // reading starts at the beginning and the movers skip what they have already moved.
      const consumer = kafka.consumer({
        groupId: `continuum-dev-${randomUUID()}`,
        readUncommitted: false,
        maxWaitTimeInMs: 100,
      });
      this.consumer = consumer;
      await consumer.connect();
      await consumer.subscribe({ topics, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const movers = this.movers.filter(
            (m) => m.partition === batch.partition && m.topic === batch.topic,
          );
          const records = batch.messages.map((m) => logRecordOf(batch.topic, batch.partition, m, true));
          for (const m of movers) await m.move(records);
        },
      });
    }
    // Egress records a function writes go to the broker; what the embedded log held before this
    // session was not meant for it.
    for (const t of this.kafkaTopicsInLog()) {
      this.egressTopics.add(t.topic);
      for (let p = 0; p < t.partitions; p++) {
        if (this.book.get(`egress|${t.topic}|${p}`) === undefined)
          await this.book.commit([], { [`egress|${t.topic}|${p}`]: this.log.endOffset(t.topic, p) });
      }
      this.forward(t.topic);
    }
    this.unsubscribe.push(
      this.log.onAnyAppend((topic) => {
        if (isReserved(topic, [this.log.internalTopic, this.deadLetterTopic])) return;
        this.egressTopics.add(topic);
        this.forward(topic);
      }),
    );
  }

  /** Forwards an egress topic's new embedded records to the broker (at least once). */
  private forward(topic: string): void {
    if (this.stopped) return;
    if (this.forwarding.has(topic)) {
      this.forwardAgain.add(topic);
      return;
    }
    const run = (async () => {
      const partitions = this.log.topicNames().find((t) => t.topic === topic)?.partitions ?? 0;
      for (let p = 0; p < partitions; p++) {
        const key = `egress|${topic}|${p}`;
        for (;;) {
          if (this.stopped) return;
          const from = this.book.get(key) ?? this.log.startOffset(topic, p);
          const batch = this.log.readRange(topic, p, from, this.opts.maxBatch ?? 500);
          if (batch.length === 0) break;
          await this.producer!.send({
            topic,
            acks: -1,
            messages: groupByTopic(batch.map(({ partition: _, ...r }) => r))[0]!.messages,
          });
          await this.book.commit([], { [key]: batch[batch.length - 1]!.offset + 1 });
          this.forwarded += batch.length;
        }
      }
    })()
      .catch((err: unknown) => {
        this.opts.logger.error('forwarding egress records to Kafka failed; retried on the next write', {
          topic,
          err,
        });
      })
      .finally(() => {
        this.forwarding.delete(topic);
        if (this.forwardAgain.delete(topic)) this.forward(topic);
      });
    this.forwarding.set(topic, run);
  }
}

function initialOffset(
  ingress: KafkaIngressConfig,
  topic: string,
  partition: number,
  low: number,
  high: number,
  atTime: (ms: number) => number,
): number {
  const pos = ingress.startupPosition;
  const reset = ingress.autoOffsetResetPosition === 'earliest' ? low : high;
  switch (pos.type) {
    case 'earliest':
      return low;
    case 'latest':
      return high;
    case 'group-offsets':
      return reset;
    case 'specific-offsets': {
      const given = pos.offsets[`${topic}/${partition}`];
      return given === undefined ? reset : Math.min(Math.max(given, low), high);
    }
    case 'date':
      return atTime(pos.epochMs);
  }
}

function parseCursor(cursor: string | undefined): Map<number, number> {
  const out = new Map<number, number>();
  if (cursor === undefined || cursor.trim() === '') return out;
  for (const part of cursor.split(',')) {
    const m = /^(\d+):(\d+)$/.exec(part.trim());
    if (m === null) {
      throw new ContinuumError(
        'CURSOR_INVALID',
        `cursor "${cursor}" is not a list of partition:offset pairs (e.g. 0:12,1:3)`,
      );
    }
    out.set(Number(m[1]), Number(m[2]));
  }
  return out;
}
