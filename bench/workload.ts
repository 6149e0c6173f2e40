// The benchmark workload of issue 13: a Kafka ingress topic (8 partitions, 1,000 keys) → a counter
// function (state + 1, Kafka egress of the new count) → an output topic, exactly-once, on runtime
// processes in production mode (`statefun run` on the real broker and Redis). Runs three phases on
// one set of topics — a backlog drain, an idle spell, a paced sweep — and measures throughput,
// produce → read_committed egress latency and the CPU of every process from /proc. Every egress
// record is checked exactly once (each event once, per-key counts 1..n); the figures are returned,
// never asserted.
import '@continuum/runtime/kafkajs-patch';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createKafkaClient, createTopic, RuntimeFleet, uniqueName } from '@continuum/test-infra';
import type { Admin, Consumer, EachBatchPayload, Producer } from 'kafkajs';
import { peakRssBytes, ResourceMeter, type Roles, type Usage } from './proc-stats.js';

/** Which SDK the counter function is written with. */
export type BenchSdk = 'official' | 'own';

export interface WorkloadOptions {
  brokers: readonly string[];
  redisUrl: string;
  sdk: BenchSdk;
  /** Runtime processes (1 or 2 on a 2-core machine). */
  processes: number;
  /** Partitions of the internal topic (`--partitions`). */
  partitions: number;
  /** Partitions of the ingress topic. @defaultValue 8 */
  ingressPartitions?: number;
  keys: number;
  /** CONTINUUM_CHECKPOINT_INTERVAL_MS; undefined: the runtime's default. */
  checkpointIntervalMs: number | undefined;
  /** Events of the backlog drain (also the warm-up of the later phases); at least 1. */
  drainEvents: number;
  /** Seconds of the idle phase; 0 skips it. */
  idleSeconds: number;
  /** Offered rates of the paced sweep, in order; empty skips it. */
  rates: readonly number[];
  stepSeconds: number;
  /** A step whose events are not all egressed this long after its end is not kept. */
  maxLagSeconds: number;
  /** The broker's and Redis's processes (empty when not local). */
  infraRoles: () => Roles;
  /** Further environment of the runtime processes. */
  env?: Record<string, string> | undefined;
  log?: ((line: string) => void) | undefined;
}

/** CPU and transactions of one phase. */
export interface PhaseResources {
  seconds: number;
  events: number;
  /** CPU-seconds per role (runtime, broker, redis, function, driver). */
  cpu: Record<string, number | undefined>;
  /** CPU-seconds per 1,000 events, per role (undefined for a phase without events). */
  cpuPer1000: Record<string, number | undefined>;
  /** Average cores in use over the phase, per role. */
  cores: Record<string, number | undefined>;
  peakRss: Record<string, number | undefined>;
  /** Checkpoints committed per second by the runtime's partition tasks (its Prometheus counter). */
  checkpointsPerSec: number | undefined;
  /** Mean invocations per request the runtime sent to the function (its batch-size histogram). */
  meanBatch: number | undefined;
  /**
   * Records the broker's transaction coordinators wrote to `__transaction_state` per second: every
   * transaction of every client writes at least three (ongoing, prepare, complete), one more per
   * partition set it extends.
   */
  txnLogWritesPerSec: number | undefined;
  /**
   * Of the Kafka ingress records the runtime took in the phase, the share handed straight to a task
   * of the reading process (never written to the internal topic).
   */
  handedOverShare: number | undefined;
  /** Kafka ingress records the runtime took per event: above 1 when records were taken again (replays). */
  ingressPerEvent: number | undefined;
}

export interface DrainResult {
  events: number;
  /** Events per second from the runtime's first consume to the last egress record. */
  eventsPerSec: number;
  /** How the first consume was seen: internal-topic records, the ingress counter, or the first egress. */
  firstConsumeBy: string;
  resources: PhaseResources;
}

