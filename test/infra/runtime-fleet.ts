// A fleet of runtime processes in production mode (`statefun run` on the real Kafka broker and
// Redis) for end-to-end and chaos tests: each slot's process is restarted whenever it dies; the
// fleet tells kills by the test from crashes the process did to itself (SIGKILL at a crash point)
// and from unexpected exits, which it records as problems.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from './paths.js';

export interface RuntimeFleetOptions {
  moduleFile: string;
  brokers: readonly string[];
  redisUrl: string;
  /** Partitions of the internal topic. */
  partitions: number;
  processes: number;
  /** The internal topic, the dead-letter topic, the Redis key prefix and the consumer group. */
  names: { internal: string; dlq: string; prefix: string; group: string };
  /** Probability per checkpoint that a process SIGKILLs itself between stage and Kafka commit. */
  crashAfterStage?: number | undefined;
  /** Probability per checkpoint that a process SIGKILLs itself between Kafka commit and promote. */
  crashAfterCommit?: number | undefined;
  /**
   * Further environment of every process. By default a Kafka session timeout of 6 s, so that
   * partitions of a killed process move on quickly; checkpoints with the runtime's defaults.
   */
  env?: Record<string, string> | undefined;
  /** Keep every process's log in `<logDir>/proc-<slot>.log`, at level info. */
  logDir?: string | undefined;
  /**
   * `per-slot` (default): a slot's processes share one identity (CONTINUUM_INSTANCE
   * `<group>-<slot>`), as the restarts of a container in its pod do, so a restarted process takes
   * over its predecessor's transactional ids. `per-start`: every process its own
   * (`<hostname>/<pid>`), as replacement pods have.
   */
  identity?: 'per-slot' | 'per-start' | undefined;
}

const statefunBin = (): string => join(repoRoot(), 'runtime', 'bin', 'statefun.js');

/**
 * The node flags that give a `statefun` process crash points (nothing when both probabilities are
 * 0): the compiled test/infra/crash-points module, preloaded with the probabilities in its URL.
 */
export function crashPointArgs(opts: {
  afterStage?: number | undefined;
  afterCommit?: number | undefined;
}): string[] {
  const afterStage = opts.afterStage ?? 0;
  const afterCommit = opts.afterCommit ?? 0;
  if (afterStage === 0 && afterCommit === 0) return [];
  const file = join(repoRoot(), 'test', 'dist', 'infra', 'crash-points.js');
  if (!existsSync(file)) throw new Error(`${file} is missing: build the test harness with \`npx tsc -b\``);
  const url = pathToFileURL(file);
  url.search = new URLSearchParams({
    afterStage: String(afterStage),
    afterCommit: String(afterCommit),
  }).toString();
  return ['--import', url.href];
}

export class RuntimeFleet {
  /** Kills by the test (kill()). */
  kills = 0;
  /** Processes that SIGKILLed themselves (crash points). */
  selfCrashes = 0;
  restarts = 0;
  /** Unexpected exits, with the last lines of the process's log. */
  readonly problems: string[] = [];
  /** Admin port per slot, read from the process's log (needs logDir: the line is at level info). */
  readonly adminPorts = new Map<number, number>();
  private readonly procs: (ChildProcess | undefined)[] = [];
  /** Slots removed on purpose: not restarted. */
  private readonly retired = new Set<number>();
  private stopping = false;

  constructor(private readonly opts: RuntimeFleetOptions) {
    for (let slot = 0; slot < opts.processes; slot++) this.spawn(slot);
  }

  /** Number of slots (some may be retired). */
  get slots(): number {
    return this.procs.length;
  }

  running(slot: number): boolean {
    return this.procs[slot] !== undefined && !this.retired.has(slot);
  }

  /** OS process ids of the running processes, for CPU and memory accounting (the benchmark). */
  pids(): number[] {
    return this.procs.flatMap((p) => (p?.pid === undefined ? [] : [p.pid]));
  }

  /** SIGKILLs a slot's process and starts a new one; false if the slot has no process. */
  kill(slot: number): boolean {
    const victim = this.procs[slot];
    if (victim === undefined || this.retired.has(slot)) return false;
    this.procs[slot] = undefined;
    victim.kill('SIGKILL');
    this.kills++;
    this.restarts++;
    this.spawn(slot);
    return true;
  }

  /** SIGSTOPs a process: a zombie once its partitions move on. */
  freeze(slot: number): void {
    this.procs[slot]?.kill('SIGSTOP');
  }

  thaw(slot: number): void {
    this.procs[slot]?.kill('SIGCONT');
  }

  /** Starts one more process; returns its slot. */
  add(): number {
    this.procs.push(undefined);
    this.spawn(this.procs.length - 1);
    return this.procs.length - 1;
  }

