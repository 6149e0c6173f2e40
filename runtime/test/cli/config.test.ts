import { resolve } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULTS, devConfig, runConfig } from '../../src/cli/config.js';
import { main } from '../../src/cli/main.js';

/** The per-partition limits `statefun dev` takes from the environment. */
const taskTuning = (env: Record<string, string>) => devConfig({}, env).task;

const TOKEN = { CONTINUUM_ADMIN_TOKEN: '0123456789abcdef0123' };

describe('per-partition limits (dev and run)', () => {
  it('reads the per-partition limits from the environment and leaves unset ones to their defaults', () => {
    expect(
      taskTuning({
        CONTINUUM_CHECKPOINT_MAX_RECORDS: '2000',
        CONTINUUM_MAX_OUTSTANDING_RECORDS: '50000',
        CONTINUUM_STATE_CACHE_ADDRESSES: '123',
        CONTINUUM_PROCESS_STATE_CACHE_ADDRESSES: '456',
        CONTINUUM_MAX_PENDING_TIMERS: '7',
      }),
    ).toEqual({
      checkpointMaxRecords: 2000,
      maxOutstandingRecords: 50000,
      stateCacheAddresses: 123,
      processStateCacheAddresses: 456,
      maxPendingTimers: 7,
    });
    expect(taskTuning({ CONTINUUM_MAX_PENDING_TIMERS: '', PATH: '/bin' })).toEqual({});
  });

  it.each([
    ['CONTINUUM_MAX_PENDING_TIMERS', 'many', /CONTINUUM_MAX_PENDING_TIMERS must be an integer from 1 to/],
    [
      'CONTINUUM_CHECKPOINT_MAX_RECORDS',
      '0',
      /CONTINUUM_CHECKPOINT_MAX_RECORDS must be an integer from 1 to/,
    ],
    ['CONTINUUM_STATE_CACHE_ADDRESSES', '-5', /CONTINUUM_STATE_CACHE_ADDRESSES must be an integer from 1 to/],
    [
      'CONTINUUM_PROCESS_STATE_CACHE_ADDRESSES',
      '0',
      /CONTINUUM_PROCESS_STATE_CACHE_ADDRESSES must be an integer from 1 to/,
    ],
  ])('rejects %s=%s with a message naming the variable', (variable, value, message) => {
    expect(() => taskTuning({ [variable]: value })).toThrow(message);
  });
});

