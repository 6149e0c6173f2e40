// The benchmark's output: the console tables (references, runtime figures as ratios of the
// references, the paced sweep) and the rows appended to bench/RESULTS.md.
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import type { ReferenceResult } from './references.js';
import type { RequestReplyReport } from './request-reply.js';
import type { PhaseResources, StepResult, WorkloadReport } from './workload.js';

/** Everything one `npm run bench` measured. */
export interface BenchRun {
  date: string;
  machine: string;
  commit: string;
  settings: string;
  kafka: ReferenceResult[];
  /** The function-alone references per SDK, one per batch size. */
  functions: Partial<Record<string, ReferenceResult[]>>;
  workloads: WorkloadReport[];
  /** The request-response scenario, one per SDK (empty when not selected). */
  requestReply: RequestReplyReport[];
}

/** `git rev-parse --short HEAD`, marked when runtime or SDK sources differ from it. */
export function gitCommit(cwd: string): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'runtime', 'sdk'], {
      cwd,
      encoding: 'utf8',
    });
    return dirty.trim() === '' ? head : `${head}+local changes`;
  } catch {
    return 'unknown';
  }
}

const int = (n: number | undefined): string =>
  n === undefined ? 'n/a' : Math.round(n).toLocaleString('en-US');
const dec = (n: number | undefined, digits = 2): string => (n === undefined ? 'n/a' : n.toFixed(digits));
const pctCore = (n: number | undefined): string => (n === undefined ? 'n/a' : `${(n * 100).toFixed(1)} %`);
const mib = (n: number | undefined): string => (n === undefined ? 'n/a' : `${Math.round(n / 2 ** 20)} MiB`);
const ratio = (a: number, b: number | undefined): string =>
  b === undefined || b <= 0 ? 'n/a' : `${(a / b).toFixed(2)}×`;

const ROLES = ['runtime', 'broker', 'redis', 'function'] as const;
const perRole = (
  r: PhaseResources | undefined,
  f: (v: PhaseResources) => Record<string, number | undefined>,
  fmt: (n: number | undefined) => string,
): string => (r === undefined ? 'n/a' : ROLES.map((role) => fmt(f(r)[role])).join(' / '));

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

const step = (w: WorkloadReport, rate: number): StepResult | undefined =>
  w.steps.find((s) => s.targetPerSec === rate);
const latency = (s: StepResult | undefined): string =>
  s === undefined
    ? 'n/a'
    : `${int(s.p50Ms)} / ${int(s.p99Ms)} / ${int(s.maxMs)} ms${s.kept ? '' : ' (not kept)'}`;
const label = (w: WorkloadReport): string =>
  `${w.sdk} SDK, ${w.processes} process${w.processes === 1 ? '' : 'es'}`;

