// Companion processes that `statefun dev` starts next to the runtime (the example function
// services), described in a `statefun-dev.json` beside the module file.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, resolve } from 'node:path';
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

export async function startCompanions(
  file: string,
  list: Companion[],
  logger: Logger,
): Promise<RunningCompanions> {
  const cwd = dirname(resolve(file));
  const children: { name: string; child: ChildProcess }[] = [];
  for (const c of list) {
    const [cmd, ...args] = c.command;
    const child = spawn(cmd!, args, {
      cwd,
      env: { ...process.env, ...c.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const prefix = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line.trim() !== '') logger.info(line, { process: c.name });
    };
    child.stdout?.on('data', prefix);
    child.stderr?.on('data', prefix);
    child.on('exit', (code, signal) => {
      if (code !== 0 && signal === null) logger.error('companion process exited', { process: c.name, code });
    });
    children.push({ name: c.name, child });
    if (c.waitForPort !== undefined) await waitForPort(c.waitForPort, 30_000, c.name);
    logger.info('started companion process', { process: c.name, pid: child.pid });
  }
  return {
    async stop() {
      await Promise.all(
        children.map(
          ({ child }) =>
            new Promise<void>((res) => {
              if (child.exitCode !== null || child.signalCode !== null) return res();
              child.once('exit', () => res());
              child.kill('SIGTERM');
              setTimeout(() => child.kill('SIGKILL'), 5000).unref();
            }),
        ),
      );
    },
  };
}

async function waitForPort(port: number, timeoutMs: number, name: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((res) => {
      const s = connect({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        res(true);
      });
      s.once('error', () => res(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new ContinuumError(
    'DEV_COMPANION_TIMEOUT',
    `${name} did not listen on 127.0.0.1:${port} within ${timeoutMs / 1000} s`,
  );
}