describe('runConfig', () => {
  it('takes flags over environment and applies the defaults', () => {
    const config = runConfig(
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
      commitLingerMs: 50,
      transactionTimeoutMs: 10_000,
      sessionTimeoutMs: 6000,
      fetchMinBytes: 1,
      fetchMaxWaitMs: 500,
    });
  });

  it('retries start-up for CONTINUUM_STARTUP_TIMEOUT_MS (default 60 s; 0 exits at once) and rejects a bad value', () => {
    const env = { ...TOKEN, CONTINUUM_REDIS_URL: 'redis://r:6379' };
    expect(runConfig({ module: 'a.yaml' }, env).startupTimeoutMs).toBe(60_000);
    expect(
      runConfig({ module: 'a.yaml' }, { ...env, CONTINUUM_STARTUP_TIMEOUT_MS: '0' }).startupTimeoutMs,
    ).toBe(0);
    expect(() => runConfig({ module: 'a.yaml' }, { ...env, CONTINUUM_STARTUP_TIMEOUT_MS: '-1' })).toThrow(
      'CONTINUUM_STARTUP_TIMEOUT_MS must be an integer from 0 to 3600000, not "-1"',
    );
  });

  it('bounds the graceful stop by CONTINUUM_SHUTDOWN_TIMEOUT_MS (default 20 s) and rejects a bad value', () => {
    const env = { ...TOKEN, CONTINUUM_REDIS_URL: 'redis://r:6379' };
    expect(runConfig({ module: 'a.yaml' }, env).shutdownTimeoutMs).toBe(20_000);
    expect(
      runConfig({ module: 'a.yaml' }, { ...env, CONTINUUM_SHUTDOWN_TIMEOUT_MS: '50000' }).shutdownTimeoutMs,
    ).toBe(50_000);
    expect(() => runConfig({ module: 'a.yaml' }, { ...env, CONTINUUM_SHUTDOWN_TIMEOUT_MS: 'soon' })).toThrow(
      'CONTINUUM_SHUTDOWN_TIMEOUT_MS must be an integer from 1000 to 3600000, not "soon"',
    );
  });

  it('reads the commit pacing from the environment and rejects what is out of range', () => {
    const env = { ...TOKEN, CONTINUUM_REDIS_URL: 'redis://r:6379' };
    expect(
      runConfig(
        { module: 'a.yaml' },
        { ...env, CONTINUUM_COMMIT_LINGER_MS: '50', CONTINUUM_CHECKPOINT_INTERVAL_MS: '200' },
      ),
    ).toMatchObject({ commitLingerMs: 50, checkpointIntervalMs: 200 });
    expect(() => runConfig({ module: 'a.yaml' }, { ...env, CONTINUUM_TRANSACTION_TIMEOUT_MS: '10' })).toThrow(
      'CONTINUUM_TRANSACTION_TIMEOUT_MS must be an integer from 1000 to 900000, not "10"',
    );
  });

  it('reads the process memory limits of the Kafka ingresses, with their defaults, and rejects what is out of range', () => {
    const env = { ...TOKEN, CONTINUUM_REDIS_URL: 'redis://r:6379' };
    expect(runConfig({ module: 'a.yaml' }, env)).toMatchObject({
      maxHandedOverRecords: 5000,
      ingressMaxQueuedRecords: 10_000,
      ingressFetchMaxBytes: 1024 * 1024,
    });
    expect(
      runConfig(
        { module: 'a.yaml' },
        {
          ...env,
          CONTINUUM_MAX_HANDED_OVER_RECORDS: '300',
          CONTINUUM_INGRESS_MAX_QUEUED_RECORDS: '400',
          CONTINUUM_INGRESS_FETCH_MAX_BYTES: '65536',
        },
      ),
    ).toMatchObject({ maxHandedOverRecords: 300, ingressMaxQueuedRecords: 400, ingressFetchMaxBytes: 65536 });
    expect(() => runConfig({ module: 'a.yaml' }, { ...env, CONTINUUM_MAX_HANDED_OVER_RECORDS: '0' })).toThrow(
      'CONTINUUM_MAX_HANDED_OVER_RECORDS must be an integer from 1 to 10000000, not "0"',
    );
    expect(() =>
      runConfig({ module: 'a.yaml' }, { ...env, CONTINUUM_INGRESS_FETCH_MAX_BYTES: '100' }),
    ).toThrow('CONTINUUM_INGRESS_FETCH_MAX_BYTES must be an integer from 1024 to 268435456, not "100"');
  });

  it('names what is wrong', () => {
    expect(() => runConfig({ module: 'a.yaml' }, { ...TOKEN, CONTINUUM_REDIS_URL: 'http://r' })).toThrow(
      /^CONTINUUM_REDIS_URL must start with redis:\/\/ or rediss:\/\/$/,
    );
    expect(() =>
      runConfig(
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
    expect(() => runConfig({ module: 'a.yaml' }, env)).toThrow(
      /no admin token.*Set CONTINUUM_ADMIN_TOKEN.*or pass --admin-insecure \(CONTINUUM_ADMIN_INSECURE=true\)/,
    );
    expect(() => runConfig({ module: 'a.yaml' }, { ...env, CONTINUUM_ADMIN_TOKEN: '' })).toThrow(
      /no admin token/,
    );
  });

  it('runs with an open admin API only when asked to', () => {
    expect(runConfig({ module: 'a.yaml', 'admin-insecure': true }, env).adminToken).toBeUndefined();
    expect(
      runConfig({ module: 'a.yaml' }, { ...env, CONTINUUM_ADMIN_INSECURE: 'true' }).adminToken,
    ).toBeUndefined();
    expect(() => runConfig({ module: 'a.yaml' }, { ...env, CONTINUUM_ADMIN_INSECURE: 'yes' })).toThrow(
      /CONTINUUM_ADMIN_INSECURE must be one of true, false, not "yes"/,
    );
  });

  it('validates the admin and playground tokens without echoing them', () => {
    const short = () => runConfig({ module: 'a.yaml' }, { ...env, CONTINUUM_ADMIN_TOKEN: 'hunter2' });
    expect(short).toThrow(/CONTINUUM_ADMIN_TOKEN must be at least 16 characters/);
    expect(short).not.toThrow(/hunter2/);
    expect(() =>
      runConfig(
        { module: 'a.yaml' },
        { ...env, ...TOKEN, CONTINUUM_PLAYGROUND_TOKEN: 'has a space in it, sadly' },
      ),
    ).toThrow(/CONTINUUM_PLAYGROUND_TOKEN must be printable ASCII without spaces/);
    expect(
      runConfig(
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
      runConfig({ module: 'a.yaml', kafka: 'k0:9092,app:hunter2@k1:9092' }, { ...env, ...TOKEN }),
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

describe('one validated configuration for statefun dev and statefun run', () => {
  const runEnv = { ...TOKEN, CONTINUUM_REDIS_URL: 'redis://r:6379' };

  it('statefun run without settings takes every default from DEFAULTS', () => {
    expect(runConfig({ module: 'a.yaml' }, runEnv)).toMatchObject({
      partitions: DEFAULTS.run.partitions,
      groupId: DEFAULTS.groupId,
      adminPort: DEFAULTS.adminPort,
      host: DEFAULTS.host,
      checkpointIntervalMs: DEFAULTS.run.checkpointIntervalMs,
      commitLingerMs: DEFAULTS.run.commitLingerMs,
      transactionTimeoutMs: DEFAULTS.run.transactionTimeoutMs,
      fetchMinBytes: DEFAULTS.run.fetchMinBytes,
      fetchMaxWaitMs: DEFAULTS.run.fetchMaxWaitMs,
      sessionTimeoutMs: DEFAULTS.run.sessionTimeoutMs,
      shutdownTimeoutMs: DEFAULTS.run.shutdownTimeoutMs,
      startupTimeoutMs: DEFAULTS.run.startupTimeoutMs,
      internalTopic: DEFAULTS.internalTopic,
      deadLetterTopic: DEFAULTS.deadLetterTopic,
      repliesTopic: DEFAULTS.repliesTopic,
      redisKeyPrefix: DEFAULTS.redisKeyPrefix,
      log: { format: DEFAULTS.logFormat, level: DEFAULTS.logLevel },
      tracing: undefined,
      task: {
        checkpointIntervalMs: DEFAULTS.run.checkpointIntervalMs,
        deadLetterTopic: DEFAULTS.deadLetterTopic,
        repliesTopic: DEFAULTS.repliesTopic,
      },
    });
  });

  it('statefun dev without settings runs ./module.yaml with its data next to it', () => {
    const config = devConfig({}, {});
    expect(config).toEqual({
      moduleFile: resolve(DEFAULTS.dev.moduleFile),
      dataDir: resolve(DEFAULTS.dev.dataDir),
      partitions: DEFAULTS.dev.partitions,
      adminPort: DEFAULTS.adminPort,
      host: DEFAULTS.host,
      adminToken: undefined,
      kafkaBrokers: undefined,
      companions: true,
      signingKeyFile: undefined,
      log: { format: DEFAULTS.logFormat, level: DEFAULTS.logLevel },
      tracing: undefined,
      task: {},
    });
  });

  it('statefun dev takes its flags and the shared variables', () => {
    const config = devConfig(
      {
        module: 'apps/m.yaml',
        partitions: '8',
        'admin-port': '0',
        host: ' 0.0.0.0 ',
        kafka: 'k1:9092,k2:9093',
        'no-companions': true,
        'log-level': 'debug',
      },
      {
        CONTINUUM_ADMIN_TOKEN: 'dev-token',
        CONTINUUM_SIGNING_KEY_FILE: 'key.pem',
        CONTINUUM_LOG_FORMAT: 'json',
        CONTINUUM_LOG_LEVEL: 'warn',
        CONTINUUM_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
        CONTINUUM_TRACING_SAMPLE_RATIO: '0.25',
        CONTINUUM_MAX_PENDING_TIMERS: '9',
        // statefun dev reads these from flags only (they configure production deployments).
        CONTINUUM_PARTITIONS: '64',
        CONTINUUM_HOST: '10.0.0.1',
      },
    );
    expect(config).toMatchObject({
      moduleFile: resolve('apps/m.yaml'),
      dataDir: resolve('apps', DEFAULTS.dev.dataDir),
      partitions: 8,
      adminPort: 0,
      host: '0.0.0.0',
      adminToken: 'dev-token',
      kafkaBrokers: ['k1:9092', 'k2:9093'],
      companions: false,
      signingKeyFile: 'key.pem',
      log: { format: 'json', level: 'debug' },
      tracing: { endpoint: 'http://127.0.0.1:4318/', sampleRatio: 0.25 },
      task: { maxPendingTimers: 9 },
    });
  });

  it('is deeply frozen', () => {
    const run = runConfig(
      { module: 'a.yaml', kafka: 'k1:9092' },
      { ...runEnv, CONTINUUM_MAX_OUTSTANDING_RECORDS: '7' },
    );
    for (const part of [run, run.kafka, run.kafka.brokers, run.task, run.log])
      expect(Object.isFrozen(part)).toBe(true);
    expect(() => ((run as { partitions: number }).partitions = 1)).toThrow(TypeError);
    expect(() => run.kafka.brokers.push('k2:9092')).toThrow(TypeError);
    const dev = devConfig({ kafka: 'k1:9092' }, {});
    for (const part of [dev, dev.kafkaBrokers, dev.task, dev.log]) expect(Object.isFrozen(part)).toBe(true);
  });

  it('an empty variable counts as unset', () => {
    expect(runConfig({ module: 'a.yaml' }, { ...runEnv, CONTINUUM_PARTITIONS: '' }).partitions).toBe(
      DEFAULTS.run.partitions,
    );
  });

  it.each([
    // [flags, env, the whole message]
    [{ partitions: 'many' }, {}, '--partitions must be an integer from 1 to 10000, not "many"'],
    [{}, { CONTINUUM_PARTITIONS: '0' }, 'CONTINUUM_PARTITIONS must be an integer from 1 to 10000, not "0"'],
    [
      {},
      { CONTINUUM_ADMIN_PORT: '70000' },
      'CONTINUUM_ADMIN_PORT must be an integer from 0 to 65535, not "70000"',
    ],
    [{ 'log-format': 'xml' }, {}, '--log-format must be one of pretty, json, not "xml"'],
    [
      {},
      { CONTINUUM_LOG_LEVEL: 'loud' },
      'CONTINUUM_LOG_LEVEL must be one of debug, info, warn, error, not "loud"',
    ],
    [{}, { CONTINUUM_KAFKA_SSL: 'yes' }, 'CONTINUUM_KAFKA_SSL must be one of true, false, not "yes"'],
    [
      {},
      { CONTINUUM_KAFKA_SASL_MECHANISM: 'md5' },
      'CONTINUUM_KAFKA_SASL_MECHANISM must be one of plain, scram-sha-256, scram-sha-512, not "md5"',
    ],
    [
      { 'otlp-endpoint': 'collector:4318' },
      {},
      '--otlp-endpoint must be an http(s) URL such as http://127.0.0.1:4318, not "collector:4318"',
    ],
    [
      {},
      { CONTINUUM_TRACING_SAMPLE_RATIO: '2' },
      'CONTINUUM_TRACING_SAMPLE_RATIO must be a number from 0 to 1, not "2"',
    ],
    [{}, { CONTINUUM_INTERNAL_TOPIC: ' ' }, 'CONTINUUM_INTERNAL_TOPIC needs a topic name, not " "'],
    [{ host: ' ' }, {}, '--host needs an address such as 127.0.0.1 or 0.0.0.0, not " "'],
  ])('statefun run: %o %o is refused with "%s"', (flags, env, message) => {
    expect(() => runConfig({ module: 'a.yaml', ...flags }, { ...runEnv, ...env })).toThrow(
      expect.objectContaining({ code: 'USAGE', message }),
    );
  });

  it('names every wrong setting at once, and never shows a secret', () => {
    let message = '';
    try {
      runConfig(
        { module: 'a.yaml', partitions: 'x', redis: 'http://user:hunter2@r' },
        { CONTINUUM_ADMIN_TOKEN: 'hunter2', CONTINUUM_FETCH_MAX_WAIT_MS: '-1' },
      );
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message.split('; ')).toEqual([
      '--redis must start with redis:// or rediss://',
      '--partitions must be an integer from 1 to 10000, not "x"',
      'CONTINUUM_ADMIN_TOKEN must be at least 16 characters (generate one with: openssl rand -hex 32)',
      'CONTINUUM_FETCH_MAX_WAIT_MS must be an integer from 0 to 10000, not "-1"',
    ]);
  });

  it.each([
    [{ partitions: '2000' }, {}, '--partitions must be an integer from 1 to 1024, not "2000"'],
    [{ 'admin-port': 'http' }, {}, '--admin-port must be an integer from 0 to 65535, not "http"'],
    [
      {},
      { CONTINUUM_CHECKPOINT_MAX_RECORDS: '0' },
      'CONTINUUM_CHECKPOINT_MAX_RECORDS must be an integer from 1 to 1000000, not "0"',
    ],
    [
      { kafka: 'k1' },
      {},
      '--kafka needs comma-separated host:port bootstrap servers (e.g. 127.0.0.1:9092), not "k1"',
    ],
  ])('statefun dev: %o %o is refused with "%s"', (flags, env, message) => {
    expect(() => devConfig(flags, env)).toThrow(expect.objectContaining({ code: 'USAGE', message }));
  });

  it('statefun dev and run print the error with their name and exit 2', async () => {
    for (const argv of [
      ['dev', '--partitions', '0', '--no-companions'],
      ['run', '-m', 'a.yaml', '--redis', 'redis://127.0.0.1:1', '--admin-insecure', '--partitions', '0'],
    ]) {
      let err = '';
      const code = await main(
        argv,
        () => undefined,
        (t) => void (err += t),
      );
      expect(code).toBe(2);
      expect(err).toMatch(
        new RegExp(`^statefun ${argv[0]}: --partitions must be an integer from 1 to \\d+, not "0"\\n$`),
      );
    }
  });
});