/** The console report: references, the runtime's figures (with ratios), and each sweep. */
export function formatRun(run: BenchRun): string {
  const [txn, hop] = run.kafka;
  const out: string[] = [
    `Continuum benchmark, ${run.date}, ${run.machine}, commit ${run.commit}`,
    `settings: ${run.settings}`,
    '',
  ];
  const references = [...run.kafka, ...Object.values(run.functions).flatMap((r) => r ?? [])];
  if (references.length > 0)
    out.push(
      'Physical-limit references (same broker, same machine, same run); CPU-s per 1,000 events runtime / broker / redis / function (driver = the benchmark process):',
      table(
        ['reference', 'events', 'events/s', 'CPU-s/1k ev: broker / redis / function / driver'],
        references.map((r) => [
          r.name,
          int(r.events),
          int(r.eventsPerSec),
          ['broker', 'redis', 'function', 'driver']
            .map((role) => dec(perThousand(r.usage.cpu[role], r.events), 3))
            .join(' / '),
        ]),
      ),
      '',
    );
  if (run.workloads.length > 0) {
    const rows: [string, (w: WorkloadReport) => string][] = [
      [
        'backlog drain, events/s (× kafka txn / × EOS hop / × function alone at the nearest batch size)',
        (w) => {
          if (w.drain === undefined) return 'n/a';
          const fn = nearestFunctionReference(run, w);
          const d = w.drain.eventsPerSec;
          return `${int(d)} (${ratio(d, txn?.eventsPerSec)} / ${ratio(d, hop?.eventsPerSec)} / ${ratio(d, fn?.eventsPerSec)}${fn === undefined ? '' : ` at ${fn.batch}`})`;
        },
      ],
      ['highest paced rate kept, events/s', (w) => int(w.highestKeptPerSec)],
      ['highest paced rate kept with p99 ≤ 1 s', (w) => int(w.highestP99Under1sPerSec)],
      ['paced 500/s: p50 / p99 / max', (w) => latency(step(w, 500))],
      ['paced 1,000/s: p50 / p99 / max', (w) => latency(step(w, 1000))],
      [
        'drain: CPU-s per 1,000 events, runtime / broker / redis / function',
        (w) =>
          perRole(
            w.drain?.resources,
            (r) => r.cpuPer1000,
            (n) => dec(n, 3),
          ),
      ],
      [
        'paced 500/s: CPU-s per 1,000 events, runtime / broker / redis / function',
        (w) =>
          perRole(
            step(w, 500)?.resources,
            (r) => r.cpuPer1000,
            (n) => dec(n, 3),
          ),
      ],
      [
        'drain: cores in use, runtime / broker / redis / function',
        (w) => perRole(w.drain?.resources, (r) => r.cores, pctCore),
      ],
      [
        'paced 500/s: cores in use, runtime / broker / redis / function',
        (w) => perRole(step(w, 500)?.resources, (r) => r.cores, pctCore),
      ],
      [
        'idle: cores in use, runtime / broker / redis / function',
        (w) => perRole(w.idle?.resources, (r) => r.cores, pctCore),
      ],
      [
        'checkpoints/s: drain / 500/s / 1,000/s / idle',
        (w) =>
          [w.drain?.resources, step(w, 500)?.resources, step(w, 1000)?.resources, w.idle?.resources]
            .map((r) => dec(r?.checkpointsPerSec, 1))
            .join(' / '),
      ],
      [
        '__transaction_state writes/s: drain / 500/s / 1,000/s / idle',
        (w) =>
          [w.drain?.resources, step(w, 500)?.resources, step(w, 1000)?.resources, w.idle?.resources]
            .map((r) => dec(r?.txnLogWritesPerSec, 1))
            .join(' / '),
      ],
      [
        'ingress records taken per event, share handed over (not through the internal topic): drain / 500/s / 1,000/s',
        (w) =>
          [w.drain?.resources, step(w, 500)?.resources, step(w, 1000)?.resources]
            .map((r) =>
              r?.handedOverShare === undefined
                ? 'n/a'
                : `${dec(r.ingressPerEvent, 2)}, ${Math.round(r.handedOverShare * 100)} %`,
            )
            .join(' / '),
      ],
      [
        'mean invocations per function request: drain / 500/s / 1,000/s',
        (w) =>
          [w.drain?.resources, step(w, 500)?.resources, step(w, 1000)?.resources]
            .map((r) => dec(r?.meanBatch, 1))
            .join(' / '),
      ],
      ['runtime peak RSS (VmHWM, all processes)', (w) => mib(w.runtimePeakRssBytes)],
      [
        'exactly-once check',
        (w) =>
          w.problems.length === 0
            ? `ok (${int(w.egressRecords)} records)`
            : `${w.problems.length} problem(s)`,
      ],
    ];
    out.push(
      'The runtime (production mode, `statefun run`):',
      table(
        ['figure', ...run.workloads.map(label)],
        rows.map(([name, f]) => [name, ...run.workloads.map(f)]),
      ),
      '',
    );
    for (const w of run.workloads) {
      out.push(
        `Paced sweep, ${label(w)}:`,
        table(
          [
            'target/s',
            'offered/s',
            'egress/s (from latency trend)',
            'latency trend ms/s',
            'p50 ms',
            'p99 ms',
            'max ms',
            'end lag ms',
            'kept',
            'CPU-s/1k ev rt / broker / redis / fn',
            'checkpoints/s',
          ],
          w.steps.map((s) => [
            int(s.targetPerSec),
            int(s.offeredPerSec),
            int(s.egressPerSec),
            int(s.latencyTrendMsPerSec),
            int(s.p50Ms),
            int(s.p99Ms),
            int(s.maxMs),
            s.endLagMs === undefined ? 'n/a' : int(s.endLagMs),
            s.kept ? 'yes' : `no: ${s.reason}`,
            perRole(
              s.resources,
              (r) => r.cpuPer1000,
              (n) => dec(n, 3),
            ),
            dec(s.resources.checkpointsPerSec, 1),
          ]),
        ),
        '',
      );
    }
  }
  for (const r of run.requestReply) {
    out.push(
      `Request-response over HTTP, ${r.sdk} SDK, 1 runtime process, ${int(r.keys)} keys (warm-up: ${int(r.warmup)} requests, not counted):`,
      `durability: ${r.durability}`,
      table(
        [
          'clients',
          'requests',
          'requests/s',
          'p50 ms',
          'p99 ms',
          'max ms',
          'failed',
          'CPU-s/1k req rt / broker / redis / fn',
          'cores rt / broker / redis / fn',
          'driver cores',
        ],
        r.levels.map((l) => [
          String(l.clients),
          int(l.requests),
          int(l.requestsPerSec),
          int(l.p50Ms),
          int(l.p99Ms),
          int(l.maxMs),
          int(l.failed),
          ROLES.map((role) => dec(l.cpuPer1000[role], 3)).join(' / '),
          ROLES.map((role) => pctCore(l.cores[role])).join(' / '),
          pctCore(l.cores.driver),
        ]),
      ),
      r.problems.length === 0
        ? 'check: every reply answered its request, every key counted 1..n'
        : `${r.problems.length} problem(s):\n${r.problems.join('\n')}`,
      '',
    );
  }
  return out.join('\n');
}

