// Chooses how each server is provided: local processes, testcontainers, or external addresses
// from the environment (CONTINUUM_TEST_INFRA, KAFKA_BROKERS, REDIS_URL).
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { InfraError } from './errors.js';

/** How one server is provided to the tests. */
export type InfraMode = 'local' | 'containers' | 'external';

/** The value of CONTINUUM_TEST_INFRA. */
export type InfraSetting = 'auto' | InfraMode;

const settingSchema = z.enum(['auto', 'local', 'containers', 'external']);
const brokerSchema = z
  .string()
  .regex(/^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/, 'expected host:port')
  .refine((s) => Number(s.slice(s.lastIndexOf(':') + 1)) <= 65535, 'port out of range');
const redisUrlSchema = z.url({ protocol: /^rediss?$/ });

/** CONTINUUM_TEST_INFRA, validated (default `auto`). */
export function infraSetting(env: NodeJS.ProcessEnv = process.env): InfraSetting {
  const raw = env.CONTINUUM_TEST_INFRA?.trim() || 'auto';
  const parsed = settingSchema.safeParse(raw);
  if (!parsed.success) {
    throw new InfraError(
      'BAD_CONFIG',
      `CONTINUUM_TEST_INFRA=${raw} is not one of auto, local, containers, external.`,
    );
  }
  return parsed.data;
}

/** KAFKA_BROKERS split and validated, or undefined when unset. */
export function externalBrokers(env: NodeJS.ProcessEnv = process.env): string[] | undefined {
  const raw = env.KAFKA_BROKERS?.trim();
  if (!raw) return undefined;
  const brokers = raw
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  for (const broker of brokers) {
    const parsed = brokerSchema.safeParse(broker);
    if (!parsed.success) {
      throw new InfraError(
        'BAD_CONFIG',
        `KAFKA_BROKERS=${raw}: "${broker}" is not host:port. Give a comma-separated list such as 127.0.0.1:9092,127.0.0.1:9093.`,
      );
    }
  }
  return brokers;
}

/** REDIS_URL validated, or undefined when unset. */
export function externalRedisUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const raw = env.REDIS_URL?.trim();
  if (!raw) return undefined;
  if (!redisUrlSchema.safeParse(raw).success) {
    throw new InfraError(
      'BAD_CONFIG',
      `REDIS_URL=${raw} is not a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379.`,
    );
  }
  return raw;
}

interface DockerEndpoint {
  socketPath?: string;
  host?: string;
  port?: number;
}

function dockerEndpoints(env: NodeJS.ProcessEnv): DockerEndpoint[] {
  const dockerHost = env.DOCKER_HOST?.trim();
  if (dockerHost) {
    if (dockerHost.startsWith('unix://')) return [{ socketPath: dockerHost.slice('unix://'.length) }];
    const tcp = /^tcp:\/\/([^:/]+):(\d+)/.exec(dockerHost);
    if (tcp?.[1] !== undefined && tcp[2] !== undefined) return [{ host: tcp[1], port: Number(tcp[2]) }];
    return [];
  }
  const sockets = ['/var/run/docker.sock', join(homedir(), '.docker', 'run', 'docker.sock')];
  if (env.XDG_RUNTIME_DIR) sockets.push(join(env.XDG_RUNTIME_DIR, 'docker.sock'));
  return sockets.filter((s) => existsSync(s)).map((socketPath) => ({ socketPath }));
}

function ping(endpoint: DockerEndpoint, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ ...endpoint, path: '/_ping', method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

const dockerChecks = new Map<string, Promise<boolean>>();

/**
 * Whether a Docker engine answers `/_ping` within a second. A `docker` CLI without a running
 * engine (no socket) answers false at once, so `auto` never waits on it.
 */
export function dockerReachable(env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const endpoints = dockerEndpoints(env);
  const key = JSON.stringify(endpoints);
  let check = dockerChecks.get(key);
  if (check === undefined) {
    check = (async () => {
      for (const endpoint of endpoints) {
        if (await ping(endpoint, 1000)) return true;
      }
      return false;
    })();
    // A handful of distinct endpoint sets at most; the bound only guards against misuse.
    if (dockerChecks.size >= 16) dockerChecks.clear();
    dockerChecks.set(key, check);
  }
  return check;
}

/** The mode for Kafka or Redis: its address variable wins, then CONTINUUM_TEST_INFRA. */
export async function resolveMode(
  component: 'kafka' | 'redis',
  override?: InfraSetting,
  env: NodeJS.ProcessEnv = process.env,
): Promise<InfraMode> {
  const external = component === 'kafka' ? externalBrokers(env) : externalRedisUrl(env);
  const setting = override ?? infraSetting(env);
  if (setting === 'external' || (override === undefined && external !== undefined)) {
    if (external === undefined) {
      const variable = component === 'kafka' ? 'KAFKA_BROKERS' : 'REDIS_URL';
      throw new InfraError(
        'BAD_CONFIG',
        `CONTINUUM_TEST_INFRA=external needs ${variable}; set it, or use CONTINUUM_TEST_INFRA=local.`,
      );
    }
    return 'external';
  }
  if (setting === 'auto') return (await dockerReachable(env)) ? 'containers' : 'local';
  return setting;
}
