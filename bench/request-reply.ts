// The request-response scenario of the benchmark: one runtime process in production mode
// (`statefun run` on the real broker and Redis) with the request-response HTTP ingress, the
// counter-like function `bench/ask` (state + 1, answers its caller with `<key>|<seq>|<count>`), and
// N concurrent HTTP clients over keep-alive connections, each sending its next request as soon as
// the previous one is answered, for a fixed time per client count. Every request carries an
// Idempotency-Key, so every reply is committed (the checkpoint's Kafka transaction) before it is
// returned. Every reply is checked: it answers its own request, and each key's counts are exactly
// 1..n over the whole run (each request took effect once). The figures are returned, never asserted.
import { Agent, request } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { types } from '@continuum/sdk';
import { createKafkaClient, RuntimeFleet, uniqueName } from '@continuum/test-infra';
import { ResourceMeter, type Roles } from './proc-stats.js';
import { startFunction, stopFunction, type BenchSdk } from './workload.js';

/** What each row of the scenario guarantees, in the report and in RESULTS.md. */
export const REQUEST_REPLY_DURABILITY =
  'Idempotency-Key on every request (bound in Redis before the message enters the log); reply returned only after the checkpoint that produced it committed (Kafka transaction, Redis AOF fsync always): exactly once per key';

export interface RequestReplyOptions {
  brokers: readonly string[];
  redisUrl: string;
  sdk: BenchSdk;
  /** Partitions of the internal topic. */
  partitions: number;
  /** Distinct function addresses, requests spread round-robin over them. */
  keys: number;
  /** Concurrent HTTP clients of each level, in order (e.g. 16, 64). */
  clients: readonly number[];
  /** Seconds each level runs. */
  seconds: number;
  /** Upper bound on the requests of one level (the load loop stops at whichever comes first). */
  maxRequestsPerLevel?: number | undefined;
  /** Requests of each HTTP call's wait before it counts as failed. @defaultValue 30000 */
  requestTimeoutMs?: number | undefined;
  /** The broker's and Redis's processes (empty when not local). */
  infraRoles: () => Roles;
  env?: Record<string, string> | undefined;
  log?: ((line: string) => void) | undefined;
}

export interface RequestReplyLevel {
  clients: number;
  /** Requests answered 200 with the right reply. */
  requests: number;
  seconds: number;
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Requests not answered 200 (202 timeouts, errors, connection failures). */
  failed: number;
  /** Average cores in use per role over the level. */
  cores: Record<string, number | undefined>;
  /** CPU-seconds per 1,000 requests per role. */
  cpuPer1000: Record<string, number | undefined>;
}