/**
 * The function-alone reference of the workload's SDK whose batch size is nearest the mean batch
 * the runtime sent in the drain: the function's own limit at the same batching.
 */
export function nearestFunctionReference(run: BenchRun, w: WorkloadReport): ReferenceResult | undefined {
  const refs = run.functions[w.sdk] ?? [];
  const mean = w.drain?.resources.meanBatch;
  if (mean === undefined) return refs[refs.length - 1];
  // Nearest by ratio: a mean of 5 is nearer 10 than 1.
  const distance = (r: ReferenceResult): number =>
    Math.abs(Math.log(Math.max(1, r.batch ?? 1) / Math.max(1, mean)));
  return [...refs].sort((a, b) => distance(a) - distance(b))[0];
}

function perThousand(cpu: number | undefined, events: number): number | undefined {
  return cpu === undefined || events <= 0 ? undefined : (cpu * 1000) / events;
}

export const RESULTS_HEADER = [
  'date',
  'machine',
  'commit',
  'settings',
  'sdk',
  'processes',
  'drain events/s',
  'ref: kafka txn / EOS hop / function (batch) events/s',
  'drain × refs',
  'kept events/s',
  'p99 ≤ 1 s events/s',
  '500/s p50 / p99 ms',
  '1,000/s p50 / p99 ms',
  'drain CPU-s/1k ev rt / broker / redis / fn',
  '500/s CPU-s/1k ev rt / broker / redis / fn',
  'idle cores rt / broker',
  'checkpoints/s at 500/s',
  'txn-log writes/s at 500/s',
  'runtime peak RSS',
] as const;

/** One RESULTS.md row per workload (runs with exactly-once problems are not recorded). */
export function resultRows(run: BenchRun): string[][] {
  const [txn, hop] = run.kafka;
  return run.workloads
    .filter((w) => w.problems.length === 0 && w.drain !== undefined)
    .map((w) => {
      const drain = w.drain!.eventsPerSec;
      const fn = nearestFunctionReference(run, w);
      const s500 = step(w, 500);
      const s1000 = step(w, 1000);
      const pair = (s: StepResult | undefined): string =>
        s === undefined ? 'n/a' : `${int(s.p50Ms)} / ${int(s.p99Ms)}${s.kept ? '' : ' (not kept)'}`;
      return [
        run.date,
        run.machine,
        run.commit,
        run.settings,
        w.sdk,
        String(w.processes),
        int(drain),
        `${[txn, hop, fn].map((r) => int(r?.eventsPerSec)).join(' / ')}${fn === undefined ? '' : ` (${fn.batch})`}`,
        [txn, hop, fn].map((r) => ratio(drain, r?.eventsPerSec)).join(' / '),
        int(w.highestKeptPerSec),
        int(w.highestP99Under1sPerSec),
        pair(s500),
        pair(s1000),
        perRole(
          w.drain!.resources,
          (r) => r.cpuPer1000,
          (n) => dec(n, 3),
        ),
        perRole(
          s500?.resources,
          (r) => r.cpuPer1000,
          (n) => dec(n, 3),
        ),
        w.idle === undefined
          ? 'n/a'
          : `${pctCore(w.idle.resources.cores.runtime)} / ${pctCore(w.idle.resources.cores.broker)}`,
        dec(s500?.resources.checkpointsPerSec, 1),
        dec(s500?.resources.txnLogWritesPerSec, 1),
        mib(w.runtimePeakRssBytes),
      ];
    });
}

