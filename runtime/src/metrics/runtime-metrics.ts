// Metrics of one runtime process: the Prometheus series behind `/metrics` (prom-client, a registry
// of its own) and the bounded figures and history the dashboard shows. Fed by the partition-task
// observer, the HTTP function client's callbacks and what the runtime sends; gauges are read from
// the running tasks when scraped.
import type { BulkheadLoad } from '../transport/bulkheads.js';
import type { FromFunction } from '@continuum/sdk/protocol';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { PartitionTask } from '../core/partition-task.js';
import { ContinuumError } from '../errors.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import type {
  AttemptEvent,
  BatchObservation,
  CallEvent,
  IngressMessage,
  ObservedBatch,
  ObservedCheckpoint,
  RuntimeObserver,
  SendObservation,
} from '../observers.js';
import { CachedCounter as Counter, CachedHistogram as Histogram } from './cached-series.js';
import { EndpointHealth } from './endpoint-health.js';
import { BoundedLabels, quantile, Reservoir, Ring } from './windows.js';

/** Where the scrape-time gauges come from; set once the runtime exists ({@link RuntimeMetrics.attach}). */
export interface MetricsSources {
  /** The running partition tasks of this process. */
  tasks(): readonly PartitionTask[];
  /** Partitions assigned here whose task is recovering or waiting to restart. */
  recovering?(): readonly number[];
  /** True once every assigned partition runs. */
  ready?(): boolean;
  /** Calls holding an in-flight slot of the function client, and calls waiting for one. */
  clientLoad?(): { inFlight: number; queued: number; endpoints?: BulkheadLoad[] };
  /** End offsets of internal-topic partitions, for consumer lag. */
  endOffsets?(partitions: readonly number[]): Promise<ReadonlyMap<number, number>>;
  /** Kafka ingresses of this process and their running counts. */
  ingresses?(): readonly {
    id: string;
    stats: { moved: number; deadLetters: number; handedOver?: number; handOverRestarts?: number };
  }[];
}

/** Options of {@link RuntimeMetrics}. */
export interface RuntimeMetricsOptions {
  /** Internal message topic: its committed records count as internal messages, not egress. */
  internalTopic: string;
  /** Dead-letter topic: its committed records count as dead letters, not egress. */
  deadLetterTopic: string;
  /** prom-client's process series (memory, CPU, event-loop lag, GC). @defaultValue true */
  processMetrics?: boolean | undefined;
  /**
   * Distinct values kept per label (function types, endpoints, topics, codes); further values are
   * counted under `_other` so a stream of new names cannot grow memory without bound.
   * @defaultValue 256
   */
  maxLabelValues?: number | undefined;
  /** How often the dashboard history takes a sample. @defaultValue 2000 */
  sampleIntervalMs?: number | undefined;
  /** Samples kept (the history spans `sampleIntervalMs × historyPoints`). @defaultValue 180 */
  historyPoints?: number | undefined;
  /** Consumer-lag offsets are fetched at most this often. @defaultValue 1000 */
  lagCacheMs?: number | undefined;
  logger?: Logger | undefined;
}

/** One partition owned by this process, as the admin API and the dashboard show it. */
export interface PartitionFigures {
  partition: number;
  /** `running`, or `recovering` (claiming, replaying, or waiting to restart after a failure). */
  status: 'running' | 'recovering';
  /** Offset of the internal partition committed by the last checkpoint. */
  committedOffset: number | undefined;
  /** Next offset to be written to the internal partition (undefined when it could not be read). */
  endOffset: number | undefined;
  /** endOffset − committedOffset: records not yet covered by a checkpoint. */
  lag: number | undefined;
  /** Records received and not yet complete (in mailboxes or in flight). */
  mailbox: number;
  inFlight: number;
  /** True while the task pauses its consumer (backpressure). */
  paused: boolean;
  /** Pending processing-time delayed messages. */
  delayedMessages: number;
  /** Pending event-time timers (they fire when the watermark passes them). */
  eventTimers: number;
  /** Event-time watermark (ms since the epoch); undefined while the partition has none yet. */
  watermark: number | undefined;
  cachedAddresses: number;
  checkpoints: number;
  lastCheckpointMs: number;
  deadLetters: number;
}

