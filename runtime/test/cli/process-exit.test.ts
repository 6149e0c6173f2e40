// Ending a `statefun run` process: a stop that does not finish in time is let go, and a process
// whose clients left a connection open exits anyway after the linger, naming what was open.
import { createServer, type Server, type Socket } from 'node:net';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { exitOnceSettled, openResources, settlesWithin } from '../../src/cli/process-exit.js';
import type { Logger } from '../../src/logger.js';

interface Line {
  level: string;
  msg: string;
  fields: Record<string, unknown> | undefined;
}

function recordingLogger(lines: Line[]): Logger {
  const at =
    (level: string) =>
    (msg: string, fields?: Record<string, unknown>): void =>
      void lines.push({ level, msg, fields });
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  };
  return logger;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
  process.exitCode = undefined;
});

/** A loopback server and a client socket connected to it, left open like a client library's. */
async function openConnection(): Promise<{ server: Server; socket: Socket; port: number }> {
  const accepted: Socket[] = [];
  const server = createServer((s) => void accepted.push(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  cleanups.push(() => {
    socket.destroy();
    for (const s of accepted) s.destroy();
    server.close();
  });
  return { server, socket, port };
}

describe('process exit after a stop', () => {
  it('exits through `exit` after the linger while a connection is still open, and logs it at debug', async () => {
    const { port } = await openConnection();
    const lines: Line[] = [];
    const exits: number[] = [];
    const started = Date.now();
    await exitOnceSettled(0, recordingLogger(lines), (code) => void exits.push(code), 200);
    expect(exits).toEqual([0]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(process.exitCode).toBe(0);
    const line = lines.find((l) => l.msg === 'exiting with resources still open');
    expect(line?.level).toBe('debug');
    expect((line?.fields?.open as Record<string, number>).TCPSocketWrap).toBeGreaterThanOrEqual(1);
    expect(line?.fields?.connections).toContain(`127.0.0.1:${port}`);
  });

  it('passes the exit code of a stop that failed', async () => {
    const exits: number[] = [];
    await exitOnceSettled(1, recordingLogger([]), (code) => void exits.push(code), 10);
    expect(exits).toEqual([1]);
    expect(process.exitCode).toBe(1);
  });

  it('counts what keeps the event loop alive by kind', () => {
    const timer = setInterval(() => undefined, 60_000);
    cleanups.push(() => clearInterval(timer));
    expect(openResources().Timeout).toBeGreaterThanOrEqual(1);
  });

  it('lets a stop that does not settle in time go', async () => {
    expect(await settlesWithin(new Promise(() => undefined), 50)).toBe(false);
    expect(await settlesWithin(Promise.resolve(), 5000)).toBe(true);
    // A stop that failed still settled: the exit goes on.
    expect(await settlesWithin(Promise.reject(new Error('broker gone')), 5000)).toBe(true);
  });
});
