#!/usr/bin/env node
// Brings a fresh checkout to a runnable state, and is quick when nothing changed:
// installs npm packages when the lock file changed, then builds every workspace with `tsc -b`.
// With --test it also prepares what the integration tests need (see test/infra/prepare.mjs): the
// Kafka broker's jars and redis-server, unless CONTINUUM_TEST_INFRA / KAFKA_BROKERS / REDIS_URL
// say the servers come from elsewhere.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const started = Date.now();
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cacheDir = join(root, '.cache');
mkdirSync(cacheDir, { recursive: true });

function run(cmd, args) {
  execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });
}

function step(label, fn) {
  const t0 = Date.now();
  try {
    fn();
  } catch (err) {
    // The failing command already printed its reason; a Node stack trace would only bury it.
    const status = typeof err?.status === 'number' && err.status !== 0 ? err.status : 1;
    process.stderr.write(`[bootstrap] ${label} failed (${err?.message ?? err}); see the output above.\n`);
    process.exit(status);
  }
  process.stderr.write(`[bootstrap] ${label} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
}

const lockHash = createHash('sha256')
  .update(readFileSync(join(root, 'package-lock.json')))
  .digest('hex');
const marker = join(cacheDir, 'npm-install.sha256');
const installed =
  existsSync(join(root, 'node_modules')) && existsSync(marker) && readFileSync(marker, 'utf8') === lockHash;
if (!installed) {
  step('npm ci', () => run('npm', ['ci', '--no-audit', '--no-fund']));
  writeFileSync(marker, lockHash);
}
step('tsc -b', () => run(join(root, 'node_modules', '.bin', 'tsc'), ['-b']));

if (process.argv.includes('--test')) {
  const prepare = join(root, 'test', 'infra', 'prepare.mjs');
  if (existsSync(prepare)) step('test infrastructure', () => run(process.execPath, [prepare]));
}
process.stderr.write(`[bootstrap] ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