export interface StepResult {
  targetPerSec: number;
  /** What the generator actually produced per second over the step. */
  offeredPerSec: number;
  /**
   * The rate the pipeline delivered the step's events at, from the trend of their latency: events
   * offered at rate R and delivered in order at rate C wait longer by (R/C − 1) for every second
   * they were sent later, so C = R / (1 + slope of latency over send time). Equal to the offered
   * rate in a steady state; a least-squares slope over all the step's events is not thrown off by
   * the bursts in which checkpoints release records, as counting arrivals in a window is.
   */
  egressPerSec: number | undefined;
  /** That slope: milliseconds of latency gained per second of the step. */
  latencyTrendMsPerSec: number | undefined;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** From the end of the step to the last egress record of its events (undefined: not all came). */
  endLagMs: number | undefined;
  kept: boolean;
  /** Why the step was not kept. */
  reason: string;
  resources: PhaseResources;
}

export interface IdleResult {
  resources: PhaseResources;
}

export interface WorkloadReport {
  sdk: BenchSdk;
  processes: number;
  partitions: number;
  keys: number;
  checkpointIntervalMs: number | undefined;
  events: number;
  egressRecords: number;
  /** Undefined when the workload failed before the drain ended. */
  drain: DrainResult | undefined;
  idle: IdleResult | undefined;
  steps: StepResult[];
  /** Highest offered rate of a kept step (0 if none). */
  highestKeptPerSec: number;
  /** Highest offered rate of a kept step with p99 ≤ 1 s (0 if none). */
  highestP99Under1sPerSec: number;
  /** Highest resident set size of each runtime process over its life (VmHWM), summed. */
  runtimePeakRssBytes: number | undefined;
  restarts: number;
  /** Kept when there are problems: the runtime processes' logs. */
  logDir: string | undefined;
  problems: string[];
}

const functionScript = fileURLToPath(new URL('./function-service.mjs', import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Starts the counter function's process and resolves with it and its port. */
export async function startFunction(
  sdk: BenchSdk,
  egressTopic: string,
): Promise<{ child: ChildProcess; port: number; pid: number }> {
  const child = spawn(process.execPath, [functionScript, '--sdk', sdk, '--topic', egressTopic], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`function service (${sdk}) did not start: ${output}`)),
      30_000,
    );
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const m = /PORT (\d+)/.exec(output);
      if (m !== null) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`function service (${sdk}) exited with ${code}: ${output}`));
    });
  });
  child.removeAllListeners('exit');
  return { child, port, pid: child.pid! };
}

