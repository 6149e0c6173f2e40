// Child server processes of the harness: a bounded log tail, SIGTERM-then-SIGKILL shutdown, and
// cleanup of servers (and their temp dirs) left behind by a test process that died.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** How a child process ended. */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** What to run; the child's stdout and stderr feed the log tail. */
export interface ManagedProcessOptions {
  command: string;
  args: readonly string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** How many log lines to keep in memory (default 2000). */
  logLines?: number;
  /** Written with the child's pid so a later run can reap it if this process dies. */
  pidFile?: string;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test process that exits without stopping its servers must not leave brokers running.
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

/** Keeps the last `limit` lines of a stream of chunks. */
class LineRing {
  private readonly lines: string[] = [];
  private partial = '';

  constructor(private readonly limit: number) {}

  push(chunk: string): void {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) {
      this.lines.push(line);
      if (this.lines.length > this.limit) this.lines.shift();
    }
    // A line without a newline for a long time must not grow without bound either.
    if (this.partial.length > 64 * 1024) {
      this.push('\n');
    }
  }

  tail(n: number): string[] {
    const all = this.partial === '' ? this.lines : [...this.lines, this.partial];
    return all.slice(Math.max(0, all.length - n));
  }
}

/** One running child process. */
export class ManagedProcess {
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ProcessExit>;
  private readonly child: ChildProcess;
  private readonly ring: LineRing;
  private exitInfo: ProcessExit | undefined;
  private spawnError: Error | undefined;

  private constructor(child: ChildProcess, ring: LineRing) {
    this.child = child;
    this.ring = ring;
    this.exited = new Promise((resolve) => {
      child.once('error', (err) => {
        this.spawnError = err;
        this.ring.push(`[harness] could not start ${child.spawnfile}: ${err.message}\n`);
        if (child.pid === undefined) {
          this.exitInfo = { code: null, signal: null };
          live.delete(child);
          resolve(this.exitInfo);
        }
      });
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        live.delete(child);
        resolve(this.exitInfo);
      });
    });
  }

  /** Starts the process; spawn failures (ENOENT) show up as an immediate exit with {@link spawnFailure}. */
  static async start(options: ManagedProcessOptions): Promise<ManagedProcess> {
    installExitHook();
    const ring = new LineRing(options.logLines ?? 2000);
    const child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid !== undefined) live.add(child);
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => ring.push(chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => ring.push(chunk));
    const managed = new ManagedProcess(child, ring);
    if (options.pidFile !== undefined && child.pid !== undefined) {
      await writeFile(options.pidFile, String(child.pid));
    }
    return managed;
  }

  /** The OS process id, when the spawn succeeded. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** True until the process has exited. */
  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** The spawn error (e.g. ENOENT when the binary is missing), if the process never started. */
  get spawnFailure(): Error | undefined {
    return this.spawnError;
  }

  /** How the process ended, once it has. */
  get exitStatus(): ProcessExit | undefined {
    return this.exitInfo;
  }

  /** The last `n` lines the process wrote to stdout and stderr. */
  logTail(n = 40): string {
    return this.ring.tail(n).join('\n');
  }

  /** SIGTERM, then SIGKILL when the process has not exited within `graceMs`. */
  async terminate(graceMs = 10_000): Promise<ProcessExit> {
    if (!this.running) return this.exited;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), graceMs);
    });
    const outcome = await Promise.race([this.exited, deadline]);
    clearTimeout(timer);
    if (outcome === 'late') this.child.kill('SIGKILL');
    return this.exited;
  }

  /** SIGKILL: the process gets no chance to flush or shut down cleanly. */
  async kill(): Promise<ProcessExit> {
    if (this.running) this.child.kill('SIGKILL');
    return this.exited;
  }
}

const OWNER_FILE = 'owner.pid';
const SERVER_PID_FILE = 'server.pid';

/** The pid file {@link ManagedProcess.start} should write into a scratch dir from {@link makeScratchDir}. */
export function serverPidFile(scratchDir: string): string {
  return join(scratchDir, SERVER_PID_FILE);
}

/** A fresh temp dir `<tmp>/<prefix>-XXXXXX` that records this process as its owner. */
export async function makeScratchDir(prefix: string): Promise<string> {
  await reapOrphans(prefix);
  const dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
  await writeFile(join(dir, OWNER_FILE), String(process.pid));
  return dir;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readPid(file: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt(await readFile(file, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Removes scratch dirs of `prefix` whose owning test process is gone, first killing the server
 * that ran in them. The server pid is only signalled when its command line names that dir, so a
 * recycled pid of an unrelated process is never touched.
 */
export async function reapOrphans(prefix: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(tmpdir());
  } catch {
    return;
  }
  for (const entry of entries.filter((e) => e.startsWith(`${prefix}-`)).slice(0, 200)) {
    const dir = join(tmpdir(), entry);
    const owner = await readPid(join(dir, OWNER_FILE));
    if (owner === undefined || isAlive(owner)) continue;
    const server = await readPid(join(dir, SERVER_PID_FILE));
    if (server !== undefined && isAlive(server)) {
      const cmdline = await readFile(`/proc/${server}/cmdline`, 'utf8').catch(() => '');
      if (cmdline.includes(dir)) {
        try {
          process.kill(server, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}