/** Per function type, since the process started (latency over the last 512 calls). */
export interface FunctionFigures {
  functionType: string;
  invocations: number;
  batches: number;
  /** Messages dead-lettered because their call failed. */
  failedMessages: number;
  failedBatches: number;
  retries: number;
  errorRate: number;
  p50Ms: number | undefined;
  p99Ms: number | undefined;
}

/** Per endpoint URL, since the process started. */
export interface EndpointFigures {
  url: string;
  calls: number;
  failures: number;
  failedAttempts: number;
  errorRate: number;
  lastError: { code: string; message: string; at: string } | undefined;
}

/** One sample of the dashboard history: rates per second over the preceding interval. */
export interface HistoryPoint {
  /** Sample time, ms since the epoch. */
  t: number;
  ingress: number;
  invocations: number;
  egress: number;
  deadLetters: number;
  failures: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

interface Totals {
  ingress: number;
  invocations: number;
  egress: number;
  deadLetters: number;
  failures: number;
}

interface FunctionAgg {
  invocations: number;
  batches: number;
  failedMessages: number;
  failedBatches: number;
  retries: number;
  latencies: Ring<number>;
}

interface EndpointAgg {
  calls: number;
  failures: number;
  failedAttempts: number;
  lastError: { code: string; message: string; at: string } | undefined;
}

const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const batchBuckets = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];
const recordBuckets = [1, 10, 100, 500, 1000, 5000, 10_000, 50_000];
const byteBuckets = [1024, 16_384, 131_072, 1_048_576, 8_388_608, 67_108_864];
const maxErrorMessage = 300;

/**
 * The metrics of one runtime process.
 *
 * @example
 * ```ts
 * const metrics = new RuntimeMetrics({ internalTopic, deadLetterTopic });
 * const client = new HttpFunctionClient(metrics.clientCallbacks());
 * const runtime = new Runtime({ ...opts, client, observer: metrics.observer });
 * metrics.attach({ tasks: () => runtime.runningTasks() });
 * const text = await metrics.registry.metrics();
 * ```
 */
export class RuntimeMetrics {
  /** The prom-client registry `/metrics` serves. */
  readonly registry = new Registry();
  /** Observer of the runtime and its partition tasks. */
  readonly observer: RuntimeObserver;
  /** When the process started measuring (ms since the epoch). */
  readonly startedAt = Date.now();
  /** Failing and stalled function endpoints: WARN lines and health problems within seconds. */
  readonly endpointHealth: EndpointHealth;

  private readonly opts: Required<Omit<RuntimeMetricsOptions, 'logger'>>;
  private readonly log: Logger;
  private sources: MetricsSources = { tasks: () => [] };
  private readonly fnLabels: BoundedLabels;
  private readonly urlLabels: BoundedLabels;
  private readonly topicLabels: BoundedLabels;
  private readonly codeLabels: BoundedLabels;
  private readonly sourceLabels: BoundedLabels;

  private readonly ingressMessages: Counter<'source'>;
  private readonly ingressHandedOver: Counter<'source'>;
  private readonly ingressHandOffRestarts: Counter<'source'>;
  private readonly ingressDeadLetters: Counter<'source'>;
  private readonly invocations: Counter<'function_type'>;
  private readonly effects: Counter<'function_type' | 'kind'>;
  private readonly failures: Counter<'function_type' | 'code'>;
  private readonly retries: Counter<'function_type' | 'reason'>;
  private readonly invocationSeconds: Histogram<'function_type'>;
  private readonly batchSize: Histogram<'function_type'>;
  private readonly endpointCalls: Counter<'endpoint' | 'result'>;
  private readonly attemptFailures: Counter<'endpoint' | 'kind'>;
  private readonly deadLetters: Counter<'code'>;
  private readonly committed: Counter<'kind'>;
  private readonly egressRecords: Counter<'topic'>;
  private readonly checkpoints: Counter;
  private readonly checkpointSeconds: Histogram;
  private readonly checkpointRecords: Histogram;
  private readonly checkpointBytes: Histogram;
  private readonly cacheLookups: Counter<'result'>;

