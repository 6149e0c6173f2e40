// Companion processes that `statefun dev` starts next to the runtime (the example function
// services), described in a `statefun-dev.json` beside the module file. They never outlive the
// runtime: each runs under bin/companion-wrapper.js, and a pid file in the data directory lets
// the next start stop what a killed one left behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ContinuumError } from '../errors.js';
import type { Logger } from '../logger.js';

const companionFile = z.object({
  processes: z
    .array(
      z.object({
        name: z.string().min(1),
        command: z.array(z.string()).min(1),
        env: z.record(z.string(), z.string()).optional(),
        /** A loopback port the process listens on once ready. */
        waitForPort: z.number().int().min(1).max(65535).optional(),
      }),
    )
    .max(32),
});

export type Companion = z.infer<typeof companionFile>['processes'][number];

export function readCompanions(file: string): Companion[] {
  if (!existsSync(file)) return [];
  const parsed = companionFile.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) {
    throw new ContinuumError(
      'DEV_CONFIG_INVALID',
      `${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data.processes;
}

export interface RunningCompanions {
  stop(): Promise<void>;
}

/** Where `statefun dev` records itself and its companions, in its data directory. */
export function companionPidFile(dataDir: string): string {
  return join(dataDir, 'companions.pid');
}

interface PidFile {
  /** The `statefun dev` process. */
  pid: number;
  /** Each companion's wrapper: the leader of the process group holding the companion. */
  companions: { name: string; pgid: number }[];
}

const wrapperPath = fileURLToPath(new URL('../../bin/companion-wrapper.js', import.meta.url));
const STALE_GRACE_MS = 5000;

/**
 * Starts the companions, each under a wrapper that ends it when this process is gone (EOF on the
 * wrapper's stdin, which only this process holds), and records them in `pidFile`. Companions left
 * by an earlier `statefun dev` that was killed are stopped first; a `statefun dev` still running
 * with the same data directory is an error.
 */
export async function startCompanions(
  file: string,
  list: Companion[],
  logger: Logger,
  pidFile?: string,
): Promise<RunningCompanions> {
  if (pidFile !== undefined) await stopStaleCompanions(pidFile, logger);
  const cwd = dirname(resolve(file));
  const children: { name: string; child: ChildProcess }[] = [];
  const record = (): void => {
    if (pidFile === undefined) return;
    const content: PidFile = {
      pid: process.pid,
      companions: children.map(({ name, child }) => ({ name, pgid: child.pid ?? 0 })),
    };
    mkdirSync(dirname(pidFile), { recursive: true });
    writeFileSync(pidFile, JSON.stringify(content) + '\n');
  };
  const running: RunningCompanions = {
    async stop() {
      await Promise.all(children.map(({ child }) => stopWrapper(child)));
      if (pidFile !== undefined) rmSync(pidFile, { force: true });
    },
  };
  try {
    for (const c of list) {
      if (c.waitForPort !== undefined && (await portOpen(c.waitForPort))) {
        throw new ContinuumError(
          'DEV_COMPANION_PORT_IN_USE',
          `companion ${c.name} needs port ${c.waitForPort}, but something already listens on 127.0.0.1:${c.waitForPort}. ` +
            'Stop that process (a companion of an earlier statefun dev?) or change the port in ' +
            `${file}, or run with --no-companions to use the service that is running.`,
        );
      }
      const child = spawn(process.execPath, [wrapperPath, ...c.command], {
        cwd,
        env: { ...process.env, ...c.env },
        stdio: ['pipe', 'pipe', 'pipe'],
        // Its own process group: the wrapper can end the companion with everything it started.
        detached: true,
      });
      child.stdin?.on('error', () => undefined);
      forwardLines(child.stdout, c.name, 'info', logger);
      forwardLines(child.stderr, c.name, 'warn', logger);
      child.on('exit', (code, signal) => {
        if (code !== 0 && signal === null)
          logger.error('companion process exited', { process: c.name, code });
      });
      children.push({ name: c.name, child });
      record();
      if (c.waitForPort !== undefined) await waitForPort(c.waitForPort, 30_000, c.name, child);
      logger.info('started companion process', { process: c.name, pid: child.pid });
    }
  } catch (err) {
    await running.stop();
    throw err;
  }
  return running;
}

function stopWrapper(child: ChildProcess): Promise<void> {
  return new Promise<void>((res) => {
    if (child.exitCode !== null || child.signalCode !== null) return res();
    child.once('exit', () => res());
    child.kill('SIGTERM');
    // The wrapper SIGKILLs its group after its own grace; this is the net under that.
    setTimeout(() => signalGroup(child.pid, 'SIGKILL'), STALE_GRACE_MS + 2000).unref();
  });
}

/** Ends the companions an earlier `statefun dev` recorded in `pidFile` if they still run. */
async function stopStaleCompanions(pidFile: string, logger: Logger): Promise<void> {
  if (!existsSync(pidFile)) return;
  let previous: PidFile;
  try {
    previous = JSON.parse(readFileSync(pidFile, 'utf8')) as PidFile;
  } catch {
    rmSync(pidFile, { force: true });
    return;
  }
  if (previous.pid !== process.pid && alive(previous.pid) && looksLikeStatefun(previous.pid)) {
    throw new ContinuumError(
      'DEV_ALREADY_RUNNING',
      `statefun dev (pid ${previous.pid}) is already running with this data directory (${dirname(pidFile)}). ` +
        `Stop it first, or give this one another --data-dir. If no such process runs, delete ${pidFile}.`,
    );
  }
  for (const { name, pgid } of previous.companions ?? []) {
    // A process group id is not reused while the group has members, so a live group is ours.
    if (!Number.isInteger(pgid) || pgid <= 1 || !groupAlive(pgid)) continue;
    logger.warn('stopping a companion left running by an earlier statefun dev', { process: name, pgid });
    signalGroup(pgid, 'SIGTERM');
    const deadline = Date.now() + STALE_GRACE_MS;
    while (groupAlive(pgid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (groupAlive(pgid)) signalGroup(pgid, 'SIGKILL');
  }
  rmSync(pidFile, { force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function groupAlive(pgid: number): boolean {
  return alive(-pgid);
}

function signalGroup(pgid: number | undefined, signal: NodeJS.Signals): void {
  if (pgid === undefined) return;
  try {
    process.kill(-pgid, signal);
  } catch {
    // Already gone.
  }
}

/** On Linux, whether `pid` runs statefun; elsewhere a live pid is taken for one. */
function looksLikeStatefun(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('statefun');
  } catch {
    return !existsSync('/proc/self');
  }
}

const pinoLevels: Record<number, 'debug' | 'info' | 'warn' | 'error'> = {
  10: 'debug',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'error',
};
const levelNames = new Set(['debug', 'info', 'warn', 'error']);

/**
 * Logs each line of a companion's output: a pino/JSON line keeps its level and message (with its
 * other fields), any other line gets `fallback` (info for stdout, warn for stderr).
 */
function forwardLines(
  stream: NodeJS.ReadableStream | null,
  name: string,
  fallback: 'info' | 'warn',
  logger: Logger,
): void {
  if (stream === null) return;
  let partial = '';
  stream.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = (lines.pop() ?? '').slice(-65_536);
    for (const line of lines) logCompanionLine(line, name, fallback, logger);
  });
  stream.on('end', () => {
    if (partial !== '') logCompanionLine(partial, name, fallback, logger);
    partial = '';
  });
}

export function logCompanionLine(
  line: string,
  name: string,
  fallback: 'info' | 'warn',
  logger: Logger,
): void {
  const text = line.trimEnd();
  if (text.trim() === '') return;
  if (text.startsWith('{')) {
    try {
      const entry = JSON.parse(text) as Record<string, unknown>;
      const { level, msg, message, time: _time, pid: _pid, hostname: _host, ...fields } = entry;
      const mapped =
        typeof level === 'number'
          ? pinoLevels[level]
          : typeof level === 'string' && levelNames.has(level.toLowerCase())
            ? (level.toLowerCase() as 'debug' | 'info' | 'warn' | 'error')
            : undefined;
      if (mapped !== undefined) {
        const m = msg ?? message;
        logger[mapped](typeof m === 'string' ? m : JSON.stringify(m ?? ''), { ...fields, process: name });
        return;
      }
    } catch {
      // Not JSON after all: logged as text below.
    }
  }
  logger[fallback](text, { process: name });
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise<boolean>((res) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
}

async function waitForPort(
  port: number,
  timeoutMs: number,
  name: string,
  child: ChildProcess,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await portOpen(port)) return;
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new ContinuumError(
        'DEV_COMPANION_EXITED',
        `${name} exited (code ${child.exitCode ?? child.signalCode}) before it listened on 127.0.0.1:${port}; its output is in the log above`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new ContinuumError(
    'DEV_COMPANION_TIMEOUT',
    `${name} did not listen on 127.0.0.1:${port} within ${timeoutMs / 1000} s`,
  );
}
