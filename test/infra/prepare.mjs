#!/usr/bin/env node
// Prepares what the integration tests run on, idempotently and quickly when cached: the Kafka
// broker's jars (Maven, from test/infra/kafka/pom.xml), a redis-server binary (Debian package),
// Debian's chromium for the dashboard's browser test, and the official-SDK function services of
// test/interop (each language's prepare.mjs builds its service into .cache/interop/<lang>).
// Run by `node scripts/bootstrap.mjs --test`; skips a server that comes from Docker or from outside.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as interopGo from '../interop/go/prepare.mjs';
import * as interopPython from '../interop/python/prepare.mjs';
import * as interopJava from '../interop/java/prepare.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const kafkaDir = join(root, 'test', 'infra', 'kafka');
const MARKER = '.complete';

function log(message) {
  process.stderr.write(`[prepare] ${message}\n`);
}

class PrepareError extends Error {}

function has(command, args = ['--version']) {
  const result = spawnSync(command, args, { stdio: 'ignore' });
  return result.error === undefined && result.status === 0;
}

// Same rules as test/infra/mode.ts: KAFKA_BROKERS / REDIS_URL win, then CONTINUUM_TEST_INFRA.
function setting() {
  const raw = (process.env.CONTINUUM_TEST_INFRA ?? '').trim() || 'auto';
  if (!['auto', 'local', 'containers', 'external'].includes(raw)) {
    throw new PrepareError(`CONTINUUM_TEST_INFRA=${raw} is not one of auto, local, containers, external.`);
  }
  return raw;
}

function dockerEndpoints() {
  const dockerHost = (process.env.DOCKER_HOST ?? '').trim();
  if (dockerHost) {
    if (dockerHost.startsWith('unix://')) return [{ socketPath: dockerHost.slice('unix://'.length) }];
    const tcp = /^tcp:\/\/([^:/]+):(\d+)/.exec(dockerHost);
    return tcp ? [{ host: tcp[1], port: Number(tcp[2]) }] : [];
  }
  const sockets = ['/var/run/docker.sock', join(homedir(), '.docker', 'run', 'docker.sock')];
  if (process.env.XDG_RUNTIME_DIR) sockets.push(join(process.env.XDG_RUNTIME_DIR, 'docker.sock'));
  return sockets.filter((s) => existsSync(s)).map((socketPath) => ({ socketPath }));
}

