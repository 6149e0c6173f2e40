// `--otlp-endpoint` of statefun dev/run: validated before anything starts, documented in the help.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(
    argv,
    (t) => (out += t),
    (t) => (err += t),
  );
  return { code, out, err };
}

describe('statefun --otlp-endpoint', () => {
  const dir = mkdtempSync(join(tmpdir(), 'continuum-cli-tracing-'));
  const module = join(dir, 'module.yaml');
  writeFileSync(
    module,
    'kind: io.statefun.endpoints.v2/http\nspec:\n  functions: ops/*\n  urlPathTemplate: http://127.0.0.1:9/{function.name}\n',
  );
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(['ftp://collector:4318', 'not a url'])('refuses %s as a usage error', async (endpoint) => {
    const r = await cli(
      'dev',
      '-m',
      module,
      '--no-companions',
      '--log-level',
      'error',
      '--otlp-endpoint',
      endpoint,
    );
    expect(r.code).toBe(2);
    expect(r.err).toContain('--otlp-endpoint must be an http(s) URL');
  });

  it('is described by dev --help and run --help', async () => {
    for (const command of ['dev', 'run']) {
      const r = await cli(command, '--help');
      expect(r.code).toBe(0);
      expect(r.out).toContain('--otlp-endpoint URL');
      expect(r.out).toContain('CONTINUUM_OTLP_ENDPOINT');
    }
  });
});
