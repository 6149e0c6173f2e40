// `statefun init` writes a project that works on its own: it installs (the checkout's sdk and
// runtime by path), builds, passes its own tests, and `npm run dev` carries a message from the
// playground ingress through the function to the playground egress.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../dev/cli-runner.js';
import { freePorts } from '../dev/support.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

/** The environment of a user's shell: nothing of the npm and vitest processes running this test. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!/^(npm_|VITEST|NODE_OPTIONS$|NODE_ENV$|INIT_CWD$)/i.test(k)) env[k] = v;
  return env;
}

function run(
  cwd: string,
  command: string,
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env: userEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => {
      output += `\n[killed after ${timeoutMs} ms]`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output: output.replace(/\x1b\[[0-9;]*m/g, '') });
    });
  });
}

/** Signals the process group led by `pid` (npm, the runtime, the service), if it still exists. */
function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

const root = mkdtempSync(join(tmpdir(), 'continuum-init-'));
// The generated project's node_modules holds thousands of files: give the removal time.
afterAll(() => rm(root, { recursive: true, force: true }), 120_000);

describe('statefun init', () => {
  it('refuses a directory that is not empty, and bad options, naming what was wrong', async () => {
    const full = join(root, 'full');
    mkdirSync(full);
    writeFileSync(join(full, 'keep.txt'), 'mine');
    const notEmpty = await cli('init', full);
    expect(notEmpty.code).toBe(1);
    expect(notEmpty.err).toBe(`statefun init: ${full} is not empty; give a new or empty directory\n`);
    expect(readFileSync(join(full, 'keep.txt'), 'utf8')).toBe('mine');
    expect((await cli('init')).err).toBe('statefun init: needs a directory: statefun init <dir>\n');
    const badName = await cli('init', join(root, 'x'), '--name', 'Not A Name');
    expect(badName).toMatchObject({ code: 2 });
    expect(badName.err).toContain('--name Not A Name is not a valid npm package name');
    const samePorts = await cli('init', join(root, 'y'), '--port', '8090');
    expect(samePorts.err).toContain('--port, --ingress-port and --egress-port must differ');
    expect(existsSync(join(root, 'x'))).toBe(false);
  });

  it('creates a project that installs, builds, passes its tests and runs a message through npm run dev', async () => {
    const [fnPort, ingressPort, egressPort] = await freePorts(3);
    const dir = join(root, 'hello-functions');
    const created = await cli(
      'init',
      dir,
      '--port',
      String(fnPort),
      '--ingress-port',
      String(ingressPort),
      '--egress-port',
      String(egressPort),
    );
    expect(created.err).toBe('');
    expect(created.code).toBe(0);
    for (const file of [
      'package.json',
      'tsconfig.json',
      'src/greeter.ts',
      'src/main.ts',
      'test/greeter.test.ts',
      'module.yaml',
      'statefun-dev.json',
      'Dockerfile',
      'README.md',
    ])
      expect(existsSync(join(dir, file)), file).toBe(true);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      name: string;
      scripts: Record<string, string>;
    };
    expect(pkg.name).toBe('hello-functions');
    expect(Object.keys(pkg.scripts).sort()).toEqual(['build', 'dev', 'start', 'test']);
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toContain('Dependencies by path');
    expect((await cli('validate', join(dir, 'module.yaml'))).out).toContain(
      'valid — 1 endpoint(s), 1 ingress(es), 1 egress(es)\n',
    );

    const install = await run(
      dir,
      'npm',
      ['install', '--no-audit', '--no-fund', '--prefer-offline'],
      150_000,
    );
    expect(install.code, install.output).toBe(0);
    // Installs on the supported Node versions without warnings about the dependency tree.
    expect(install.output).not.toMatch(/EBADENGINE|install-scripts/);

    const build = await run(dir, 'npm', ['run', 'build'], 60_000);
    expect(build.code, build.output).toBe(0);
    expect(existsSync(join(dir, 'dist', 'main.js'))).toBe(true);

    const test = await run(dir, 'npm', ['test'], 60_000);
    expect(test.code, test.output).toBe(0);
    expect(test.output).toMatch(/Tests\s+\S*3 passed/);

    const dev = spawn('npm', ['run', 'dev', '--', '--admin-port', '0'], {
      cwd: dir,
      env: userEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let log = '';
    dev.stdout.on('data', (c: Buffer) => (log += c.toString()));
    dev.stderr.on('data', (c: Buffer) => (log += c.toString()));
    const exited = new Promise<void>((r) => dev.once('exit', () => r()));
    try {
      await waitUntil(() => log.includes('statefun dev is running'), {
        timeoutMs: 60_000,
        what: 'npm run dev to start',
        intervalMs: 100,
      });
      const sent = await fetch(`http://127.0.0.1:${ingressPort}/example/greeter/alice`, {
        method: 'PUT',
        headers: { 'content-type': 'application/vnd.example/GreetRequest' },
        body: '{"name":"Alice"}',
      });
      expect(sent.status, log).toBe(200);
      const reply = await fetch(`http://127.0.0.1:${egressPort}/greetings?wait=30s`);
      expect(reply.status, log).toBe(200);
      expect(await reply.text()).toBe('Hello Alice! Welcome.');
    } finally {
      // npm, the runtime and the service form one process group: Ctrl-C for all of them.
      signalGroup(dev.pid, 'SIGINT');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
      signalGroup(dev.pid, 'SIGKILL');
    }
    expect(log).toContain('started companion process');
  }, 300_000);
});