  private readonly totals: Totals = { ingress: 0, invocations: 0, egress: 0, deadLetters: 0, failures: 0 };
  private lastSample: Totals = { ...this.totals };
  private readonly windowLatency = new Reservoir(1024);
  private readonly history: Ring<HistoryPoint>;
  private readonly functions = new Map<string, FunctionAgg>();
  private readonly endpoints = new Map<string, EndpointAgg>();
  private readonly deadLettersByCode = new Map<string, number>();
  private readonly endpointByUrl = new Map<string, string>();
  private readonly ingressSeen = new Map<
    string,
    { moved: number; deadLetters: number; handedOver: number; restarts: number }
  >();
  private cacheHits = 0;
  private cacheMisses = 0;
  private lag: { at: number; offsets: ReadonlyMap<number, number>; pending?: Promise<void> | undefined } = {
    at: 0,
    offsets: new Map(),
  };
  private sampler: NodeJS.Timeout | undefined;

  constructor(options: RuntimeMetricsOptions) {
    this.opts = {
      internalTopic: options.internalTopic,
      deadLetterTopic: options.deadLetterTopic,
      processMetrics: options.processMetrics ?? true,
      maxLabelValues: options.maxLabelValues ?? 256,
      sampleIntervalMs: options.sampleIntervalMs ?? 2000,
      historyPoints: options.historyPoints ?? 180,
      lagCacheMs: options.lagCacheMs ?? 1000,
    };
    this.log = options.logger ?? silentLogger;
    this.endpointHealth = new EndpointHealth(this.log);
    const max = this.opts.maxLabelValues;
    this.fnLabels = new BoundedLabels(max);
    this.urlLabels = new BoundedLabels(max);
    this.topicLabels = new BoundedLabels(max);
    this.codeLabels = new BoundedLabels(max);
    this.sourceLabels = new BoundedLabels(max);
    this.history = new Ring(this.opts.historyPoints);
    const registers = [this.registry];

    this.ingressMessages = new Counter({
      name: 'continuum_ingress_messages_total',
      help: 'Messages accepted into the internal log from outside (admin API, playground, Kafka ingress, dead-letter replay), by source.',
      labelNames: ['source'],
      registers,
      collect: () => this.syncIngresses(),
    });
    this.ingressHandedOver = new Counter({
      name: 'continuum_ingress_handed_over_total',
      help: 'Kafka ingress records handed straight to a partition task of this process instead of through the internal topic, by source.',
      labelNames: ['source'],
      registers,
    });
    this.ingressHandOffRestarts = new Counter({
      name: 'continuum_ingress_handoff_restarts_total',
      help: 'Ingress partitions moved again from their committed offset because a task stopped holding records handed over to it, by source.',
      labelNames: ['source'],
      registers,
    });
    this.ingressDeadLetters = new Counter({
      name: 'continuum_ingress_dead_letters_total',
      help: 'Ingress records sent to the dead-letter topic (no key, unknown topic, no value), by source.',
      labelNames: ['source'],
      registers,
    });
    this.invocations = new Counter({
      name: 'continuum_function_invocations_total',
      help: 'Messages delivered to a function type in batches it answered.',
      labelNames: ['function_type'],
      registers,
    });
    this.effects = new Counter({
      name: 'continuum_function_effects_total',
      help: 'What functions produced, by function type and kind (message, delayed, egress, state).',
      labelNames: ['function_type', 'kind'],
      registers,
    });
    this.failures = new Counter({
      name: 'continuum_function_failed_messages_total',
      help: 'Messages dead-lettered because the call to their function failed past its budget, by code.',
      labelNames: ['function_type', 'code'],
      registers,
    });
    this.retries = new Counter({
      name: 'continuum_function_retries_total',
      help: 'Retries of function calls: reason "attempt" (the transport retries a failed HTTP attempt) or "overload" (the client had no free slot).',
      labelNames: ['function_type', 'reason'],
      registers,
    });
    this.invocationSeconds = new Histogram({
      name: 'continuum_invocation_duration_seconds',
      help: 'Time from sending a batch to its function until the call settled (retries included).',
      labelNames: ['function_type'],
      buckets: latencyBuckets,
      registers,
    });
    this.batchSize = new Histogram({
      name: 'continuum_batch_size',
      help: 'Invocations per batch sent to a function type.',
      labelNames: ['function_type'],
      buckets: batchBuckets,
      registers,
    });
    this.endpointCalls = new Counter({
      name: 'continuum_endpoint_calls_total',
      help: 'Calls to function endpoints by URL and result ("ok" or the error code the call ended with).',
      labelNames: ['endpoint', 'result'],
      registers,
    });
    this.attemptFailures = new Counter({
      name: 'continuum_endpoint_attempt_failures_total',
      help: 'Failed HTTP attempts to function endpoints, by kind (status, connection, timeout, invalid-response, too-large).',
      labelNames: ['endpoint', 'kind'],
      registers,
    });
    this.deadLetters = new Counter({
      name: 'continuum_dead_letters_total',
      help: 'Messages and effects the partition tasks sent to the dead-letter topic, by code.',
      labelNames: ['code'],
      registers,
    });
    this.committed = new Counter({
      name: 'continuum_committed_records_total',
      help: 'Records committed by checkpoints, by kind (internal, egress, dead_letter).',
      labelNames: ['kind'],
      registers,
    });
    this.egressRecords = new Counter({
      name: 'continuum_egress_records_total',
      help: 'Egress records committed, by topic.',
      labelNames: ['topic'],
      registers,
    });
    this.checkpoints = new Counter({
      name: 'continuum_checkpoints_total',
      help: 'Checkpoints committed.',
      registers,
    });
    this.checkpointSeconds = new Histogram({
      name: 'continuum_checkpoint_duration_seconds',
      help: 'Duration of a checkpoint: stage state, commit the log transaction, promote.',
      buckets: latencyBuckets,
      registers,
    });
    this.checkpointRecords = new Histogram({
      name: 'continuum_checkpoint_records',
      help: 'Records committed per checkpoint: internal messages, egress, dead letters and its marker record.',
      buckets: recordBuckets,
      registers,
    });
    this.checkpointBytes = new Histogram({
      name: 'continuum_checkpoint_bytes',
      help: 'Key and value bytes committed per checkpoint.',
      buckets: byteBuckets,
      registers,
    });
    this.cacheLookups = new Counter({
      name: 'continuum_state_cache_lookups_total',
      help: 'Messages whose address state was in memory (hit) or had to be loaded from the state store (miss).',
      labelNames: ['result'],
      registers,
    });
    // Scrape-time series: prom-client calls `collect` before it reads a gauge.
    const gauge = <L extends string>(
      name: string,
      help: string,
      labelNames: L[],
      fill: (g: Gauge<L>) => void | Promise<void>,
    ): Gauge<L> => {
      const g: Gauge<L> = new Gauge<L>({ name, help, labelNames, registers, collect: () => fill(g) });
      return g;
    };
    gauge(
      'continuum_state_cache_hit_ratio',
      'State cache hits / lookups since the process started.',
      [],
      (g) => {
        const total = this.cacheHits + this.cacheMisses;
        g.set(total === 0 ? 0 : this.cacheHits / total);
      },
    );
    gauge(
      'continuum_owned_partitions',
      'Internal-log partitions this process owns (running or recovering).',
      [],
      (g) => g.set(this.sources.tasks().length + (this.sources.recovering?.().length ?? 0)),
    );
    gauge(
      'continuum_ready',
      '1 when every partition assigned to this process has recovered and runs.',
      [],
      (g) => g.set(this.sources.ready?.() === false ? 0 : 1),
    );
    gauge('continuum_in_flight_calls', 'Function calls in flight (at most one per address).', [], (g) =>
      g.set(this.sources.tasks().reduce((n, t) => n + t.backlog.inFlight, 0)),
    );
    gauge(
      'continuum_function_client_queued_calls',
      'Function calls waiting for a free slot of the HTTP client.',
      [],
      (g) => g.set(this.sources.clientLoad?.().queued ?? 0),
    );
    // The partition label needs no cap: its values are bounded by the internal topic's partitions.
    const perPartition = (
      name: string,
      help: string,
      value: (t: PartitionTask, now: number) => number | undefined,
    ): void => {
      gauge(name, help, ['partition'], (g) => {
        // Reset first so partitions that moved to another process disappear from the series.
        g.reset();
        const now = Date.now();
        for (const t of this.sources.tasks()) {
          const v = value(t, now);
          if (v !== undefined) g.set({ partition: String(t.partition) }, v);
        }
      });
    };
    perPartition(
      'continuum_mailbox_messages',
      'Records received and not yet complete per partition (queued in mailboxes or in flight).',
      (t) => t.backlog.outstanding,
    );
    perPartition(
      'continuum_partition_paused',
      '1 while a partition pauses its consumer (a mailbox at maxNumBatchRequests, too many outstanding records, or a large uncommitted buffer).',
      (t) => (t.backlog.paused ? 1 : 0),
    );
    perPartition(
      'continuum_delayed_messages',
      'Pending processing-time delayed messages held by a partition.',
      (t) => t.backlog.timers,
    );
    perPartition(
      'continuum_event_time_timers',
      'Pending event-time timers held by a partition (they fire when its watermark passes them).',
      (t) => t.backlog.eventTimers,
    );
    perPartition(
      'continuum_cached_addresses',
      'Addresses whose state a partition keeps in memory.',
      (t) => t.backlog.addresses,
    );
    perPartition(
      'continuum_watermark_seconds',
      'Event-time watermark of a partition, in seconds since the epoch (no sample while it has none yet).',
      (t) => {
        const w = t.watermark;
        return w === undefined ? undefined : w / 1000;
      },
    );
    perPartition(
      'continuum_watermark_lag_seconds',
      "Wall clock minus a partition's event-time watermark, in seconds: grows while event time stalls (no sample while it has no watermark yet; negative when event times run ahead of this clock).",
      (t, now) => {
        const w = t.watermark;
        return w === undefined ? undefined : (now - w) / 1000;
      },
    );
    gauge(
      'continuum_consumer_lag',
      'Records of an internal partition not yet covered by a checkpoint (end offset minus committed offset; Kafka transaction markers count as offsets).',
      ['partition'],
      async (g) => {
        const rows = await this.partitions();
        g.reset();
        for (const r of rows) if (r.lag !== undefined) g.set({ partition: String(r.partition) }, r.lag);
      },
    );
    if (this.opts.processMetrics) collectDefaultMetrics({ register: this.registry });

    this.observer = {
      batchStarted: (b) => this.batchStarted(b),
      deadLettered: (_p, code) => this.deadLettered(code),
      stateLookup: (_p, hit) => {
        if (hit) this.cacheHits++;
        else this.cacheMisses++;
        this.cacheLookups.child(hit ? 'hit' : 'miss').inc();
      },
      checkpointed: (c) => this.checkpointed(c),
      sending: (source, messages) => this.sending(source, messages),
    };
  }

