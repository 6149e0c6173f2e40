// Starts the Redis the integration tests use: a local redis-server with an fsync-always AOF (so
// restart() brings the data back), a testcontainers Redis, or an external one named by REDIS_URL.
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { InfraError } from './errors.js';
import { pingRedis } from './helpers.js';
import { notSupported } from './kafka.js';
import { LocalServer } from './local-server.js';
import { ManagedProcess, makeScratchDir, serverPidFile } from './managed-process.js';
import { externalRedisUrl, resolveMode } from './mode.js';
import type { InfraMode, InfraSetting } from './mode.js';
import { assertPortFree, freePort } from './ports.js';

const execFileAsync = promisify(execFile);

/** A running (or stopped/killed) Redis provided to tests. */
export interface RedisHandle {
  /** `redis://127.0.0.1:<port>`; unchanged across {@link restart}. */
  readonly url: string;
  /** The TCP port. */
  readonly port: number;
  /** How Redis is provided. */
  readonly mode: InfraMode;
  /** How long the last start or restart took until PING answered. */
  readonly startupMs: number;
  /** Stops Redis (SIGTERM, then SIGKILL after a deadline) and deletes its data. Idempotent. */
  stop(): Promise<void>;
  /** Stops Redis if it runs and starts it on the same port and dir; the AOF brings the data back. */
  restart(): Promise<void>;
  /** SIGKILLs Redis and keeps its files (with appendfsync always, acknowledged writes survive). */
  kill(): Promise<void>;
  /** The last `n` lines of the server's log (empty where the harness has no log). */
  logTail(n?: number): string;
}

/** Options of {@link startRedis}. */
export interface StartRedisOptions {
  /** Overrides CONTINUUM_TEST_INFRA for this server. */
  mode?: InfraSetting;
  /** Port on 127.0.0.1 (default: a free one). */
  port?: number;
  /** How long to wait for PING (default 30 s). */
  readyTimeoutMs?: number;
  /** Extra `--name value` arguments for redis-server. */
  serverArgs?: Record<string, string>;
  /** Do not print "Redis ready in N s". */
  quiet?: boolean;
}

/**
 * Starts Redis as CONTINUUM_TEST_INFRA (or `options.mode`) selects and resolves once it answers PING.
 *
 * @example
 * const redis = await startRedis();
 * const client = createRedisClient(redis.url);
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisHandle> {
  const mode = await resolveMode('redis', options.mode);
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  let handle: RedisHandle;
  if (mode === 'external') handle = await ExternalRedis.start(readyTimeoutMs);
  else if (mode === 'containers') {
    const { startRedisContainer } = await import('./containers.js');
    handle = await startRedisContainer({
      readyTimeoutMs,
      ...(options.port === undefined ? {} : { port: options.port }),
    });
  } else handle = await LocalRedis.start({ ...options, readyTimeoutMs });
  if (options.quiet !== true)
    console.log(`Redis ready in ${(handle.startupMs / 1000).toFixed(2)} s (${handle.url}, ${mode})`);
  return handle;
}

let redisCheck: Promise<void> | undefined;

function assertRedisServer(): Promise<void> {
  redisCheck ??= execFileAsync('redis-server', ['--version']).then(
    () => undefined,
    (err: unknown) => {
      redisCheck = undefined;
      throw new InfraError(
        'REDIS_MISSING',
        '`redis-server` is not on PATH. Run `node scripts/bootstrap.mjs --test` (it installs the Debian ' +
          'package redis-server), or point the tests at another Redis with REDIS_URL=redis://host:port.',
        { cause: err },
      );
    },
  );
  return redisCheck;
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface LocalRedisOptions extends StartRedisOptions {
  readyTimeoutMs: number;
}

class LocalRedis extends LocalServer implements RedisHandle {
  readonly url: string;

  private constructor(
    dir: string,
    readonly port: number,
    private readonly options: LocalRedisOptions,
  ) {
    super(dir, 500);
    this.url = `redis://127.0.0.1:${port}`;
  }

  protected describe(): string {
    return `Redis at ${this.url}`;
  }

  protected listeners(): readonly (readonly [number, string])[] {
    return [[this.port, 'redis-server']];
  }

  static async start(options: LocalRedisOptions): Promise<LocalRedis> {
    await assertRedisServer();
    const port = options.port ?? (await freePort());
    await assertPortFree(port, 'redis-server');
    const dir = await makeScratchDir('continuum-redis');
    await mkdir(join(dir, 'data'));
    const redis = new LocalRedis(dir, port, options);
    try {
      await redis.launch();
    } catch (err) {
      await redis.stop();
      throw err;
    }
    return redis;
  }

  protected async launch(): Promise<void> {
    const started = Date.now();
    const extra = Object.entries(this.options.serverArgs ?? {}).flatMap(([name, value]) => [
      `--${name}`,
      value,
    ]);
    this.process = await ManagedProcess.start({
      command: 'redis-server',
      args: [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        join(this.dir, 'data'),
        '--daemonize',
        'no',
        '--logfile',
        '',
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
        ...extra,
      ],
      cwd: this.dir,
      pidFile: serverPidFile(this.dir),
      logLines: 500,
    });
    this.state = 'running';
    const proc = this.process;
    const deadline = started + this.options.readyTimeoutMs;
    while (!(await pingRedis('127.0.0.1', this.port))) {
      if (!proc.running) {
        const tail = proc.logTail(40);
        if (/Address already in use/.test(tail)) {
          throw new InfraError(
            'PORT_BUSY',
            `redis-server could not bind 127.0.0.1:${this.port}: another process holds it. Log:\n${tail}`,
          );
        }
        const how =
          proc.spawnFailure?.message ??
          `exit code ${proc.exitStatus?.code}, signal ${proc.exitStatus?.signal}`;
        throw new InfraError(
          'REDIS_EXITED',
          `redis-server exited during startup (${how}). Log (last 40 lines):\n${tail}`,
        );
      }
      if (Date.now() > deadline) {
        throw new InfraError(
          'REDIS_NOT_READY',
          `redis-server on 127.0.0.1:${this.port} did not answer PING within ${this.options.readyTimeoutMs} ms. Log (last 40 lines):\n${proc.logTail(40)}`,
        );
      }
      await pause(25);
    }
    this.startupMs = Date.now() - started;
  }
}

class ExternalRedis implements RedisHandle {
  readonly mode = 'external' as const;

  private constructor(
    readonly url: string,
    readonly port: number,
    readonly startupMs: number,
  ) {}

  static async start(readyTimeoutMs: number): Promise<ExternalRedis> {
    const url = externalRedisUrl() ?? '';
    const parsed = new URL(url);
    const port = parsed.port === '' ? 6379 : Number(parsed.port);
    const started = Date.now();
    // PING over a raw socket only works without TLS and AUTH; otherwise trust the URL.
    if (parsed.protocol === 'redis:' && parsed.password === '') {
      const deadline = started + readyTimeoutMs;
      while (!(await pingRedis(parsed.hostname, port))) {
        if (Date.now() > deadline) {
          throw new InfraError(
            'REDIS_NOT_READY',
            `The Redis at REDIS_URL=${url} did not answer PING within ${readyTimeoutMs} ms.`,
          );
        }
        await pause(100);
      }
    }
    return new ExternalRedis(url, port, Date.now() - started);
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }

  restart(): Promise<void> {
    return Promise.reject(notSupported('restart()', 'Redis', 'REDIS_URL'));
  }

  kill(): Promise<void> {
    return Promise.reject(notSupported('kill()', 'Redis', 'REDIS_URL'));
  }

  logTail(): string {
    return '';
  }
}
