// Companions of `statefun dev` never outlive it: after a SIGKILL of the runtime its companion
// exits within seconds and the next `statefun dev` starts its own; a companion group recorded in
// the data directory's pid file is stopped at the next start; companion log lines keep their level.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { logCompanionLine } from '../../src/cli/companions.js';
import type { Logger } from '../../src/logger.js';
import { endpointDoc, freePorts } from './support.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = join(root, 'runtime', 'bin', 'statefun.js');

/** A companion that records its pid, logs one pino warn line and one plain line, and listens. */
const companionScript = `
import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
writeFileSync(process.env.PID_FILE, String(process.pid));
createServer((_q, s) => s.end()).listen(Number(process.env.PORT), '127.0.0.1', () => {
  console.log(JSON.stringify({ level: 40, time: Date.now(), pid: process.pid, msg: 'companion warns', detail: 7 }));
  console.log('plain companion line');
});
`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface Running {
  child: ChildProcess;
  lines: string[];
}

const started: ChildProcess[] = [];
const companionPids: number[] = [];

afterEach(() => {
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const pid of companionPids.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
});

describe('statefun dev companions', () => {
  const dir = mkdtempSync(join(tmpdir(), 'continuum-companions-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function setup(name: string): Promise<{ moduleFile: string; dataDir: string; pidFile: string }> {
    const [port] = await freePorts(1);
    const base = join(dir, name);
    const moduleFile = `${base}-module.yaml`;
    const pidFile = `${base}-companion.pid`;
    writeFileSync(`${base}-companion.mjs`, companionScript);
    writeFileSync(moduleFile, endpointDoc('cmp/*', port!) + '\n');
    // statefun-dev.json sits beside the module file: one directory per case.
    writeFileSync(
      join(dir, 'statefun-dev.json'),
      JSON.stringify({
        processes: [
          {
            name: 'echo',
            command: ['node', `${base}-companion.mjs`],
            env: { PORT: String(port), PID_FILE: pidFile },
            waitForPort: port,
          },
        ],
      }),
    );
    return { moduleFile, dataDir: `${base}-data`, pidFile };
  }

  function startDev(moduleFile: string, dataDir: string): Running {
    const child = spawn(
      process.execPath,
      [bin, 'dev', '-m', moduleFile, '--data-dir', dataDir, '--admin-port', '0', '--log-format', 'json'],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    started.push(child);
    const lines: string[] = [];
    const keep = (chunk: Buffer): void => {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') lines.push(l);
      if (lines.length > 500) lines.splice(0, lines.length - 500);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    return { child, lines };
  }

  const ready = (r: Running): Promise<unknown> =>
    waitUntil(() => r.lines.some((l) => l.includes('statefun dev is running')), {
      timeoutMs: 60_000,
      what: `statefun dev to run (output: ${r.lines.slice(-5).join(' | ')})`,
      intervalMs: 50,
    });

  it('a SIGKILLed statefun dev leaves no companion behind, and the next one starts its own', async () => {
    const { moduleFile, dataDir, pidFile } = await setup('kill');
    const first = startDev(moduleFile, dataDir);
    await ready(first);
    const firstCompanion = Number(readFileSync(pidFile, 'utf8'));
    companionPids.push(firstCompanion);
    expect(alive(firstCompanion)).toBe(true);

    // Its log lines keep their level: pino JSON → its own level, plain stdout → info.
    const entries = first.lines
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries).toContainEqual(
      expect.objectContaining({ level: 'warn', msg: 'companion warns', detail: 7, process: 'echo' }),
    );
    expect(entries).toContainEqual(
      expect.objectContaining({ level: 'info', msg: 'plain companion line', process: 'echo' }),
    );

    const killedAt = Date.now();
    first.child.kill('SIGKILL');
    await waitUntil(() => !alive(firstCompanion), {
      timeoutMs: 10_000,
      what: 'the companion to exit after its runtime was killed',
      intervalMs: 50,
    });
    expect(Date.now() - killedAt).toBeLessThan(10_000);

    rmSync(pidFile);
    const second = startDev(moduleFile, dataDir);
    await ready(second);
    const secondCompanion = Number(readFileSync(pidFile, 'utf8'));
    companionPids.push(secondCompanion);
    expect(secondCompanion).not.toBe(firstCompanion);
    expect(alive(secondCompanion)).toBe(true);
    expect(second.lines.join('\n')).not.toMatch(/EADDRINUSE/);

    const exited = new Promise<string>((r) =>
      second.child.once('exit', (code, signal) => r(code === null ? `signal ${signal}` : `code ${code}`)),
    );
    second.child.kill('SIGTERM');
    const how = await exited;
    expect(how, `statefun dev ended with ${how}; its last lines: ${second.lines.slice(-8).join(' | ')}`).toBe(
      'code 0',
    );
    expect(alive(secondCompanion)).toBe(false);
    expect(existsSync(join(dataDir, 'companions.pid'))).toBe(false);
  });

  it('stops a companion group that the pid file of a killed statefun dev still lists', async () => {
    const { moduleFile, dataDir } = await setup('stale');
    // A leftover: a process group whose leader ignores EOF (as an older wrapper might have).
    const leftover = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {
      detached: true,
      stdio: 'ignore',
    });
    companionPids.push(leftover.pid!);
    const gone = new Promise<void>((r) => leftover.once('exit', () => r()));
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(
      join(dataDir, 'companions.pid'),
      JSON.stringify({ pid: 2 ** 22 + 7, companions: [{ name: 'echo', pgid: leftover.pid }] }),
    );
    const dev = startDev(moduleFile, dataDir);
    await ready(dev);
    await gone;
    expect(dev.lines.join('\n')).toContain('stopping a companion left running by an earlier statefun dev');
  });

  it('refuses to start beside a running statefun dev on the same data directory', async () => {
    const { moduleFile, dataDir, pidFile } = await setup('twice');
    const first = startDev(moduleFile, dataDir);
    await ready(first);
    companionPids.push(Number(readFileSync(pidFile, 'utf8')));
    const second = startDev(moduleFile, dataDir);
    const code = await new Promise<number | null>((r) => second.child.once('exit', (c) => r(c)));
    expect(code).toBe(1);
    expect(second.lines.join('\n')).toContain(
      `statefun dev (pid ${first.child.pid}) is already running with this data directory`,
    );
  });

  it('refuses a companion port that something else already holds, with a clear error', async () => {
    const { moduleFile, dataDir } = await setup('busy');
    const config = JSON.parse(readFileSync(join(dir, 'statefun-dev.json'), 'utf8')) as {
      processes: { waitForPort: number }[];
    };
    const { createServer } = await import('node:net');
    const squatter = createServer();
    await new Promise<void>((r) => squatter.listen(config.processes[0]!.waitForPort, '127.0.0.1', r));
    try {
      const dev = startDev(moduleFile, dataDir);
      const code = await new Promise<number | null>((r) => dev.child.once('exit', (c) => r(c)));
      expect(code).not.toBe(0);
      expect(dev.lines.join('\n')).toMatch(/companion echo needs port \d+, but something already listens/);
    } finally {
      await new Promise((r) => squatter.close(r));
    }
  });
});

describe('companion log lines', () => {
  function recorder(): { logger: Logger; seen: [string, string, Record<string, unknown> | undefined][] } {
    const seen: [string, string, Record<string, unknown> | undefined][] = [];
    const at =
      (level: string) =>
      (msg: string, fields?: Record<string, unknown>): void =>
        void seen.push([level, msg, fields]);
    const logger: Logger = {
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: () => logger,
    };
    return { logger, seen };
  }

  it('keep the level of pino JSON lines and give plain lines the stream default', () => {
    const { logger, seen } = recorder();
    logCompanionLine('{"level":50,"msg":"boom","err":{"message":"x"}}', 'fn', 'info', logger);
    logCompanionLine('{"level":"debug","message":"quiet"}', 'fn', 'info', logger);
    logCompanionLine('{"level":30,"msg":"hello"}', 'fn', 'warn', logger);
    logCompanionLine('{"not":"a log line"}', 'fn', 'info', logger);
    logCompanionLine('Error: listen EADDRINUSE', 'fn', 'warn', logger);
    logCompanionLine('   ', 'fn', 'info', logger);
    expect(seen.map(([level, msg]) => [level, msg])).toEqual([
      ['error', 'boom'],
      ['debug', 'quiet'],
      ['info', 'hello'],
      ['info', '{"not":"a log line"}'],
      ['warn', 'Error: listen EADDRINUSE'],
    ]);
    expect(seen[0]![2]).toEqual({ err: { message: 'x' }, process: 'fn' });
  });
});