  /** Connects the scrape-time sources and starts sampling the dashboard history. */
  attach(sources: MetricsSources): void {
    this.sources = sources;
    if (this.sampler === undefined) {
      this.sampler = setInterval(() => this.sample(), this.opts.sampleIntervalMs);
      this.sampler.unref();
    }
  }

  /** Stops sampling (the registry stays readable). */
  close(): void {
    if (this.sampler !== undefined) clearInterval(this.sampler);
    this.sampler = undefined;
  }

  /** Options for `new HttpFunctionClient(...)`: per-endpoint calls, failures and retries. */
  clientCallbacks(): {
    onAttempt: (e: AttemptEvent) => void;
    onCall: (e: CallEvent) => void;
    onQueued: (load: BulkheadLoad) => void;
  } {
    return {
      onAttempt: (e) => {
        this.attempted(e);
        this.endpointHealth.attempted(e);
      },
      onCall: (e) => {
        this.called(e);
        this.endpointHealth.called(e);
      },
      onQueued: (load) => this.endpointHealth.queued(load),
    };
  }

  /** Prometheus exposition text of every series. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Running totals since the process started. */
  get counts(): Readonly<Totals> & { cacheHits: number; cacheMisses: number } {
    this.syncIngresses();
    return { ...this.totals, cacheHits: this.cacheHits, cacheMisses: this.cacheMisses };
  }