export async function stopFunction(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

export function moduleYaml(brokers: string, fnPort: number, input: string, sdk: BenchSdk): string {
  return [
    `# The benchmark workload (${sdk} SDK counter).`,
    'kind: io.statefun.endpoints.v2/http',
    'spec:',
    '  functions: bench/*',
    `  urlPathTemplate: http://127.0.0.1:${fnPort}/{function.name}`,
    '  transport:',
    '    call: 30s',
    '---',
    'kind: io.statefun.kafka.v1/ingress',
    'spec:',
    '  id: bench/in',
    `  address: ${brokers}`,
    '  startupPosition:',
    '    type: earliest',
    '  topics:',
    `    - topic: ${input}`,
    '      valueType: bench/Event',
    '      targets: [bench/counter]',
    '---',
    'kind: io.statefun.kafka.v1/egress',
    'spec:',
    '  id: bench/out',
    `  address: ${brokers}`,
    '  deliverySemantic:',
    '    type: exactly-once',
    '    transactionTimeout: 1min',
    '',
  ].join('\n');
}

/** Percentile of sorted values (nearest rank below). */
function pct(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/**
 * The read_committed view of the egress: when each event's record arrived, how many times, and
 * the counts each key got. Event `s` has key `k<s mod keys>`; its record is `<key>|<s>|<count>`.
 */
export class EgressLedger {
  readonly sentAt: Float64Array;
  readonly egressAt: Float64Array;
  readonly times: Uint8Array;
  readonly countsByKey: number[][];
  produced = 0;
  received = 0;
  lastAt = 0;
  readonly problems: string[] = [];

  constructor(
    capacity: number,
    private readonly keys: number,
  ) {
    this.sentAt = new Float64Array(capacity);
    this.egressAt = new Float64Array(capacity);
    this.times = new Uint8Array(capacity);
    this.countsByKey = Array.from({ length: keys }, () => []);
  }

  problem(text: string): void {
    if (this.problems.length < 50) this.problems.push(text);
    else if (this.problems.length === 50) this.problems.push('… more problems left out');
  }

  /** One egress record `<key>|<seq>|<count>`. */
  record(value: string, at: number): void {
    const [key, seqText, countText] = value.split('|');
    const seq = Number(seqText);
    const count = Number(countText);
    if (key === undefined || !Number.isInteger(seq) || seq < 0 || seq >= this.produced || !(count >= 1)) {
      this.problem(`unexpected egress record "${value}"`);
      return;
    }
    if (key !== `k${seq % this.keys}`) this.problem(`egress record "${value}" has the wrong key`);
    this.times[seq] = Math.min(255, this.times[seq]! + 1);
    if (this.times[seq] === 1) this.egressAt[seq] = at;
    else this.problem(`event ${seq} egressed ${this.times[seq]} times (latest "${value}")`);
    this.countsByKey[seq % this.keys]!.push(count);
    this.received++;
    this.lastAt = at;
  }

  /**
   * Least-squares slope of latency over send time of the egressed events among [from, to)
   * (dimensionless: ms per ms); undefined with fewer than 10 of them.
   */
  latencySlope(from: number, to: number): number | undefined {
    let n = 0;
    let sx = 0;
    let sy = 0;
    let sxx = 0;
    let sxy = 0;
    const x0 = this.sentAt[from] ?? 0;
    for (let s = from; s < to; s++) {
      if (this.times[s] === 0) continue;
      const x = this.sentAt[s]! - x0;
      const y = this.egressAt[s]! - this.sentAt[s]!;
      n++;
      sx += x;
      sy += y;
      sxx += x * x;
      sxy += x * y;
    }
    const varx = n * sxx - sx * sx;
    return n < 10 || varx <= 0 ? undefined : (n * sxy - sx * sy) / varx;
  }

  /** Events [from, to) all egressed. */
  complete(from: number, to: number): boolean {
    for (let s = from; s < to; s++) if (this.times[s] === 0) return false;
    return true;
  }

  /** Latencies of events [from, to) that egressed, sorted, and the last egress time among them. */
  latencies(from: number, to: number): { sorted: number[]; lastAt: number } {
    const out: number[] = [];
    let lastAt = 0;
    for (let s = from; s < to; s++) {
      if (this.times[s] === 0) continue;
      out.push(Math.round(this.egressAt[s]! - this.sentAt[s]!));
      lastAt = Math.max(lastAt, this.egressAt[s]!);
    }
    return { sorted: out.sort((a, b) => a - b), lastAt };
  }

  /** The exactly-once verdict over everything produced. */
  verify(): void {
    let missing = 0;
    for (let s = 0; s < this.produced; s++) {
      if (this.times[s] === 0) {
        if (missing < 10) this.problem(`event ${s} has no egress record`);
        missing++;
      }
    }
    if (missing > 10) this.problem(`${missing} events in all have no egress record`);
    for (let k = 0; k < this.keys; k++) {
      const expected = Math.floor(this.produced / this.keys) + (k < this.produced % this.keys ? 1 : 0);
      const got = this.countsByKey[k]!.sort((a, b) => a - b);
      let ok = got.length === expected;
      for (let i = 0; ok && i < got.length; i++) ok = got[i] === i + 1;
      if (!ok)
        this.problem(
          `key k${k}: counts [${got.slice(0, 8).join(',')}${got.length > 8 ? ',…' : ''}] (${got.length}) instead of 1..${expected}`,
        );
    }
  }
}

/**
 * Sums of Prometheus series over the runtime processes' `/metrics`, each over all its labels;
 * undefined when no process answered.
 */
async function scrape<K extends string>(
  ports: Iterable<number>,
  names: readonly K[],
): Promise<Record<K, number | undefined>> {
  const sums = Object.fromEntries(names.map((n) => [n, undefined])) as Record<K, number | undefined>;
  for (const port of ports) {
    let text: string;
    try {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2000) });
      text = await res.text();
    } catch {
      // A process that is not up yet, or is restarting: its series stay unread.
      continue;
    }
    // A labelled series appears with its first sample: absent from an answer means zero so far.
    for (const name of names) sums[name] ??= 0;
    for (const line of text.split('\n')) {
      for (const name of names) {
        if (!line.startsWith(name)) continue;
        const rest = line.slice(name.length);
        if (rest.startsWith(' ') || rest.startsWith('{'))
          sums[name] = (sums[name] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
      }
    }
  }
  return sums;
}

