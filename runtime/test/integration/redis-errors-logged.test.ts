// A production runtime whose Redis goes away reports it through its JSON log: the Redis client's
// error events become rate-limited warn lines, never ioredis' "Unhandled error event" stack
// traces on raw stderr: every line the process writes stays a JSON log line.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { startRedis, waitUntil, type RedisHandle } from '@continuum/test-infra';
import { prodNames } from './prod-fixture.js';

const bin = fileURLToPath(new URL('../../bin/statefun.js', import.meta.url));

describe('Redis errors of a production runtime', () => {
  const dir = mkdtempSync(join(tmpdir(), 'continuum-redis-errors-'));
  let redis: RedisHandle | undefined;
  let child: ChildProcess | undefined;
  afterAll(async () => {
    child?.kill('SIGKILL');
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('go through the logger, not to stderr as unhandled error events', async () => {
    redis = await startRedis({ quiet: true });
    const names = prodNames('redis-errors');
    const moduleFile = join(dir, 'module.yaml');
    writeFileSync(
      moduleFile,
      'kind: io.statefun.endpoints.v2/http\nspec:\n  functions: ops/*\n  urlPathTemplate: http://127.0.0.1:9/{function.name}\n',
    );
    child = spawn(
      process.execPath,
      [
        bin,
        'run',
        '-m',
        moduleFile,
        '--kafka',
        inject('kafkaBrokers'),
        '--redis',
        redis.url,
        '--partitions',
        '2',
        '--group',
        names.group,
        '--admin-port',
        '0',
        '--admin-insecure',
        '--log-format',
        'json',
      ],
      {
        env: {
          ...process.env,
          CONTINUUM_INTERNAL_TOPIC: names.internal,
          CONTINUUM_DEAD_LETTER_TOPIC: names.deadLetters,
          CONTINUUM_REDIS_KEY_PREFIX: names.prefix,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => void (stderr += c.toString()));
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (stderr.length > 2_000_000) stderr = stderr.slice(-1_000_000);
    });
    await waitUntil(() => stderr.includes('statefun run is running'), {
      timeoutMs: 120_000,
      what: 'the runtime to start',
      intervalMs: 100,
    });

    await redis.stop();
    await waitUntil(() => stderr.includes('Redis connection error'), {
      timeoutMs: 60_000,
      what: 'a logged Redis connection error',
      intervalMs: 100,
    });
    const warnings = stderr
      .split('\n')
      .filter((l) => l.includes('Redis connection error'))
      .map((l) => JSON.parse(l) as { level: string });
    expect(warnings[0]).toMatchObject({ level: 'warn' });
    expect(stderr).not.toContain('Unhandled error event');
    for (const line of stderr.split('\n').filter((l) => l.trim() !== ''))
      expect(() => JSON.parse(line) as unknown, `not a JSON log line: ${line}`).not.toThrow();
  });
});