export interface RequestReplyReport {
  sdk: BenchSdk;
  keys: number;
  durability: string;
  /** Requests sent before the levels to touch every key once (not measured). */
  warmup: number;
  levels: RequestReplyLevel[];
  /** Logs of the runtime process when there were problems. */
  logDir: string | undefined;
  problems: string[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

function pct(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

function moduleYaml(fnPort: number): string {
  return [
    '# The benchmark request-response scenario.',
    'kind: io.statefun.endpoints.v2/http',
    'spec:',
    '  functions: bench/*',
    `  urlPathTemplate: http://127.0.0.1:${fnPort}/{function.name}`,
    '  transport:',
    '    call: 30s',
    '---',
    'kind: io.continuum.http.v1/ingress',
    'spec:',
    '  id: bench/requests',
    '  port: 0',
    '  defaultTimeout: 30s',
    '',
  ].join('\n');
}

/**
 * The replies of the run: each must answer its own request (`<key>|<seq>|<count>` for the seq
 * sent to that key), and each key's counts must be exactly 1..n in the end.
 */
export class ReplyLedger {
  readonly countsByKey: number[][];
  readonly problems: string[] = [];
  sent = 0;
  answered = 0;

  constructor(private readonly keys: number) {
    this.countsByKey = Array.from({ length: keys }, () => []);
  }

  problem(text: string): void {
    if (this.problems.length < 50) this.problems.push(text);
    else if (this.problems.length === 50) this.problems.push('… more problems left out');
  }

  /** The key request `seq` goes to. */
  key(seq: number): string {
    return `k${seq % this.keys}`;
  }

  /** The reply to request `seq`; false (and a problem) when it is not the answer to that request. */
  reply(seq: number, text: string): boolean {
    const [key, seqText, countText] = text.split('|');
    const count = Number(countText);
    if (key !== this.key(seq) || seqText !== String(seq) || !Number.isInteger(count) || count < 1) {
      this.problem(`request ${seq} to ${this.key(seq)} got the reply "${text}"`);
      return false;
    }
    this.countsByKey[seq % this.keys]!.push(count);
    this.answered++;
    return true;
  }

  /** Each key's counts are 1..n: every answered request took effect once, nothing else did. */
  verify(): void {
    for (let k = 0; k < this.keys; k++) {
      const got = this.countsByKey[k]!.sort((a, b) => a - b);
      let ok = true;
      for (let i = 0; ok && i < got.length; i++) ok = got[i] === i + 1;
      if (!ok)
        this.problem(
          `key k${k}: counts [${got.slice(0, 8).join(',')}${got.length > 8 ? ',…' : ''}] (${got.length}) instead of 1..${got.length}`,
        );
    }
  }
}

interface Answer {
  status: number;
  body: Buffer;
}

function post(
  agent: Agent,
  port: number,
  path: string,
  body: Buffer,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent,
        headers: { ...headers, 'content-length': String(body.length) },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** The port the ingress listens on, from the process's log line. */
function ingressPort(logFile: string): number | undefined {
  if (!existsSync(logFile)) return undefined;
  const all = [
    ...readFileSync(logFile, 'utf8').matchAll(/http ingress bench\/requests listening on [^:"]+:(\d+)/gu),
  ];
  const last = all[all.length - 1];
  return last === undefined ? undefined : Number(last[1]);
}

/** Runs the scenario once (one SDK, one runtime process, every client count) and returns its figures. */
export async function runRequestReply(opts: RequestReplyOptions): Promise<RequestReplyReport> {
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const id = uniqueName(`bench-rr-${opts.sdk}`);
  const names = {
    dlq: `${id}-dlq`,
    internal: `${id}-internal`,
    replies: `${id}-replies`,
    group: id,
    prefix: id,
  };
  const timeoutMs = opts.requestTimeoutMs ?? 30_000;
  const maxRequests = opts.maxRequestsPerLevel ?? 200_000;
  const ledger = new ReplyLedger(opts.keys);
  const dir = mkdtempSync(join(tmpdir(), 'continuum-bench-rr-'));
  const logDir = join(dir, 'logs');
  mkdirSync(logDir);
  const report: RequestReplyReport = {
    sdk: opts.sdk,
    keys: opts.keys,
    durability: REQUEST_REPLY_DURABILITY,
    warmup: 0,
    levels: [],
    logDir: undefined,
    problems: [],
  };
  const fn = await startFunction(opts.sdk, `${id}-unused`);
  const agent = new Agent({ keepAlive: true, maxSockets: Math.max(...opts.clients, 1) });
  let fleet: RuntimeFleet | undefined;
  try {
    const moduleFile = join(dir, 'module.yaml');
    writeFileSync(moduleFile, moduleYaml(fn.port));
    fleet = new RuntimeFleet({
      moduleFile,
      brokers: opts.brokers,
      redisUrl: opts.redisUrl,
      partitions: opts.partitions,
      processes: 1,
      names,
      logDir,
      env: {
        CONTINUUM_REPLIES_TOPIC: names.replies,
        CONTINUUM_KAFKA_SESSION_TIMEOUT_MS: '10000',
        ...opts.env,
      },
    });
    // Ready: the admin API says so and the ingress has logged its port.
    const logFile = join(logDir, 'proc-0.log');
    const readyBy = Date.now() + 120_000;
    let port: number | undefined;
    while (port === undefined) {
      if (Date.now() > readyBy) throw new Error('the runtime was not ready within 120 s');
      const admin = fleet.adminPorts.get(0);
      const ready =
        admin !== undefined &&
        (await fetch(`http://127.0.0.1:${admin}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
          (r) => r.ok,
          () => false,
        ));
      if (ready) port = ingressPort(logFile);
      if (port === undefined) await sleep(200);
    }
    const ingress = port;

    let seq = 0;
    /** One request; its latency in ms, or undefined when it was not answered with its reply. */
    const one = async (): Promise<number | undefined> => {
      const s = seq++;
      ledger.sent++;
      const started = performance.now();
      try {
        const res = await post(
          agent,
          ingress,
          `/v1/invoke/bench/ask/${ledger.key(s)}`,
          Buffer.from(String(s)),
          { 'content-type': 'application/vnd.bench/Event', 'idempotency-key': `${id}-${s}` },
          timeoutMs,
        );
        const ms = performance.now() - started;
        if (res.status !== 200) {
          ledger.problem(`request ${s}: HTTP ${res.status} ${res.body.toString('utf8').slice(0, 200)}`);
          return undefined;
        }
        return ledger.reply(s, types.string.deserialize(new Uint8Array(res.body))) ? ms : undefined;
      } catch (err) {
        ledger.problem(`request ${s}: ${err instanceof Error ? err.message : String(err)}`);
        return undefined;
      }
    };
    const roles = (): Roles => ({
      runtime: fleet?.pids() ?? [],
      ...opts.infraRoles(),
      function: [fn.pid],
      driver: [process.pid],
    });

    // Warm-up: every key once (its state exists, connections are open), 16 at a time.
    const warmupClients = Math.min(16, opts.keys);
    await Promise.all(
      Array.from({ length: warmupClients }, async () => {
        while (seq < opts.keys) await one();
      }),
    );
    report.warmup = seq;
    log(`bench request-reply ${opts.sdk}: warm-up of ${seq} requests done`);

    for (const clients of opts.clients) {
      const latencies: number[] = [];
      let failed = 0;
      const meter = new ResourceMeter(roles);
      const start = Date.now();
      const end = start + opts.seconds * 1000;
      let issued = 0;
      await Promise.all(
        Array.from({ length: clients }, async () => {
          while (Date.now() < end && issued < maxRequests) {
            issued++;
            const ms = await one();
            if (ms === undefined) failed++;
            else latencies.push(ms);
          }
        }),
      );
      const usage = meter.stop();
      const seconds = (Date.now() - start) / 1000;
      latencies.sort((a, b) => a - b);
      const per = (v: number | undefined, d: number): number | undefined =>
        v === undefined || d <= 0 ? undefined : v / d;
      const map = (f: (v: number | undefined) => number | undefined): Record<string, number | undefined> =>
        Object.fromEntries(Object.entries(usage.cpu).map(([role, v]) => [role, f(v)]));
      const level: RequestReplyLevel = {
        clients,
        requests: latencies.length,
        seconds,
        requestsPerSec: Math.round(latencies.length / seconds),
        p50Ms: Math.round(pct(latencies, 0.5)),
        p99Ms: Math.round(pct(latencies, 0.99)),
        maxMs: Math.round(latencies[latencies.length - 1] ?? 0),
        failed,
        cores: map((v) => per(v, usage.seconds)),
        cpuPer1000: map((v) => per(v, latencies.length / 1000)),
      };
      report.levels.push(level);
      log(
        `bench request-reply ${opts.sdk}: ${clients} clients: ${level.requestsPerSec} requests/s, p50 ${level.p50Ms} ms, p99 ${level.p99Ms} ms, max ${level.maxMs} ms, ${failed} failed`,
      );
    }
    report.problems.push(...fleet.problems);
    if (fleet.restarts > 0) report.problems.push(`${fleet.restarts} runtime restart(s)`);
  } catch (err) {
    report.problems.push(
      `request-reply scenario failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
  } finally {
    fleet?.stop();
    agent.destroy();
    await stopFunction(fn.child);
    const admin = createKafkaClient(opts.brokers, { clientId: 'bench-rr-cleanup' }).admin();
    await admin.connect().catch(() => undefined);
    await admin.deleteTopics({ topics: [names.dlq, names.internal, names.replies] }).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
  ledger.verify();
  if (ledger.answered === 0) ledger.problem('no request was answered');
  report.problems.push(...ledger.problems);
  if (report.problems.length > 0) report.logDir = logDir;
  else if (process.env.BENCH_KEEP_LOGS === '1') process.stdout.write(`bench: runtime logs in ${logDir}\n`);
  else rmSync(dir, { recursive: true, force: true });
  return report;
}
