// Crash points reach a `statefun` process only through the module the test harness preloads
// (crashPointArgs); the command itself reads none from its environment.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crashPointArgs } from '@continuum/test-infra';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts, ingressJson, serveOfficial, sf, type LoopbackServer } from './support.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

const bin = fileURLToPath(new URL('../../bin/statefun.js', import.meta.url));

/** `statefun dev` as a child process with `nodeArgs` and `env`; its output and how it ended. */
function startDev(moduleFile: string, dataDir: string, nodeArgs: string[], env: Record<string, string> = {}) {
  const child = spawn(
    process.execPath,
    [
      ...nodeArgs,
      bin,
      'dev',
      '-m',
      moduleFile,
      '--admin-port',
      '0',
      '--data-dir',
      dataDir,
      '--no-companions',
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CONTINUUM_ADMIN_TOKEN: '', CONTINUUM_LOG_FORMAT: 'pretty', ...env },
    },
  );
  let log = '';
  child.stdout.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-20_000)));
  child.stderr.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-20_000)));
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  return {
    child,
    ended,
    log: () => log,
    adminPort: () => Number(/admin listening on http:\/\/127\.0\.0\.1:(\d+)/u.exec(log)?.[1] ?? NaN),
  };
}

describe('crash points', () => {
  const dir = mkdtempSync(join(tmpdir(), 'continuum-crash-points-'));
  let fns: LoopbackServer;
  let moduleFile: string;
  let ingressPort: number;

  beforeAll(async () => {
    const statefun = new sf.StateFun();
    statefun.bind({
      typename: 'points/counter',
      specs: [{ name: 'seen', type: sf.StateFun.intType() }],
      fn(context) {
        context.storage.seen = ((context.storage.seen as number | null) ?? 0) + 1;
      },
    });
    fns = await serveOfficial(statefun);
    [ingressPort] = (await freePorts(1)) as [number];
    moduleFile = join(dir, 'module.yaml');
    writeFileSync(
      moduleFile,
      [
        'kind: io.statefun.endpoints.v2/http',
        'spec:',
        '  functions: points/*',
        `  urlPathTemplate: http://127.0.0.1:${fns.port}/{function.name}`,
        '---',
        'kind: io.statefun.playground.v1/ingress',
        `spec: {port: ${ingressPort}}`,
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await fns?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the preloaded module makes statefun dev SIGKILL itself at its first checkpoint', async () => {
    const dev = startDev(moduleFile, join(dir, 'preloaded'), crashPointArgs({ afterStage: 1 }));
    try {
      await waitUntil(() => dev.log().includes('dashboard on ') || dev.child.exitCode !== null, {
        timeoutMs: 60_000,
        what: 'dev to start',
      });
      expect(dev.log()).toContain('statefun dev is running');
      await ingressJson(ingressPort, 'points/counter/a', 'points/Tick', { n: 1 });
      const end = await Promise.race([
        dev.ended,
        new Promise<'running'>((r) => setTimeout(() => r('running'), 60_000).unref()),
      ]);
      expect(end, dev.log().slice(-2000)).toEqual({ code: null, signal: 'SIGKILL' });
    } finally {
      dev.child.kill('SIGKILL');
    }
  });

  it('statefun dev reads no crash point from its environment', async () => {
    const dev = startDev(moduleFile, join(dir, 'env'), [], {
      CONTINUUM_TEST_CRASH_AFTER_STAGE: '1',
      CONTINUUM_TEST_CRASH_AFTER_COMMIT: '1',
    });
    try {
      await waitUntil(() => dev.log().includes('dashboard on ') || dev.child.exitCode !== null, {
        timeoutMs: 60_000,
        what: 'dev to start',
      });
      await ingressJson(ingressPort, 'points/counter/a', 'points/Tick', { n: 1 });
      const checkpoints = async (): Promise<number> => {
        const text = await (await fetch(`http://127.0.0.1:${dev.adminPort()}/metrics`)).text();
        return [...text.matchAll(/^continuum_checkpoints_total(?:\{[^}]*\})? (\d+)/gmu)].reduce(
          (sum, m) => sum + Number(m[1]),
          0,
        );
      };
      await waitUntil(async () => dev.child.exitCode !== null || (await checkpoints()) > 0, {
        timeoutMs: 60_000,
        what: 'a checkpoint',
      });
      expect(dev.child.exitCode, dev.log().slice(-2000)).toBeNull();
      expect(dev.child.signalCode).toBeNull();
    } finally {
      dev.child.kill('SIGTERM');
    }
    expect(await dev.ended).toEqual({ code: 0, signal: null });
  });

  it('gives no node flags without a crash probability, and the preload refuses a bad one', () => {
    expect(crashPointArgs({})).toEqual([]);
    expect(crashPointArgs({ afterStage: 0, afterCommit: 0 })).toEqual([]);
    const [flag, url] = crashPointArgs({ afterCommit: 0.5 });
    expect(flag).toBe('--import');
    const bad = new URL(url!);
    bad.searchParams.set('afterStage', '2');
    const run = spawnSync(process.execPath, ['--import', bad.href, '-e', ''], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('crash points: afterStage=2 is not a probability from 0 to 1');
  });
});