  /** The dashboard history, oldest first. */
  historyPoints(): HistoryPoint[] {
    return this.history.toArray();
  }

  functionFigures(): FunctionFigures[] {
    return [...this.functions].map(([functionType, f]) => {
      const latencies = f.latencies.toArray();
      const settled = f.batches;
      return {
        functionType,
        invocations: f.invocations,
        batches: f.batches,
        failedMessages: f.failedMessages,
        failedBatches: f.failedBatches,
        retries: f.retries,
        errorRate: settled === 0 ? 0 : f.failedBatches / settled,
        p50Ms: round(quantile(latencies, 0.5)),
        p99Ms: round(quantile(latencies, 0.99)),
      };
    });
  }

  endpointFigures(): EndpointFigures[] {
    return [...this.endpoints].map(([url, e]) => ({
      url,
      calls: e.calls,
      failures: e.failures,
      failedAttempts: e.failedAttempts,
      errorRate: e.calls === 0 ? 0 : e.failures / e.calls,
      lastError: e.lastError,
    }));
  }

  /** Dead letters the partition tasks and ingresses produced since the process started, by code. */
  deadLetterCodes(): Record<string, number> {
    this.syncIngresses();
    return Object.fromEntries(this.deadLettersByCode);
  }

  /** The partitions of this process with their backlog and consumer lag. */
  async partitions(): Promise<PartitionFigures[]> {
    const tasks = this.sources.tasks();
    const ends = await this.endOffsets(tasks.map((t) => t.partition));
    const rows: PartitionFigures[] = tasks.map((t) => {
      const b = t.backlog;
      const committed = t.committedOffset >= 0 ? t.committedOffset : undefined;
      const end = ends.get(t.partition);
      return {
        partition: t.partition,
        status: t.isRunning ? 'running' : 'recovering',
        committedOffset: committed,
        endOffset: end,
        lag: end === undefined || committed === undefined ? undefined : Math.max(0, end - committed),
        mailbox: b.outstanding,
        inFlight: b.inFlight,
        paused: b.paused,
        delayedMessages: b.timers,
        eventTimers: b.eventTimers,
        watermark: t.watermark,
        cachedAddresses: b.addresses,
        checkpoints: t.stats.checkpoints,
        lastCheckpointMs: t.stats.lastCheckpointMs,
        deadLetters: t.stats.deadLetters,
      };
    });
    for (const p of this.sources.recovering?.() ?? []) {
      rows.push({
        partition: p,
        status: 'recovering',
        committedOffset: undefined,
        endOffset: ends.get(p),
        lag: undefined,
        mailbox: 0,
        inFlight: 0,
        paused: false,
        delayedMessages: 0,
        eventTimers: 0,
        watermark: undefined,
        cachedAddresses: 0,
        checkpoints: 0,
        lastCheckpointMs: 0,
        deadLetters: 0,
      });
    }
    return rows.sort((a, b) => a.partition - b.partition);
  }

