import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { productionConfig, taskTuning } from '../../src/cli/production-config.js';

const TOKEN = { CONTINUUM_ADMIN_TOKEN: '0123456789abcdef0123' };

describe('taskTuning', () => {
  it('reads the per-partition limits from the environment and leaves unset ones to their defaults', () => {
    expect(
      taskTuning({
        CONTINUUM_CHECKPOINT_MAX_RECORDS: '2000',
        CONTINUUM_MAX_OUTSTANDING_RECORDS: '50000',
        CONTINUUM_STATE_CACHE_ADDRESSES: '123',
        CONTINUUM_MAX_PENDING_TIMERS: '7',
      }),
    ).toEqual({
      checkpointMaxRecords: 2000,
      maxOutstandingRecords: 50000,
      stateCacheAddresses: 123,
      maxPendingTimers: 7,
    });
    expect(taskTuning({ CONTINUUM_MAX_PENDING_TIMERS: '', PATH: '/bin' })).toEqual({});
  });

  it.each([
    ['CONTINUUM_MAX_PENDING_TIMERS', 'many', /CONTINUUM_MAX_PENDING_TIMERS must be a whole number/],
    ['CONTINUUM_CHECKPOINT_MAX_RECORDS', '0', /CONTINUUM_CHECKPOINT_MAX_RECORDS must be between 1 and/],
    ['CONTINUUM_STATE_CACHE_ADDRESSES', '-5', /CONTINUUM_STATE_CACHE_ADDRESSES must be a whole number/],
  ])('rejects %s=%s with a message naming the variable', (variable, value, message) => {
    expect(() => taskTuning({ [variable]: value })).toThrow(message);
  });
});

