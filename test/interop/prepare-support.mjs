// Shared by the official-SDK services' prepare.mjs files: where a service's build lives
// (.cache/interop/<lang>), a hash of its sources that says whether that build is current, and child
// processes whose output ends up in the error when they fail.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** `.cache/interop/<lang>` under the repository root, created on demand. */
export function cacheDirOf(lang) {
  const dir = join(repoRoot, '.cache', 'interop', lang);
  mkdirSync(dir, { recursive: true });
  return dir;
}

// Build output and tool caches that may sit next to a service's sources; they are not sources.
const NOT_SOURCES = new Set(['__pycache__', 'target', 'node_modules', 'dist']);

/**
 * sha256 over `extra` (toolchain versions and the like) and the files at `paths` (a path or a list of
 * them; files, or folders taken whole): each file's path in the repository and its bytes, in a stable
 * order, skipping dot files and build output.
 */
export function sourceHash(paths, extra = []) {
  const hash = createHash('sha256');
  for (const item of extra) hash.update(`${item}\0`);
  const add = (path) => {
    hash.update(`${relative(repoRoot, path)}\0`);
    hash.update(readFileSync(path));
    hash.update('\0');
  };
  const walk = (current) => {
    const entries = readdirSync(current, { withFileTypes: true }).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
    for (const entry of entries) {
      if (entry.name.startsWith('.') || NOT_SOURCES.has(entry.name)) continue;
      const path = join(current, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) add(path);
    }
  };
  for (const path of typeof paths === 'string' ? [paths] : paths) {
    if (statSync(path).isDirectory()) walk(path);
    else add(path);
  }
  return hash.digest('hex');
}

const MARKER = '.prepared';

/** True when `cacheDir` holds a build of exactly `hash` and every path in `outputs` exists. */
export function isPrepared(cacheDir, hash, outputs) {
  const marker = join(cacheDir, MARKER);
  if (!existsSync(marker) || readFileSync(marker, 'utf8').trim() !== hash) return false;
  return outputs.every((path) => existsSync(path));
}

/** Records that `cacheDir` now holds a build of `hash`; written last, so a cut run never looks done. */
export function markPrepared(cacheDir, hash) {
  writeFileSync(join(cacheDir, MARKER), `${hash}\n`);
}

/**
 * Builds `target` (a file or folder in `cacheDir`) at a staging path next to it with `build(staging)`,
 * renames it into place and records `hash`: a failed or interrupted build never leaves a half build
 * in use.
 */
export async function buildInPlace(cacheDir, target, hash, build) {
  const staging = `${target}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  try {
    await build(staging);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
  rmSync(target, { recursive: true, force: true });
  renameSync(staging, target);
  markPrepared(cacheDir, hash);
}

function tail(text, lines = 40) {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * Runs `command args` and resolves with its stdout. Rejects with an Error naming `what` and holding the
 * end of the command's output when it cannot start (e.g. "go not found on PATH") or exits non-zero.
 */
export function run(command, args, { what, cwd = repoRoot, env = process.env } = {}) {
  const label = what ?? `${command} ${args.join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      stdout += chunk;
      output += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      output += chunk;
    });
    child.once('error', (err) => {
      const why = err.code === 'ENOENT' ? `${command} not found on PATH` : err.message;
      reject(new Error(`${label} failed: ${why}`));
    });
    child.once('close', (code, signal) => {
      if (code === 0) resolve(stdout);
      else {
        const status = signal === null ? `exit code ${code}` : `signal ${signal}`;
        reject(new Error(`${label} failed (${status}):\n${tail(output)}`));
      }
    });
  });
}
