// The harness fails clearly: busy ports, unsupported operations in external mode, bad settings,
// and missed deadlines each produce an InfraError with a stable code.
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { InfraError, freePort, resolveMode, startKafka, startRedis, waitUntil } from '@continuum/test-infra';

const servers: Server[] = [];

async function occupy(): Promise<number> {
  const port = await freePort();
  const server = createServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return port;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function failure(work: Promise<unknown>): Promise<InfraError> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InfraError);
  return err as InfraError;
}

describe('the test harness', () => {
  it('refuses to start a local broker on a busy port, naming the port', async () => {
    const port = await occupy();
    const err = await failure(startKafka({ mode: 'local', port, quiet: true }));
    expect(err.code).toBe('PORT_BUSY');
    expect(err.message).toContain(`127.0.0.1:${port}`);
  });

  it('gives up on a broker that is not ready in time, quoting its log', async () => {
    const err = await failure(startKafka({ mode: 'local', readyTimeoutMs: 1, quiet: true }));
    expect(err.code).toBe('KAFKA_NOT_READY');
    expect(err.message).toMatch(/did not become ready within 0\.001 s/);
    expect(err.message).toContain('Broker log (last 40 lines):');
  });

  it('refuses to start a local Redis on a busy port, naming the port', async () => {
    const port = await occupy();
    const err = await failure(startRedis({ mode: 'local', port, quiet: true }));
    expect(err.code).toBe('PORT_BUSY');
    expect(err.message).toContain(`127.0.0.1:${port}`);
  });

  it('uses KAFKA_BROKERS and REDIS_URL as given in external mode, where restart and kill are not supported', async () => {
    const saved = { brokers: process.env.KAFKA_BROKERS, redis: process.env.REDIS_URL };
    process.env.KAFKA_BROKERS = inject('kafkaBrokers');
    process.env.REDIS_URL = inject('redisUrl');
    try {
      const kafka = await startKafka({ quiet: true });
      expect(kafka.mode).toBe('external');
      expect(kafka.brokers.join(',')).toBe(inject('kafkaBrokers'));
      expect((await failure(kafka.restart())).code).toBe('NOT_SUPPORTED');
      expect((await failure(kafka.kill())).message).toMatch(/not supported in external mode/);
      await kafka.stop();

      const redis = await startRedis({ quiet: true });
      expect(redis.mode).toBe('external');
      expect(redis.url).toBe(inject('redisUrl'));
      expect((await failure(redis.restart())).code).toBe('NOT_SUPPORTED');
    } finally {
      if (saved.brokers === undefined) delete process.env.KAFKA_BROKERS;
      else process.env.KAFKA_BROKERS = saved.brokers;
      if (saved.redis === undefined) delete process.env.REDIS_URL;
      else process.env.REDIS_URL = saved.redis;
    }
  });

  it('chooses local processes in auto mode without waiting when no Docker engine answers', async () => {
    const started = Date.now();
    const mode = await resolveMode('kafka', undefined, {
      CONTINUUM_TEST_INFRA: 'auto',
      DOCKER_HOST: 'unix:///nonexistent/docker.sock',
    });
    expect(mode).toBe('local');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('lets KAFKA_BROKERS select external mode and rejects an unknown CONTINUUM_TEST_INFRA', async () => {
    expect(await resolveMode('kafka', undefined, { KAFKA_BROKERS: '127.0.0.1:9092' })).toBe('external');
    expect(
      await resolveMode('redis', undefined, {
        KAFKA_BROKERS: '127.0.0.1:9092',
        CONTINUUM_TEST_INFRA: 'local',
      }),
    ).toBe('local');
    const bad = await failure(resolveMode('kafka', undefined, { CONTINUUM_TEST_INFRA: 'docker' }));
    expect(bad.code).toBe('BAD_CONFIG');
    const badBrokers = await failure(resolveMode('kafka', undefined, { KAFKA_BROKERS: 'no-port' }));
    expect(badBrokers.message).toContain('no-port');
  });

  it('says what it waited for when waitFor misses its deadline', async () => {
    let calls = 0;
    const err = await failure(
      waitUntil(
        () => {
          calls++;
          return false;
        },
        { timeoutMs: 200, what: 'the moon to turn blue', intervalMs: 20 },
      ),
    );
    expect(err.code).toBe('TIMEOUT');
    expect(err.message).toContain('the moon to turn blue');
    expect(calls).toBeGreaterThan(2);
  });
});