export const REQUEST_REPLY_HEADER = [
  'date',
  'machine',
  'commit',
  'scenario',
  'sdk',
  'clients',
  'requests/s',
  'p50 / p99 / max ms',
  'failed',
  'durability',
  'CPU-s/1k req rt / broker / redis / fn',
] as const;

/** One RESULTS.md row per client count of the request-response scenario (runs with problems are not recorded). */
export function requestReplyRows(run: BenchRun): string[][] {
  return run.requestReply
    .filter((r) => r.problems.length === 0)
    .flatMap((r) =>
      r.levels.map((l) => [
        run.date,
        run.machine,
        run.commit,
        `request-response, 1 runtime process, ${int(r.keys)} keys, ${Math.round(l.seconds)} s`,
        r.sdk,
        String(l.clients),
        int(l.requestsPerSec),
        `${int(l.p50Ms)} / ${int(l.p99Ms)} / ${int(l.maxMs)}`,
        int(l.failed),
        'replies committed before returned (Idempotency-Key on every request)',
        ROLES.map((role) => dec(l.cpuPer1000[role], 3)).join(' / '),
      ]),
    );
}

/** A table of RESULTS.md: its columns and the section text written before its first rows. */
export interface ResultsTable {
  header: readonly string[];
  intro: string;
}

export const THROUGHPUT_TABLE: ResultsTable = {
  header: RESULTS_HEADER,
  intro:
    '\n## The workload of issue 13 (from 2026-12: bench/throughput.bench.test.ts on bench/workload.ts)\n\n' +
    'Kafka ingress (8 partitions, 1,000 keys) → counter function (state + 1, Kafka egress of the count) → output topic, ' +
    'exactly-once, every output checked once with a read_committed consumer. Broker, Redis (AOF, fsync always), the ' +
    'runtime, the function (own process) and the load generator share the machine. "refs" are measured in the same ' +
    'run: kafkajs transactional produce → read_committed consume, one kafkajs exactly-once hop (consume → produce with ' +
    'offsets in the transaction), and the function driven directly with batched ToFunction requests. See bench/README.md.\n',
};

export const REQUEST_REPLY_TABLE: ResultsTable = {
  header: REQUEST_REPLY_HEADER,
  intro:
    '\n## Request-response over HTTP (bench/request-reply.ts)\n\n' +
    'One runtime process (`statefun run`) with the request-response ingress; the function `bench/ask` (state + 1, ' +
    'answers its caller with the count); 1,000 keys; N concurrent HTTP clients on keep-alive connections, each sending ' +
    'its next request when the previous one is answered. Every request has an Idempotency-Key, so every reply is ' +
    'committed (the Kafka transaction of its checkpoint, state in Redis with AOF fsync always) before it is returned; ' +
    'every reply is checked against its request and every key counted 1..n. Latency: request sent → reply received ' +
    'by the client. See bench/README.md.\n',
};

/**
 * Appends rows to RESULTS.md, keeping everything already there. A header row goes first when the
 * file does not end in a table of these columns (a new section, or notes written after the last
 * rows), so that every appended row renders in a table with its header.
 */
export function appendResults(
  file: string,
  rows: readonly (readonly string[])[],
  spec: ResultsTable = THROUGHPUT_TABLE,
): void {
  if (rows.length === 0) return;
  const header = spec.header;
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n';
  const lines = text.trimEnd().split('\n');
  const last = lines[lines.length - 1] ?? '';
  const cells = (line: string): number => line.split('|').length - 2;
  const continues =
    last.startsWith('|') && cells(last) === header.length && text.includes(`| ${header.join(' | ')} |`);
  let add = text.endsWith('\n') || text === '' ? '' : '\n';
  if (!continues) {
    const firstTime = !text.includes(`| ${header.join(' | ')} |`);
    if (firstTime) add += spec.intro;
    add += `\n| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|\n`;
  }
  add += rows.map((r) => `| ${r.map((c) => c.replaceAll('|', '/')).join(' | ')} |\n`).join('');
  appendFileSync(file, add);
}