describe('productionConfig', () => {
  it('takes flags over environment and applies the defaults', () => {
    const config = productionConfig(
      { module: 'a.yaml', kafka: 'k1:9092, k2:9092', partitions: '8' },
      {
        ...TOKEN,
        CONTINUUM_MODULE: 'b.yaml',
        CONTINUUM_REDIS_URL: 'redis://r:6379',
        CONTINUUM_PARTITIONS: '4',
      },
    );
    expect(config).toMatchObject({
      module: 'a.yaml',
      kafka: { brokers: ['k1:9092', 'k2:9092'], ssl: false },
      redisUrl: 'redis://r:6379',
      partitions: 8,
      groupId: 'continuum-runtime',
      checkpointIntervalMs: 0,
      commitLingerMs: 20,
      transactionTimeoutMs: 10_000,
      sessionTimeoutMs: 6000,
      fetchMinBytes: 1,
      fetchMaxWaitMs: 500,
    });
  });

  it('bounds the graceful stop by CONTINUUM_SHUTDOWN_TIMEOUT_MS (default 20 s) and rejects a bad value', () => {
    const env = { ...TOKEN, CONTINUUM_REDIS_URL: 'redis://r:6379' };
    expect(productionConfig({ module: 'a.yaml' }, env).shutdownTimeoutMs).toBe(20_000);
    expect(
      productionConfig({ module: 'a.yaml' }, { ...env, CONTINUUM_SHUTDOWN_TIMEOUT_MS: '50000' })
        .shutdownTimeoutMs,
    ).toBe(50_000);
    expect(() =>
      productionConfig({ module: 'a.yaml' }, { ...env, CONTINUUM_SHUTDOWN_TIMEOUT_MS: 'soon' }),
    ).toThrow(/shutdown timeout must be a whole number/);
  });

  it('reads the commit pacing from the environment and rejects what is out of range', () => {
    const env = { ...TOKEN, CONTINUUM_REDIS_URL: 'redis://r:6379' };
    expect(
      productionConfig(
        { module: 'a.yaml' },
        { ...env, CONTINUUM_COMMIT_LINGER_MS: '50', CONTINUUM_CHECKPOINT_INTERVAL_MS: '200' },
      ),
    ).toMatchObject({ commitLingerMs: 50, checkpointIntervalMs: 200 });
    expect(() =>
      productionConfig({ module: 'a.yaml' }, { ...env, CONTINUUM_TRANSACTION_TIMEOUT_MS: '10' }),
    ).toThrow(/transaction timeout must be between 1000 and 900000/);
  });

  it('names what is wrong', () => {
    expect(() =>
      productionConfig({ module: 'a.yaml' }, { ...TOKEN, CONTINUUM_REDIS_URL: 'http://r' }),
    ).toThrow(/must start with redis:\/\/ or rediss:\/\//);
    expect(() =>
      productionConfig(
        { module: 'a.yaml' },
        { ...TOKEN, CONTINUUM_REDIS_URL: 'redis://r', CONTINUUM_KAFKA_SASL_MECHANISM: 'plain' },
      ),
    ).toThrow(/needs CONTINUUM_KAFKA_SASL_USERNAME/);
  });
});

describe('who may call a production runtime', () => {
  const env = { CONTINUUM_REDIS_URL: 'redis://r:6379' };
  afterEach(() => vi.unstubAllEnvs());

  it('refuses to start without an admin token, naming both ways out', () => {
    expect(() => productionConfig({ module: 'a.yaml' }, env)).toThrow(
      /no admin token.*Set CONTINUUM_ADMIN_TOKEN.*or pass --admin-insecure \(CONTINUUM_ADMIN_INSECURE=true\)/,
    );
    expect(() => productionConfig({ module: 'a.yaml' }, { ...env, CONTINUUM_ADMIN_TOKEN: '' })).toThrow(
      /no admin token/,
    );
  });

  it('runs with an open admin API only when asked to', () => {
    expect(productionConfig({ module: 'a.yaml', 'admin-insecure': true }, env).adminToken).toBeUndefined();
    expect(
      productionConfig({ module: 'a.yaml' }, { ...env, CONTINUUM_ADMIN_INSECURE: 'true' }).adminToken,
    ).toBeUndefined();
    expect(() => productionConfig({ module: 'a.yaml' }, { ...env, CONTINUUM_ADMIN_INSECURE: 'yes' })).toThrow(
      /CONTINUUM_ADMIN_INSECURE must be true or false/,
    );
  });

  it('validates the admin and playground tokens without echoing them', () => {
    const short = () => productionConfig({ module: 'a.yaml' }, { ...env, CONTINUUM_ADMIN_TOKEN: 'hunter2' });
    expect(short).toThrow(/CONTINUUM_ADMIN_TOKEN must be at least 16 characters/);
    expect(short).not.toThrow(/hunter2/);
    expect(() =>
      productionConfig(
        { module: 'a.yaml' },
        { ...env, ...TOKEN, CONTINUUM_PLAYGROUND_TOKEN: 'has a space in it, sadly' },
      ),
    ).toThrow(/CONTINUUM_PLAYGROUND_TOKEN must be printable ASCII without spaces/);
    expect(
      productionConfig(
        { module: 'a.yaml' },
        { ...env, ...TOKEN, CONTINUUM_PLAYGROUND_TOKEN: 'pg-0123456789abcdef' },
      ),
    ).toMatchObject({ adminToken: TOKEN.CONTINUUM_ADMIN_TOKEN, playgroundToken: 'pg-0123456789abcdef' });
  });

  it('statefun run exits with a usage error before connecting to anything', async () => {
    vi.stubEnv('CONTINUUM_ADMIN_TOKEN', '');
    vi.stubEnv('CONTINUUM_ADMIN_INSECURE', '');
    let err = '';
    const code = await main(
      ['run', '-m', 'missing.yaml', '--redis', 'redis://127.0.0.1:1', '--kafka', '127.0.0.1:1'],
      () => undefined,
      (t) => void (err += t),
    );
    expect(code).toBe(2);
    expect(err).toMatch(/^statefun run: no admin token/);
  });

  it('refuses Kafka credentials in the broker list without echoing the password', async () => {
    expect(() =>
      productionConfig({ module: 'a.yaml', kafka: 'k0:9092,app:hunter2@k1:9092' }, { ...env, ...TOKEN }),
    ).toThrow(/broker address \[redacted\]@k1:9092 carries credentials.*CONTINUUM_KAFKA_SASL_USERNAME/);
    vi.stubEnv('CONTINUUM_ADMIN_TOKEN', TOKEN.CONTINUUM_ADMIN_TOKEN);
    let err = '';
    const code = await main(
      ['run', '-m', 'a.yaml', '--redis', 'redis://:pw@127.0.0.1:1', '--kafka', 'app:hunter2@k1:9092'],
      () => undefined,
      (t) => void (err += t),
    );
    expect(code).toBe(2);
    expect(err).toContain('carries credentials');
    expect(err).not.toContain('hunter2');
  });
});