  /** Takes a history sample now (the timer does this every `sampleIntervalMs`). */
  sample(now = Date.now()): HistoryPoint {
    this.syncIngresses();
    const last = this.history.toArray().at(-1);
    const seconds = Math.max(0.001, (now - (last?.t ?? this.startedAt)) / 1000);
    const rate = (k: keyof Totals): number => round2((this.totals[k] - this.lastSample[k]) / seconds);
    const point: HistoryPoint = {
      t: now,
      ingress: rate('ingress'),
      invocations: rate('invocations'),
      egress: rate('egress'),
      deadLetters: rate('deadLetters'),
      failures: rate('failures'),
      p50Ms: round(this.windowLatency.quantile(0.5)) ?? null,
      p99Ms: round(this.windowLatency.quantile(0.99)) ?? null,
    };
    this.lastSample = { ...this.totals };
    this.windowLatency.clear();
    this.history.push(point);
    return point;
  }

  // ---------------------------------------------------------------- observers

  private batchStarted(b: ObservedBatch): BatchObservation {
    const fn = this.fnLabels.of(b.functionType);
    if (b.round === 0) this.batchSize.child(fn).observe(b.size);
    return {
      ended: (end) => {
        try {
          this.batchEnded(fn, b.size, end);
        } catch (err) {
          this.log.debug('recording a batch in the metrics failed', { err });
        }
      },
    };
  }

