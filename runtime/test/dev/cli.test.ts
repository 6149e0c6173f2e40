// The `statefun` command line run in-process: validate explains every broken fixture by document
// and key path, help and usage errors have their exit codes, and send/state reach a dev runtime.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from './cli-runner.js';
import { startDevRuntime, type DevRuntime } from '../../src/dev-runtime.js';
import { silentLogger } from '../../src/logger.js';
import { parseModule } from '../../src/module/index.js';
import { endpointDoc, serveOfficial, sf, type LoopbackServer } from './support.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

const invalidDir = fileURLToPath(new URL('../fixtures/modules/invalid/', import.meta.url));
const validDir = fileURLToPath(new URL('../fixtures/modules/valid/', import.meta.url));

/** Where each broken fixture's (first) problem is: its document and the key path inside it. */
const broken: Record<string, { document: number; path: string }[]> = {
  'bad-duration.yaml': [{ document: 1, path: 'spec.transport.call' }],
  'duplicate-egress-ids.yaml': [{ document: 2, path: 'spec.id' }],
  'duplicate-endpoints.yaml': [{ document: 2, path: 'spec.functions' }],
  'duplicate-topic.yaml': [{ document: 2, path: 'spec.topics[1].topic' }],
  'exactly-once-without-timeout.yaml': [{ document: 1, path: 'spec.deliverySemantic.transactionTimeout' }],
  'group-offsets-without-group.yaml': [{ document: 2, path: 'spec.startupPosition.type' }],
  'ingress-target-without-endpoint.yaml': [{ document: 2, path: 'spec.topics[0].targets[1]' }],
  'kinesis-not-optional.yaml': [{ document: 2, path: 'kind' }],
  'legacy-unknown-ingress-type.yaml': [{ document: 1, path: 'module.spec.ingresses[0].ingress.meta.type' }],
  'legacy-version-2.0.yaml': [{ document: 1, path: 'version' }],
  'legacy-with-second-document.yaml': [{ document: 2, path: '' }],
  'missing-kind.yaml': [{ document: 2, path: 'kind' }],
  'missing-spec.yaml': [{ document: 1, path: 'spec' }],
  'okhttp-read-longer-than-call.yaml': [{ document: 1, path: 'spec.transport.timeouts.read' }],
  'okhttp-zero-timeout.yaml': [{ document: 1, path: 'spec.timeouts.connect' }],
  'playground-port-out-of-range.yaml': [{ document: 1, path: 'spec.port' }],
  'playground-same-port.yaml': [{ document: 2, path: 'spec.port' }],
  'property-list-multi-key-entry.yaml': [{ document: 1, path: 'spec.properties[1]' }],
  'property-list-not-a-list.yaml': [{ document: 1, path: 'spec.properties' }],
  'several-problems.yaml': [
    { document: 1, path: 'spec.maxNumBatchRequests' },
    { document: 2, path: 'spec.id' },
    { document: 3, path: 'spec.topics' },
  ],
  'spec-not-a-mapping.yaml': [{ document: 1, path: 'spec' }],
  'specific-offsets-bad-key.yaml': [{ document: 2, path: 'spec.startupPosition.offsets[1]' }],
  'startup-date-bad-format.yaml': [{ document: 2, path: 'spec.startupPosition.date' }],
  'transaction-timeout-millis-with-unit.yaml': [
    { document: 1, path: 'spec.deliverySemantic.transactionTimeoutMillis' },
  ],
  'typename-two-slashes.yaml': [{ document: 1, path: 'spec.functions' }],
  'unix-socket-without-sock.yaml': [{ document: 1, path: 'spec.urlPathTemplate' }],
  'unknown-kind.yaml': [{ document: 2, path: 'kind' }],
  'unknown-transport-type.yaml': [{ document: 1, path: 'spec.transport.type' }],
  'wildcard-in-middle.yaml': [{ document: 1, path: 'spec.functions' }],
  'wildcard-in-target.yaml': [{ document: 2, path: 'spec.topics[0].targets[0]' }],
  'yaml-syntax-error.yaml': [{ document: 2, path: '' }],
};