const PHASE_SERIES = [
  'continuum_checkpoints_total',
  'continuum_batch_size_sum',
  'continuum_batch_size_count',
  'continuum_ingress_messages_total',
  'continuum_ingress_handed_over_total',
] as const;

async function highWatermarks(admin: Admin, topic: string): Promise<number | undefined> {
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((a, o) => a + Number(o.high), 0);
  } catch {
    return undefined;
  }
}

/** Runs the workload once (one SDK, one process count) and returns its figures and problems. */
export async function runWorkload(opts: WorkloadOptions): Promise<WorkloadReport> {
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const id = uniqueName(`bench-${opts.sdk}`);
  const names = {
    input: `${id}-in`,
    out: `${id}-out`,
    dlq: `${id}-dlq`,
    internal: `${id}-internal`,
    group: id,
    prefix: id,
  };
  const ingressPartitions = opts.ingressPartitions ?? 8;
  await createTopic(opts.brokers, names.input, ingressPartitions);
  await createTopic(opts.brokers, names.out, 8);
  await createTopic(opts.brokers, names.dlq, 1);
  const kafka = createKafkaClient(opts.brokers, { clientId: 'bench-driver' });
  const admin = kafka.admin();
  await admin.connect();

  const capacity = opts.drainEvents + opts.rates.reduce((a, r) => a + Math.ceil(r * opts.stepSeconds), 0);
  const ledger = new EgressLedger(capacity, opts.keys);
  const dir = mkdtempSync(join(tmpdir(), 'continuum-bench-'));
  const logDir = join(dir, 'logs');
  const fn = await startFunction(opts.sdk, names.out);
  let fleet: RuntimeFleet | undefined;
  let consumer: Consumer | undefined;
  let producer: Producer | undefined;
  const report: WorkloadReport = {
    sdk: opts.sdk,
    processes: opts.processes,
    partitions: opts.partitions,
    keys: opts.keys,
    checkpointIntervalMs: opts.checkpointIntervalMs,
    events: 0,
    egressRecords: 0,
    drain: undefined,
    idle: undefined,
    steps: [],
    highestKeptPerSec: 0,
    highestP99Under1sPerSec: 0,
    runtimePeakRssBytes: undefined,
    restarts: 0,
    logDir: undefined,
    problems: [],
  };
  try {
    const moduleFile = join(dir, 'module.yaml');
    writeFileSync(moduleFile, moduleYaml(opts.brokers.join(','), fn.port, names.input, opts.sdk));
    mkdirSync(logDir);

    // The egress as a downstream read_committed consumer sees it.
    consumer = kafka.consumer({ groupId: `${id}-reader`, readUncommitted: false, maxWaitTimeInMs: 500 });
    await consumer.connect();
    await consumer.subscribe({ topics: [names.out, names.dlq], fromBeginning: true });
    const nextOffset = new Map<string, bigint>();
    let deadLetters = 0;
    await consumer.run({
      eachBatch: ({ batch }: EachBatchPayload) => {
        const at = Date.now();
        const tp = `${batch.topic}/${batch.partition}`;
        for (const m of batch.messages) {
          // The reader's own group may hand records over again after a rebalance: each offset once.
          const offset = BigInt(m.offset);
          if (offset < (nextOffset.get(tp) ?? 0n)) continue;
          nextOffset.set(tp, offset + 1n);
          if (batch.topic === names.dlq) {
            deadLetters++;
            ledger.problem(`dead letter: ${m.headers?.['continuum.dlq.reason']?.toString() ?? '?'}`);
          } else ledger.record(m.value?.toString() ?? '', at);
        }
        return Promise.resolve();
      },
    });

    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    /**
     * Produces the next `count` events. Their latency counts from `intendedAt(i)` (i-th of the batch)
     * when given — the time the pacing meant to send them, so that a generator running late does
     * not hide queueing — else from now.
     */
    const send = async (count: number, intendedAt?: (i: number) => number): Promise<void> => {
      const from = ledger.produced;
      const messages = [];
      for (let s = from; s < from + count; s++) messages.push({ key: `k${s % opts.keys}`, value: String(s) });
      const now = Date.now();
      for (let i = 0; i < count; i++) ledger.sentAt[from + i] = intendedAt?.(i) ?? now;
      // Counted as produced before the send resolves: the egress may arrive before the ack does.
      ledger.produced += count;
      await producer!.send({ topic: names.input, messages });
    };

    const roles = (): Roles => ({
      runtime: fleet?.pids() ?? [],
      ...opts.infraRoles(),
      function: [fn.pid],
      driver: [process.pid],
    });
    const phase = async (): Promise<(events: number) => Promise<PhaseResources>> => {
      const meter = new ResourceMeter(roles);
      const before = await scrape(fleet?.adminPorts.values() ?? [], PHASE_SERIES);
      const txnLog = await highWatermarks(admin, '__transaction_state');
      return async (events) => {
        const usage: Usage = meter.stop();
        const after = await scrape(fleet?.adminPorts.values() ?? [], PHASE_SERIES);
        const txnLogEnd = await highWatermarks(admin, '__transaction_state');
        const delta = (name: (typeof PHASE_SERIES)[number]): number | undefined => {
          const [a, b] = [before[name], after[name]];
          return a === undefined || b === undefined ? undefined : b - a;
        };
        const checkpoints = delta('continuum_checkpoints_total');
        const batches = delta('continuum_batch_size_count');
        const invocations = delta('continuum_batch_size_sum');
        const ingressed = delta('continuum_ingress_messages_total');
        const handedOver = delta('continuum_ingress_handed_over_total') ?? 0;
        const per = (v: number | undefined, d: number): number | undefined =>
          v === undefined || d <= 0 ? undefined : v / d;
        const map = (f: (v: number | undefined) => number | undefined): Record<string, number | undefined> =>
          Object.fromEntries(Object.entries(usage.cpu).map(([role, v]) => [role, f(v)]));
        return {
          seconds: usage.seconds,
          events,
          cpu: usage.cpu,
          cpuPer1000: map((v) => per(v, events / 1000)),
          cores: map((v) => per(v, usage.seconds)),
          peakRss: usage.peakRss,
          checkpointsPerSec: per(checkpoints, usage.seconds),
          meanBatch: batches === undefined || batches === 0 ? undefined : per(invocations, batches),
          ingressPerEvent: per(ingressed, events),
          handedOverShare: ingressed === undefined || ingressed <= 0 ? undefined : handedOver / ingressed,
          txnLogWritesPerSec:
            txnLog === undefined || txnLogEnd === undefined
              ? undefined
              : (txnLogEnd - txnLog) / usage.seconds,
        };
      };
    };
    const until = async (cond: () => boolean, timeoutMs: number): Promise<boolean> => {
      const deadline = Date.now() + timeoutMs;
      while (!cond()) {
        if (Date.now() > deadline) return false;
        await sleep(10);
      }
      return true;
    };

    // Phase 1: backlog drain. The whole backlog is in the ingress topic before any runtime runs.
    for (let left = opts.drainEvents; left > 0; left -= 1000) await send(Math.min(1000, left));
    log(
      `bench ${opts.sdk}: ${opts.drainEvents} events in the ingress topic; starting ${opts.processes} runtime process(es)`,
    );
    fleet = new RuntimeFleet({
      moduleFile,
      brokers: opts.brokers,
      redisUrl: opts.redisUrl,
      partitions: opts.partitions,
      processes: opts.processes,
      names,
      logDir,
      env: {
        ...(opts.checkpointIntervalMs === undefined
          ? {}
          : { CONTINUUM_CHECKPOINT_INTERVAL_MS: String(opts.checkpointIntervalMs) }),
        // The production default: nothing is killed here, so no quick failover is needed.
        CONTINUUM_KAFKA_SESSION_TIMEOUT_MS: '10000',
        ...opts.env,
      },
    });
    // The first consume: records on the internal topic (uncommitted ones count), the runtime's
    // ingress counter, or failing both (a runtime that skips the internal topic and is not
    // scraped in time) the first egress record, which comes at most a checkpoint later.
    let t0 = 0;
    let firstConsumeBy = '';
    const startDeadline = Date.now() + 120_000;
    let lastScrape = 0;
    while (t0 === 0 && Date.now() < startDeadline) {
      const now = Date.now();
      if (ledger.received > 0) [t0, firstConsumeBy] = [now, 'first egress record'];
      else if (((await highWatermarks(admin, names.internal)) ?? 0) > 0)
        [t0, firstConsumeBy] = [now, 'internal-topic records'];
      else if (now - lastScrape >= 100 && fleet.adminPorts.size > 0) {
        lastScrape = now;
        const { continuum_ingress_messages_total: ingress } = await scrape(fleet.adminPorts.values(), [
          'continuum_ingress_messages_total',
        ]);
        if ((ingress ?? 0) > 0) [t0, firstConsumeBy] = [now, 'ingress counter'];
      }
      if (t0 === 0) await sleep(20);
    }
    if (t0 === 0) throw new Error('the runtime did not consume anything within 120 s of starting');
    const drainPhase = await phase();
    const drainTimeout = Math.max(120_000, opts.drainEvents);
    if (!(await until(() => ledger.received >= opts.drainEvents, drainTimeout)))
      ledger.problem(
        `drain: ${ledger.received}/${opts.drainEvents} egress records after ${drainTimeout / 1000} s`,
      );
    const drainEnd = ledger.lastAt;
    const drainResources = await drainPhase(opts.drainEvents);
    report.drain = {
      events: opts.drainEvents,
      eventsPerSec: drainEnd > t0 ? Math.round((opts.drainEvents * 1000) / (drainEnd - t0)) : 0,
      firstConsumeBy,
      resources: drainResources,
    };
    log(
      `bench ${opts.sdk}: drain ${report.drain.eventsPerSec} events/s (first consume seen by ${firstConsumeBy})`,
    );

    // Phase 2: idle, after a settling pause so that the drain's last checkpoints are not counted.
    if (opts.idleSeconds > 0) {
      await sleep(2000);
      const idle = await phase();
      await sleep(opts.idleSeconds * 1000);
      report.idle = { resources: await idle(0) };
      log(
        `bench ${opts.sdk}: idle runtime ${fmtCores(report.idle.resources.cores.runtime)}, broker ${fmtCores(report.idle.resources.cores.broker)} of a core`,
      );
    }

    // Phase 3: the paced sweep, until the first step not kept.
    const tickMs = 10;
    for (const target of opts.rates) {
      const from = ledger.produced;
      const total = Math.round(target * opts.stepSeconds);
      const measure = await phase();
      const start = Date.now();
      let sent = 0;
      while (sent < total) {
        const now = Date.now();
        const due = Math.min(total, Math.floor((target * (now - start)) / 1000));
        if (due > sent) {
          const n = Math.min(due - sent, 5000);
          const first = sent;
          await send(n, (i) => start + ((first + i) * 1000) / target);
          sent += n;
        } else await sleep(tickMs);
      }
      const end = Date.now();
      const to = ledger.produced;
      await until(() => ledger.complete(from, to), opts.maxLagSeconds * 1000 + 1000);
      const complete = ledger.complete(from, to);
      const { sorted, lastAt } = ledger.latencies(from, to);
      const p50 = pct(sorted, 0.5);
      const slope = ledger.latencySlope(from, to);
      const offeredPerSec = Math.round(((to - from) * 1000) / Math.max(1, end - start));
      const resources = await measure(to - from);
      const step: StepResult = {
        targetPerSec: target,
        offeredPerSec,
        egressPerSec:
          slope === undefined ? undefined : Math.round(offeredPerSec / (1 + Math.max(-0.5, slope))),
        latencyTrendMsPerSec: slope === undefined ? undefined : Math.round(slope * 1000),
        p50Ms: p50,
        p99Ms: pct(sorted, 0.99),
        maxMs: sorted[sorted.length - 1] ?? 0,
        endLagMs: complete ? Math.max(0, lastAt - end) : undefined,
        kept: false,
        reason: '',
        resources,
      };
      const reasons: string[] = [];
      if (step.offeredPerSec < 0.95 * target) reasons.push(`generator reached only ${step.offeredPerSec}/s`);
      if (step.egressPerSec !== undefined && step.egressPerSec < 0.95 * step.offeredPerSec)
        reasons.push(`egress ${step.egressPerSec}/s < 95 % of offered ${step.offeredPerSec}/s`);
      if (step.endLagMs === undefined || step.endLagMs > opts.maxLagSeconds * 1000)
        reasons.push(`egress more than ${opts.maxLagSeconds} s behind at the end of the step`);
      step.kept = reasons.length === 0;
      step.reason = reasons.join('; ');
      report.steps.push(step);
      log(
        `bench ${opts.sdk}: ${target}/s offered ${step.offeredPerSec}/s, egress ${step.egressPerSec ?? 'n/a'}/s, p50 ${step.p50Ms} ms, p99 ${step.p99Ms} ms, ` +
          `max ${step.maxMs} ms, end lag ${step.endLagMs ?? '>' + opts.maxLagSeconds * 1000} ms${step.kept ? '' : ` — not kept: ${step.reason}`}`,
      );
      if (!step.kept) break;
    }
    report.highestKeptPerSec = Math.max(0, ...report.steps.filter((s) => s.kept).map((s) => s.targetPerSec));
    report.highestP99Under1sPerSec = Math.max(
      0,
      ...report.steps.filter((s) => s.kept && s.p99Ms <= 1000).map((s) => s.targetPerSec),
    );

    // Everything produced must come out exactly once, also after a step that was not kept.
    const finalTimeout = Math.max(120_000, ledger.produced - ledger.received);
    if (!(await until(() => ledger.received >= ledger.produced, finalTimeout)))
      ledger.problem(`${ledger.received}/${ledger.produced} egress records after ${finalTimeout / 1000} s`);
    // Late duplicates, if any, get the time to show up.
    await sleep(2000);
    const pids = fleet.pids();
    const peaks = pids.map(peakRssBytes).filter((v): v is number => v !== undefined);
    report.runtimePeakRssBytes = peaks.length === 0 ? undefined : peaks.reduce((a, b) => a + b, 0);
    report.restarts = fleet.restarts;
    report.problems.push(...fleet.problems);
    if (fleet.restarts > 0)
      report.problems.push(`${fleet.restarts} runtime restart(s): CPU figures mix processes`);
    if (deadLetters > 0) report.problems.push(`${deadLetters} dead letters`);
  } catch (err) {
    report.problems.push(
      `workload failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
  } finally {
    fleet?.stop();
    await producer?.disconnect().catch(() => undefined);
    await consumer?.disconnect().catch(() => undefined);
    await stopFunction(fn.child);
    await admin
      .deleteTopics({ topics: [names.input, names.out, names.dlq, names.internal] })
      .catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
  ledger.verify();
  report.problems.push(...ledger.problems);
  report.events = ledger.produced;
  report.egressRecords = ledger.received;
  if (report.problems.length > 0) report.logDir = logDir;
  else if (process.env.BENCH_KEEP_LOGS === '1') process.stdout.write(`bench: runtime logs in ${logDir}\n`);
  else rmSync(dir, { recursive: true, force: true });
  return report;
}

export function fmtCores(v: number | undefined): string {
  return v === undefined ? 'n/a' : `${(v * 100).toFixed(1)} %`;
}