  private batchEnded(
    fn: string,
    size: number,
    end: { latencyMs: number; response: FromFunction | undefined; error: unknown },
  ): void {
    const agg = this.fnAgg(fn);
    if (end.error !== undefined) {
      if (end.error instanceof ContinuumError && end.error.retryable) {
        agg.retries++;
        this.retries.child(fn, 'overload').inc();
        return;
      }
      const code = end.error instanceof ContinuumError ? end.error.code : 'FUNCTION_CALL_FAILED';
      agg.batches++;
      agg.failedBatches++;
      agg.failedMessages += size;
      agg.latencies.push(end.latencyMs);
      this.totals.failures += size;
      this.failures.child(fn, this.codeLabels.of(code)).inc(size);
      this.invocationSeconds.child(fn).observe(end.latencyMs / 1000);
      this.windowLatency.add(end.latencyMs);
      return;
    }
    this.invocationSeconds.child(fn).observe(end.latencyMs / 1000);
    this.windowLatency.add(end.latencyMs);
    agg.latencies.push(end.latencyMs);
    const result = end.response?.invocationResult;
    // A state-negotiation answer is not an invocation: the batch goes out again.
    if (end.response?.incompleteInvocationContext !== undefined) return;
    agg.batches++;
    agg.invocations += size;
    this.totals.invocations += size;
    this.invocations.child(fn).inc(size);
    if (result === undefined) return;
    let delayed = 0;
    for (const d of result.delayedInvocations) if (!d.isCancellationRequest) delayed++;
    this.addEffects(fn, 'message', result.outgoingMessages.length);
    this.addEffects(fn, 'delayed', delayed);
    this.addEffects(fn, 'egress', result.outgoingEgresses.length);
    this.addEffects(fn, 'state', result.stateMutations.length);
  }

  private addEffects(fn: string, kind: string, n: number): void {
    if (n > 0) this.effects.child(fn, kind).inc(n);
  }

  private deadLettered(code: string): void {
    this.totals.deadLetters++;
    const label = this.codeLabels.of(code);
    this.deadLetters.child(label).inc();
    if (this.deadLettersByCode.has(label) || this.deadLettersByCode.size < this.opts.maxLabelValues)
      this.deadLettersByCode.set(label, (this.deadLettersByCode.get(label) ?? 0) + 1);
  }

  private checkpointed(c: ObservedCheckpoint): void {
    this.checkpoints.child().inc();
    this.checkpointSeconds.child().observe(c.durationMs / 1000);
    this.checkpointRecords.child().observe(c.records.length);
    let bytes = 0;
    let internal = 0;
    let dead = 0;
    let egress = 0;
    // Egress records come in runs per topic: one update per run, in the order topics first appear.
    let runTopic: string | undefined;
    let run = 0;
    for (const r of c.records) {
      bytes += (r.key?.length ?? 0) + (r.value?.byteLength ?? 0);
      if (r.topic === this.opts.internalTopic) {
        // Keyless internal records are the checkpoint's own markers, not messages.
        if (r.key !== null) internal++;
      } else if (r.topic === this.opts.deadLetterTopic) dead++;
      else {
        egress++;
        if (r.topic !== runTopic) {
          if (runTopic !== undefined) this.egressRecords.child(this.topicLabels.of(runTopic)).inc(run);
          runTopic = r.topic;
          run = 0;
        }
        run++;
      }
    }
    if (runTopic !== undefined) this.egressRecords.child(this.topicLabels.of(runTopic)).inc(run);
    this.checkpointBytes.child().observe(bytes);
    if (internal > 0) this.committed.child('internal').inc(internal);
    if (dead > 0) this.committed.child('dead_letter').inc(dead);
    if (egress > 0) this.committed.child('egress').inc(egress);
    this.totals.egress += egress;
  }

  private sending(source: string, messages: readonly IngressMessage[]): SendObservation {
    const label = this.sourceLabels.of(source);
    return {
      ended: (error) => {
        if (error !== undefined) return;
        this.totals.ingress += messages.length;
        this.ingressMessages.child(label).inc(messages.length);
      },
    };
  }

  private attempted(e: AttemptEvent): void {
    if (e.failure !== undefined) {
      const url = this.endpointOf(e.url);
      this.attemptFailures.child(url, e.failure.kind).inc();
      const agg = this.endpoints.get(url);
      if (agg !== undefined) agg.failedAttempts++;
      else if (this.endpoints.size < this.opts.maxLabelValues)
        this.endpoints.set(url, { calls: 0, failures: 0, failedAttempts: 1, lastError: undefined });
    }
    if (e.willRetry) {
      const fn = this.fnLabels.of(`${e.address.namespace}/${e.address.type}`);
      this.retries.child(fn, 'attempt').inc();
      this.fnAgg(fn).retries++;
    }
  }