describe('statefun validate', () => {
  it('has an expectation for every broken fixture', () => {
    expect(readdirSync(invalidDir).sort()).toEqual(Object.keys(broken).sort());
  });

  it.each(Object.entries(broken))(
    '%s: exits 1 naming the file, the document and the key path',
    async (file, problems) => {
      const { code, out, err } = await cli('validate', `${invalidDir}${file}`);
      expect(code).toBe(1);
      expect(out).toBe('');
      expect(err).toContain(file);
      for (const { document, path } of problems) {
        const line = err.split('\n').find((l) => l.includes(`document ${document} (`));
        expect(line, `a line about document ${document}`).toBeDefined();
        if (path !== '') expect(line).toContain(`), ${path}: `);
      }
    },
  );

  it.each(['statefun-example.yaml', 'legacy-v3.0.yaml'])(
    '%s: exits 0 with a summary of the components',
    async (file) => {
      const { code, out, err } = await cli('validate', `${validDir}${file}`);
      expect(err).toBe('');
      expect(code).toBe(0);
      expect(out).toContain(`${file}: valid — 1 endpoint(s), 1 ingress(es), 1 egress(es)`);
    },
  );

  it('checks every file given and exits 1 if any of them is invalid', async () => {
    const { code, out, err } = await cli(
      'validate',
      `${validDir}statefun-example.yaml`,
      `${invalidDir}missing-spec.yaml`,
    );
    expect(code).toBe(1);
    expect(out).toContain('statefun-example.yaml: valid');
    expect(err).toContain('missing-spec.yaml, document 1');
  });

  it('prints a located warning for keys named like built-in properties, at most 50 of them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'continuum-validate-'));
    const file = join(dir, 'module.yaml');
    const unknown = ['constructor', '__proto__', 'hasOwnProperty'];
    for (let i = 0; i < 97; i++) unknown.push(`extra${i}`);
    await writeFile(
      file,
      'kind: io.statefun.endpoints.v2/http\nspec:\n  functions: a/*\n  urlPathTemplate: http://h/{function.name}\n' +
        '  transport:\n    constructor: 1\n' +
        unknown.map((key) => `  ${key}: 1\n`).join(''),
    );
    try {
      const { code, out, err } = await cli('validate', file);
      expect(err).toBe('');
      expect(code).toBe(0);
      const warnings = out.split('\n').filter((line) => line.startsWith('  warning: '));
      expect(warnings).toHaveLength(50);
      expect(warnings[0]).toContain(
        'line 6, kind io.statefun.endpoints.v2/http), spec.transport.constructor: unknown key',
      );
      expect(warnings[1]).toContain(
        'line 7, kind io.statefun.endpoints.v2/http), spec.constructor: unknown key',
      );
      expect(out).toContain('... and 51 more');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('exits 1 naming the path of a file that does not exist', async () => {
    const { code, err } = await cli('validate', `${validDir}no-such-module.yaml`);
    expect(code).toBe(1);
    expect(err).toContain('no-such-module.yaml');
  });

  it('is a usage error (exit 2) without a file', async () => {
    const { code, err } = await cli('validate');
    expect(code).toBe(2);
    expect(err).toContain('at least one module file');
  });
});

describe('statefun help and usage errors', () => {
  it('--help prints the commands and exits 0', async () => {
    const { code, out } = await cli('--help');
    expect(code).toBe(0);
    for (const command of ['dev', 'run', 'validate', 'send', 'state'])
      expect(out).toMatch(new RegExp(`^  ${command} `, 'm'));
  });

  it('no command prints the usage and exits 1', async () => {
    const { code, out } = await cli();
    expect(code).toBe(1);
    expect(out).toContain('Usage: statefun <command>');
  });

  it('dev --help lists the options of dev mode and exits 0 without starting anything', async () => {
    const { code, out } = await cli('dev', '--help');
    expect(code).toBe(0);
    for (const option of ['--module', '--data-dir', '--partitions', '--admin-port', '--no-companions'])
      expect(out).toContain(option);
  });

  it('an unknown command exits 2 and names it', async () => {
    const { code, err } = await cli('deploy');
    expect(code).toBe(2);
    expect(err).toContain('unknown command "deploy"');
    expect(err).toContain('Usage: statefun <command>');
  });

  it('an unknown option and a bad option value exit 2', async () => {
    expect((await cli('dev', '--frobnicate')).code).toBe(2);
    const bad = await cli(
      'dev',
      '-m',
      `${validDir}statefun-example.yaml`,
      '--partitions',
      'many',
      '--no-companions',
    );
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--partitions must be an integer');
  });

  it('dev with a module file that does not exist exits 2 naming the file', async () => {
    const { code, err } = await cli('dev', '-m', `${validDir}absent.yaml`, '--no-companions');
    expect(code).toBe(2);
    expect(err).toContain('absent.yaml does not exist');
  });
});

describe('statefun version, help and error messages', () => {
  it('--version prints the version of the runtime package', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    for (const flag of ['--version', '-v', 'version'])
      expect(await cli(flag)).toEqual({ code: 0, out: `statefun ${pkg.version}\n`, err: '' });
  });

  it.each(['init', 'dev', 'run', 'validate', 'send', 'state'])(
    'help %s prints what %s --help prints',
    async (command) => {
      const viaHelp = await cli('help', command);
      const viaFlag = await cli(command, '--help');
      expect(viaHelp.code).toBe(0);
      expect(viaHelp.out).toBe(viaFlag.out);
      expect(viaHelp.out).toContain(`statefun ${command}`);
    },
  );

  it('help of an unknown command exits 2 naming it', async () => {
    const r = await cli('help', 'deploy');
    expect(r.code).toBe(2);
    expect(r.err).toContain('unknown command "deploy"');
  });

  it.each([
    [['validate'], 'needs at least one module file'],
    [['send'], 'needs a target address'],
    [['state', 'list'], 'needs get and an address'],
    [['init'], 'needs a directory'],
  ])('%s: the error names the command once', async (argv, message) => {
    const { code, err } = await cli(...argv);
    expect(code).toBe(2);
    expect(err).toMatch(new RegExp(`^statefun ${argv[0]}: ${message}`));
    expect(err.match(/statefun \w+:/g)).toHaveLength(1);
    expect(err).not.toContain('usage: ');
  });

  it('dev --help explains companions (also with -m) and --host', async () => {
    const { out } = await cli('dev', '--help');
    expect(out).toContain('when a statefun-dev.json lies next to the module file (with or without -m)');
    expect(out).toContain('"waitForPort"');
    expect(out).toContain('--host ADDR');
  });
});

describe('statefun dev as a process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'continuum-cli-dev-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the module warnings statefun validate prints, and binds to --host', async () => {
    const moduleFile = join(dir, 'module.yaml');
    writeFileSync(
      moduleFile,
      [
        'kind: io.statefun.endpoints.v2/http',
        'spec:',
        '  functions: cli/*',
        '  urlPathTemplate: http://127.0.0.1:9/{function.name}',
        '  maxNumBatchRequest: 10',
      ].join('\n'),
    );
    const validated = await cli('validate', moduleFile);
    const warning = validated.out.split('\n').find((l) => l.startsWith('  warning: '));
    expect(warning).toContain('did you mean "maxNumBatchRequests"?');
    const bin = fileURLToPath(new URL('../../bin/statefun.js', import.meta.url));
    const child = spawn(
      process.execPath,
      [
        bin,
        'dev',
        '-m',
        moduleFile,
        '--admin-port',
        '0',
        '--host',
        '127.0.0.1',
        '--data-dir',
        join(dir, 'data'),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let log = '';
    child.stdout.on('data', (c: Buffer) => (log += c.toString()));
    child.stderr.on('data', (c: Buffer) => (log += c.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      await waitUntil(() => log.includes('dashboard on ') || child.exitCode !== null, {
        timeoutMs: 30_000,
        what: 'dev to start',
      });
      expect(log).toContain('statefun dev is running');
      expect(log).toContain(warning!.slice('  warning: '.length));
      expect(log).toMatch(/admin listening on http:\/\/127\.0\.0\.1:\d+/);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });

  it('refuses an empty --host', async () => {
    const { code, err } = await cli(
      'dev',
      '-m',
      `${validDir}statefun-example.yaml`,
      '--host',
      ' ',
      '--no-companions',
    );
    expect(code).toBe(2);
    expect(err).toContain('--host needs an address');
  });
});

describe('statefun send and state against a dev runtime', () => {
  let fns: LoopbackServer;
  let dev: DevRuntime;
  let admin: string;
  const seen: number[] = [];

  beforeAll(async () => {
    const statefun = new sf.StateFun();
    statefun.bind({
      typename: 'cli/adder',
      specs: [{ name: 'total', type: sf.StateFun.intType() }],
      fn(context, message) {
        const total = ((context.storage.total as number | null) ?? 0) + message.asInt()!;
        context.storage.total = total;
        seen.push(total);
      },
    });
    statefun.bind({
      typename: 'cli/session',
      specs: [{ name: 'token', type: sf.StateFun.stringType(), expireAfterWrite: 3_600_000 }],
      fn(context, message) {
        context.storage.token = message.asString();
      },
    });
    fns = await serveOfficial(statefun);
    dev = await startDevRuntime({
      module: parseModule(endpointDoc('cli/*', fns.port), 'cli-module.yaml'),
      adminPort: 0,
      logger: silentLogger,
      task: { checkpointIntervalMs: 20 },
    });
    admin = `http://127.0.0.1:${dev.servers.find((s) => s.name === 'admin')!.port}`;
  });

  afterAll(async () => {
    await dev?.stop();
    await fns?.close();
  });

  it('send --int delivers an int the official SDK reads, and state get shows the stored value', async () => {
    for (const n of ['5', '37']) {
      const r = await cli('send', 'cli/adder/a', '--int', n, '--admin', admin);
      expect(r).toMatchObject({ code: 0, out: 'sent io.statefun.types/int to cli/adder/a\n' });
    }
    await waitUntil(() => seen.includes(42), { timeoutMs: 10_000, what: 'the adder to reach 42' });
    const state = await cli('state', 'get', 'cli/adder/a', '--admin', admin);
    expect(state.code).toBe(0);
    const body = JSON.parse(state.out) as { address: string; states: Record<string, { typename: string }> };
    expect(body.address).toBe('cli/adder/a');
    expect(body.states.total).toMatchObject({ typename: 'io.statefun.types/int' });
    expect(state.out).toContain('42');
  });

  it('state get shows times as ISO 8601, with epoch milliseconds beside', async () => {
    const before = Date.now();
    expect((await cli('send', 'cli/session/s1', '--string', 'abc', '--admin', admin)).code).toBe(0);
    let body: { states: Record<string, { value?: unknown; expiresAt?: string; expiresAtMs?: number }> } = {
      states: {},
    };
    await waitUntil(
      async () => {
        const r = await cli('state', 'get', 'cli/session/s1', '--admin', admin);
        body = JSON.parse(r.out) as typeof body;
        return body.states.token?.value === 'abc';
      },
      { timeoutMs: 10_000, what: 'the session token to be stored' },
    );
    const token = body.states.token!;
    expect(token.expiresAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Date.parse(token.expiresAt!)).toBe(token.expiresAtMs);
    expect(token.expiresAtMs).toBeGreaterThanOrEqual(before + 3_600_000);
  });

  it('send to a function type no endpoint serves fails as the ingress does: 404 text, exit 1', async () => {
    const r = await cli('send', 'other/thing/x', '--int', '1', '--admin', admin);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toBe('statefun send: 404: no endpoint in module.yaml serves function type other/thing\n');
  });

  it('send exits 1 when the runtime cannot be reached, and 2 without a value', async () => {
    const down = await cli('send', 'cli/adder/a', '--int', '1', '--admin', 'http://127.0.0.1:9');
    expect(down.code).toBe(1);
    expect(down.err).toContain('cannot reach the runtime');
    expect((await cli('send', 'cli/adder/a', '--admin', admin)).code).toBe(2);
  });
});
