// CPU and memory of the benchmark's processes, read from /proc (Linux only): which process is the
// broker or redis-server (the one listening on its port), CPU-seconds between two snapshots, and
// peak resident memory sampled while a phase runs.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime. */
const clockTicks = ((): number => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU-seconds a process has used so far (all its threads); undefined once it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 (utime, stime) are at 11 and 12 counting from field 3.
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return undefined;
  }
}

/** A line of /proc/<pid>/status in bytes (`VmRSS`, `VmHWM`); undefined once the process is gone. */
function statusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? undefined : Number(m[1]) * 1024;
  } catch {
    return undefined;
  }
}

export const rssBytes = (pid: number): number | undefined => statusBytes(pid, 'VmRSS');
/** The highest resident set size the process ever had (the kernel's high-water mark). */
export const peakRssBytes = (pid: number): number | undefined => statusBytes(pid, 'VmHWM');

export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** Socket inodes listening on a TCP port (IPv4 and IPv6). */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      // State 0A is LISTEN; column 9 is the socket's inode.
      if (local === undefined || cols[3] !== '0A' || cols[9] === undefined) continue;
      if (Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port) inodes.add(cols[9]);
    }
  }
  return inodes;
}

/**
 * The pid of the process listening on `port` on this machine, found through its socket's inode
 * (so it works whatever the command line looks like); undefined when no visible process listens
 * there (a server in a container or on another host).
 */
export function pidListeningOn(port: number): number | undefined {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return undefined;
  const wanted = new Set([...inodes].map((i) => `socket:[${i}]`));
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (wanted.has(readlinkSync(`/proc/${entry}/fd/${fd}`))) return Number(entry);
      } catch {
        // The descriptor closed meanwhile.
      }
    }
  }
  return undefined;
}

/** Port of a `host:port` address or a `redis://host:port` URL. */
export function portOf(address: string): number {
  const m = /:(\d+)\/?$/.exec(address.trim());
  if (m === null) throw new Error(`no port in ${address}`);
  return Number(m[1]);
}

/** The processes measured, by role; a role may have several processes (runtime) or none (n/a). */
export type Roles = Record<string, readonly number[]>;

/** What one phase used, per role. */
export interface Usage {
  /** Wall-clock seconds of the phase. */
  seconds: number;
  /** CPU-seconds per role (sum over its processes); undefined when the role has no process. */
  cpu: Record<string, number | undefined>;
  /** Highest summed resident set size per role seen while the phase ran (sampled). */
  peakRss: Record<string, number | undefined>;
}

/**
 * Measures CPU and memory of the roles' processes from now until {@link stop}: CPU from the
 * difference of two /proc snapshots, peak RSS from samples every `sampleMs` (a short burst
 * between samples can be missed; VmHWM gives the lifetime peak).
 */
export class ResourceMeter {
  private readonly started = Date.now();
  private readonly startCpu: Record<string, number | undefined>;
  private readonly peak: Record<string, number | undefined> = {};
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly roles: () => Roles,
    sampleMs = 500,
  ) {
    this.startCpu = this.cpuNow();
    this.sample();
    this.timer = setInterval(() => this.sample(), sampleMs);
    this.timer.unref();
  }

  stop(): Usage {
    clearInterval(this.timer);
    this.sample();
    const end = this.cpuNow();
    const cpu: Record<string, number | undefined> = {};
    for (const [role, after] of Object.entries(end)) {
      const before = this.startCpu[role];
      cpu[role] = after === undefined || before === undefined ? undefined : Math.max(0, after - before);
    }
    return { seconds: (Date.now() - this.started) / 1000, cpu, peakRss: { ...this.peak } };
  }

  private cpuNow(): Record<string, number | undefined> {
    const out: Record<string, number | undefined> = {};
    for (const [role, pids] of Object.entries(this.roles())) {
      const values = pids.map(cpuSeconds).filter((v): v is number => v !== undefined);
      out[role] = values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0);
    }
    return out;
  }

  private sample(): void {
    for (const [role, pids] of Object.entries(this.roles())) {
      const values = pids.map(rssBytes).filter((v): v is number => v !== undefined);
      if (values.length === 0) continue;
      const sum = values.reduce((a, b) => a + b, 0);
      this.peak[role] = Math.max(this.peak[role] ?? 0, sum);
    }
  }
}

/** The machine in one line: cores, CPU model, memory, Node version. */
export function machineDescription(): string {
  const all = cpus();
  return `${all.length} × ${all[0]?.model.trim() ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}