  private called(e: CallEvent): void {
    const url = this.endpointOf(e.url);
    const result = e.error === undefined ? 'ok' : this.codeLabels.of(e.error.code);
    this.endpointCalls.child(url, result).inc();
    let agg = this.endpoints.get(url);
    if (agg === undefined) {
      if (this.endpoints.size >= this.opts.maxLabelValues) return;
      agg = { calls: 0, failures: 0, failedAttempts: 0, lastError: undefined };
      this.endpoints.set(url, agg);
    }
    agg.calls++;
    if (e.error !== undefined) {
      agg.failures++;
      agg.lastError = {
        code: e.error.code,
        message: e.error.message.slice(0, maxErrorMessage),
        at: new Date().toISOString(),
      };
    }
  }

  // ---------------------------------------------------------------- helpers

  /** The endpoint label of a call's URL; remembered per URL (as many as label values are kept). */
  private endpointOf(url: string): string {
    let label = this.endpointByUrl.get(url);
    if (label === undefined) {
      label = this.urlLabels.of(endpointLabel(url));
      if (this.endpointByUrl.size < this.opts.maxLabelValues) this.endpointByUrl.set(url, label);
    }
    return label;
  }

  private fnAgg(fn: string): FunctionAgg {
    let agg = this.functions.get(fn);
    if (agg === undefined) {
      agg = {
        invocations: 0,
        batches: 0,
        failedMessages: 0,
        failedBatches: 0,
        retries: 0,
        latencies: new Ring(512),
      };
      // fn is already bounded by fnLabels, so this map is too.
      this.functions.set(fn, agg);
    }
    return agg;
  }

  /** Kafka ingresses keep their own counts; fold their growth into the series. */
  private syncIngresses(): void {
    for (const { id, stats } of this.sources.ingresses?.() ?? []) {
      const source = this.sourceLabels.of(`kafka:${id}`);
      const seen = this.ingressSeen.get(id) ?? { moved: 0, deadLetters: 0, handedOver: 0, restarts: 0 };
      const handedOver = (stats.handedOver ?? 0) - seen.handedOver;
      if (handedOver > 0) this.ingressHandedOver.child(source).inc(handedOver);
      const restarts = (stats.handOverRestarts ?? 0) - seen.restarts;
      if (restarts > 0) this.ingressHandOffRestarts.child(source).inc(restarts);
      const moved = stats.moved - seen.moved;
      const dead = stats.deadLetters - seen.deadLetters;
      if (moved > 0) {
        this.ingressMessages.child(source).inc(moved);
        this.totals.ingress += moved;
      }
      if (dead > 0) {
        this.ingressDeadLetters.child(source).inc(dead);
        this.totals.deadLetters += dead;
        this.deadLettersByCode.set('INGRESS', (this.deadLettersByCode.get('INGRESS') ?? 0) + dead);
      }
      this.ingressSeen.set(id, {
        moved: stats.moved,
        deadLetters: stats.deadLetters,
        handedOver: stats.handedOver ?? 0,
        restarts: stats.handOverRestarts ?? 0,
      });
    }
  }

  /** End offsets, fetched at most every `lagCacheMs`; stale values are kept when a fetch fails. */
  private async endOffsets(partitions: readonly number[]): Promise<ReadonlyMap<number, number>> {
    const sources = this.sources;
    if (sources.endOffsets === undefined || partitions.length === 0) return this.lag.offsets;
    if (Date.now() - this.lag.at >= this.opts.lagCacheMs) {
      this.lag.pending ??= withTimeout(sources.endOffsets(partitions), 3000)
        .then(
          (offsets) => {
            this.lag = { at: Date.now(), offsets };
          },
          (err: unknown) => {
            this.lag = { at: Date.now(), offsets: this.lag.offsets };
            this.log.debug('reading end offsets for consumer lag failed', { err });
          },
        )
        .finally(() => {
          this.lag.pending = undefined;
        });
      await this.lag.pending;
    }
    return this.lag.offsets;
  }
}

/** Endpoint URL as a label: origin and path, no query (which could carry a key). */
export function endpointLabel(url: string): string {
  const cut = url.search(/[?#]/);
  return cut < 0 ? url : url.slice(0, cut);
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function round(v: number | undefined): number | undefined {
  return v === undefined ? undefined : Math.round(v * 10) / 10;
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}