  /**
   * SIGTERMs a process (final checkpoint, leaves the group) and retires its slot. Resolves with
   * how long the process took to exit. A process still running after `killAfterMs` (default
   * 120 s) is SIGKILLed, and one that exits with a code other than 0 (its stop failed or was
   * given up), is recorded as a problem.
   */
  async remove(slot: number, killAfterMs = 120_000): Promise<number> {
    const victim = this.procs[slot];
    this.retired.add(slot);
    if (victim === undefined) return 0;
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      victim.once('exit', (code) => {
        // A graceful stop exits 0; a stop that failed or was given up exits 1.
        if (code !== null && code !== 0)
          this.problems.push(`process ${slot} exited with code ${code} after SIGTERM`);
        resolve();
      });
      timer = setTimeout(() => {
        this.problems.push(`process ${slot} did not exit within ${killAfterMs} ms of SIGTERM; SIGKILLed`);
        victim.kill('SIGKILL');
      }, killAfterMs);
      victim.kill('SIGTERM');
    });
    clearTimeout(timer);
    this.procs[slot] = undefined;
    return Date.now() - started;
  }

  /** Kills every process (thawing frozen ones first) and restarts none. */
  stop(): void {
    this.stopping = true;
    // Profiled processes (CONTINUUM_FLEET_NODE_ARGS) write their profile only when they exit by
    // themselves: end them gracefully.
    const graceful = (process.env.CONTINUUM_FLEET_NODE_ARGS ?? '') !== '';
    for (const p of this.procs) {
      p?.kill('SIGCONT');
      p?.kill(graceful ? 'SIGTERM' : 'SIGKILL');
    }
  }

  /**
   * Stops every process with SIGTERM (each commits or aborts its open transaction and leaves the
   * group) and resolves once all have exited; a process still running after `timeoutMs` is
   * SIGKILLed. Afterwards no transaction of the fleet is open, so a read_committed reader can read
   * everything up to the end of a topic without waiting out transaction timeouts.
   */
  async stopGracefully(timeoutMs = 30_000): Promise<void> {
    this.stopping = true;
    const running = this.procs.filter(
      (p): p is ChildProcess => p !== undefined && p.exitCode === null && p.signalCode === null,
    );
    await Promise.all(
      running.map(
        (p) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
            p.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            p.kill('SIGCONT');
            p.kill('SIGTERM');
          }),
      ),
    );
  }

  private spawn(slot: number): void {
    const { opts } = this;
    const child = spawn(
      process.execPath,
      [
        // Extra node flags for every runtime process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`
        // to profile a benchmark run (NODE_OPTIONS does not take --cpu-prof).
        ...(process.env.CONTINUUM_FLEET_NODE_ARGS ?? '').split(' ').filter((a) => a !== ''),
        ...crashPointArgs({ afterStage: opts.crashAfterStage, afterCommit: opts.crashAfterCommit }),
        statefunBin(),
        'run',
        '-m',
        opts.moduleFile,
        '--kafka',
        opts.brokers.join(','),
        '--redis',
        opts.redisUrl,
        '--partitions',
        String(opts.partitions),
        '--group',
        opts.names.group,
        '--admin-port',
        '0',
        // Loopback test processes; the harness reads their admin APIs without a token.
        '--admin-insecure',
        '--log-format',
        'json',
        '--log-level',
        // CONTINUUM_FLEET_LOG_LEVEL=debug: the runtime's debug lines (e.g. where a transaction's time goes).
        process.env.CONTINUUM_FLEET_LOG_LEVEL ?? (opts.logDir === undefined ? 'warn' : 'info'),
      ],
      {
        env: {
          ...process.env,
          CONTINUUM_INTERNAL_TOPIC: opts.names.internal,
          CONTINUUM_DEAD_LETTER_TOPIC: opts.names.dlq,
          CONTINUUM_REDIS_KEY_PREFIX: opts.names.prefix,
          CONTINUUM_KAFKA_SESSION_TIMEOUT_MS: '6000',
          ...(opts.identity === 'per-start' ? {} : { CONTINUUM_INSTANCE: `${opts.names.group}-${slot}` }),
          ...opts.env,
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let tail = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-4000);
      const admin = /admin listening on [^:"]+:(\d+)/u.exec(tail);
      if (admin !== null) this.adminPorts.set(slot, Number(admin[1]));
      if (opts.logDir !== undefined) appendFileSync(join(opts.logDir, `proc-${slot}.log`), chunk);
    });
    child.on('exit', (code, signal) => {
      if (this.procs[slot] !== child || this.stopping || this.retired.has(slot)) return;
      this.procs[slot] = undefined;
      // The fleet clears the slot before its own kills, so a SIGKILL here came from the process.
      if (signal === 'SIGKILL') this.selfCrashes++;
      else this.problems.push(`process ${slot} exited with code ${code}: ${tail.slice(-800)}`);
      this.restarts++;
      this.spawn(slot);
    });
    this.procs[slot] = child;
  }
}