async function dockerReachable() {
  for (const endpoint of dockerEndpoints()) {
    const ok = await new Promise((resolve) => {
      const req = request({ ...endpoint, path: '/_ping', method: 'GET', timeout: 1000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
      req.end();
    });
    if (ok) return true;
  }
  return false;
}

async function modeOf(component) {
  const variable = component === 'kafka' ? 'KAFKA_BROKERS' : 'REDIS_URL';
  if ((process.env[variable] ?? '').trim() !== '') return { mode: 'external', why: `${variable} is set` };
  const s = setting();
  if (s === 'external') throw new PrepareError(`CONTINUUM_TEST_INFRA=external needs ${variable}.`);
  if (s === 'containers') return { mode: 'containers', why: 'CONTINUUM_TEST_INFRA=containers' };
  if (s === 'local') return { mode: 'local', why: 'CONTINUUM_TEST_INFRA=local' };
  return (await dockerReachable())
    ? { mode: 'containers', why: 'a Docker engine answers (CONTINUUM_TEST_INFRA=auto)' }
    : { mode: 'local', why: 'no Docker engine answers (CONTINUUM_TEST_INFRA=auto)' };
}

function kafkaVersion() {
  const pom = readFileSync(join(kafkaDir, 'pom.xml'), 'utf8');
  const match = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(pom);
  if (!match) throw new PrepareError('test/infra/kafka/pom.xml has no <kafka.version> property.');
  return match[1].trim();
}

function prepareKafka() {
  if (!has('java', ['-version'])) {
    throw new PrepareError(
      'Java 17 or newer is needed for the local Kafka broker and `java` is not on PATH. ' +
        'Install it (Debian: apt-get install -y openjdk-17-jre-headless), or set KAFKA_BROKERS=host:port ' +
        'or CONTINUUM_TEST_INFRA=containers.',
    );
  }
  const version = kafkaVersion();
  const cache = join(root, '.cache', 'kafka', version);
  const libs = join(cache, 'libs');
  if (existsSync(join(libs, MARKER))) {
    log(`Kafka ${version} jars cached in ${libs}`);
    return;
  }
  if (!has('mvn', ['-v'])) {
    throw new PrepareError(
      `Maven is needed once to download the Kafka ${version} jars and \`mvn\` is not on PATH. ` +
        'Install it (Debian: apt-get install -y maven), or set KAFKA_BROKERS=host:port or CONTINUUM_TEST_INFRA=containers.',
    );
  }
  // Download next to the final folder and rename, so an interrupted run never looks complete.
  mkdirSync(cache, { recursive: true });
  const staging = join(cache, `libs.partial-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  log(`resolving Kafka ${version} jars with Maven (test/infra/kafka/pom.xml)`);
  try {
    execFileSync(
      'mvn',
      [
        '-q',
        '-B',
        '-Dstyle.color=never',
        '-f',
        join(kafkaDir, 'pom.xml'),
        'dependency:copy-dependencies',
        '-DincludeScope=runtime',
        `-DoutputDirectory=${staging}`,
      ],
      { cwd: kafkaDir, stdio: 'inherit' },
    );
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw new PrepareError(
      `Maven could not resolve the Kafka ${version} jars (see its output above): ${err.message}`,
    );
  }
  const jars = readdirSync(staging).filter((f) => f.endsWith('.jar'));
  if (!jars.some((f) => f.startsWith(`kafka_2.13-${version}`))) {
    throw new PrepareError(`Maven finished but ${staging} holds no kafka_2.13-${version}.jar.`);
  }
  rmSync(libs, { recursive: true, force: true });
  renameSync(staging, libs);
  writeFileSync(join(libs, MARKER), `${jars.length} jars\n`);
  log(`Kafka ${version}: ${jars.length} jars in ${libs}`);
}

function apt(args) {
  // Wait for a concurrent apt/dpkg run instead of failing on its lock.
  execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', ...args], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

function prepareRedis() {
  if (has('redis-server')) {
    log('redis-server present');
    return;
  }
  if (!has('apt-get', ['--version'])) {
    throw new PrepareError(
      'redis-server is not on PATH and this is not a Debian system: install Redis 7 (redis-server), or set REDIS_URL.',
    );
  }
  if (process.getuid?.() !== 0) {
    throw new PrepareError(
      'redis-server is not on PATH: run `sudo apt-get install -y redis-server`, or set REDIS_URL.',
    );
  }
  log('installing redis-server (apt-get)');
  // policy-rc.d answering 101 tells Debian's maintainer scripts not to start the service: the
  // tests start their own redis-server on free ports, and a daemon on 6379 would only be in the way.
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    apt(['update', '-qq']);
    apt(['install', '-y', '-qq', '--no-install-recommends', 'redis-server']);
  } catch (err) {
    throw new PrepareError(`apt-get could not install redis-server (see its output above): ${err.message}`);
  } finally {
    if (ownPolicy) rmSync(policy, { force: true });
  }
  // Where an init system did start the service anyway, stop it and keep it from starting at boot.
  for (const [cmd, args] of [
    ['systemctl', ['disable', '--now', 'redis-server']],
    ['service', ['redis-server', 'stop']],
    ['update-rc.d', ['redis-server', 'disable']],
  ]) {
    spawnSync(cmd, args, { stdio: 'ignore' });
  }
  if (!has('redis-server'))
    throw new PrepareError('apt-get installed redis-server, but `redis-server --version` still fails.');
  log('redis-server installed');
}

// The dashboard test drives /usr/bin/chromium (playwright-core brings no browser of its own).
function prepareChromium() {
  if (existsSync('/usr/bin/chromium')) {
    log('chromium present');
    return;
  }
  if (!has('apt-get', ['--version']) || process.getuid?.() !== 0) {
    throw new PrepareError(
      '/usr/bin/chromium is missing (the dashboard browser test needs it): run `sudo apt-get install -y chromium`.',
    );
  }
  log('installing chromium (apt-get)');
  try {
    apt(['update', '-qq']);
    apt(['install', '-y', '-qq', '--no-install-recommends', 'chromium']);
  } catch (err) {
    throw new PrepareError(`apt-get could not install chromium (see its output above): ${err.message}`);
  }
  if (!existsSync('/usr/bin/chromium'))
    throw new PrepareError('apt-get installed chromium, but /usr/bin/chromium is still missing.');
  log('chromium installed');
}

// One entry per language of test/interop/official-sdks.test.ts.
const interopServices = { python: interopPython, go: interopGo, java: interopJava };

async function prepareInterop() {
  for (const [lang, service] of Object.entries(interopServices)) {
    const t0 = Date.now();
    try {
      await service.prepare((message) => log(`interop ${lang}: ${message}`));
    } catch (err) {
      throw new PrepareError(`the ${lang} official-SDK service of test/interop: ${err.message}`);
    }
    log(`interop ${lang} ready (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }
}

async function main() {
  const t0 = Date.now();
  const kafka = await modeOf('kafka');
  const redis = await modeOf('redis');
  if (kafka.mode === 'local') prepareKafka();
  else log(`skipping the Kafka jars: ${kafka.mode} mode (${kafka.why})`);
  if (redis.mode === 'local') prepareRedis();
  else log(`skipping redis-server: ${redis.mode} mode (${redis.why})`);
  prepareChromium();
  await prepareInterop();
  log(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

main().catch((err) => {
  if (err instanceof PrepareError) {
    process.stderr.write(`[prepare] error: ${err.message}\n`);
    process.exit(1);
  }
  throw err;
});
