// testcontainers-backed Kafka and Redis, chosen when a Docker engine answers (CONTINUUM_TEST_INFRA
// auto or containers). Loaded lazily: the testcontainers packages are optional dependencies.
import { InfraError } from './errors.js';
import { pingRedis } from './helpers.js';
import type { KafkaHandle } from './kafka.js';
import { waitForKafka } from './kafka.js';
import { dockerReachable } from './mode.js';
import { freePort } from './ports.js';
import type { RedisHandle } from './redis.js';

/** Image of the containerised broker (KRaft); override with CONTINUUM_KAFKA_IMAGE. */
const KAFKA_IMAGE = process.env.CONTINUUM_KAFKA_IMAGE ?? 'confluentinc/cp-kafka:7.9.0';
/** Image of the containerised Redis; override with CONTINUUM_REDIS_IMAGE. */
const REDIS_IMAGE = process.env.CONTINUUM_REDIS_IMAGE ?? 'redis:7.4';

async function assertDocker(): Promise<void> {
  if (!(await dockerReachable())) {
    throw new InfraError(
      'DOCKER_UNAVAILABLE',
      'CONTINUUM_TEST_INFRA=containers, but no Docker engine answers on DOCKER_HOST or /var/run/docker.sock. ' +
        'Start Docker, or use CONTINUUM_TEST_INFRA=local (Java + the jars from `node scripts/bootstrap.mjs --test`).',
    );
  }
}

async function load<T>(name: string, importer: () => Promise<T>): Promise<T> {
  try {
    return await importer();
  } catch (err) {
    throw new InfraError(
      'CONTAINERS_MISSING',
      `The optional package ${name} is not installed; run \`npm install\` or use CONTINUUM_TEST_INFRA=local.`,
      { cause: err },
    );
  }
}

function containerOnly(operation: string, what: string): InfraError {
  return new InfraError(
    'NOT_SUPPORTED',
    `${operation} of ${what} is not supported in containers mode; run this test with CONTINUUM_TEST_INFRA=local.`,
  );
}

/** A KRaft broker in a container; restart() and kill() are not supported (its mapped port would change). */
export async function startKafkaContainer(options: {
  readyTimeoutMs: number;
  port?: number;
}): Promise<KafkaHandle> {
  await assertDocker();
  const { KafkaContainer } = await load('@testcontainers/kafka', () => import('@testcontainers/kafka'));
  const started = Date.now();
  const container = await new KafkaContainer(KAFKA_IMAGE)
    .withKraft()
    .withEnvironment({
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_NUM_PARTITIONS: '4',
      KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS: '4',
      KAFKA_HEAP_OPTS: '-Xmx512m -Xms128m',
    })
    .start();
  const brokers = [`${container.getHost()}:${container.getMappedPort(9093)}`];
  try {
    await waitForKafka(
      brokers,
      started,
      options.readyTimeoutMs,
      () => undefined,
      () => `Container image ${KAFKA_IMAGE}.`,
    );
  } catch (err) {
    await container.stop();
    throw err;
  }
  const startupMs = Date.now() - started;
  let stopped = false;
  return {
    brokers,
    mode: 'containers',
    startupMs,
    async stop() {
      if (stopped) return;
      stopped = true;
      await container.stop({ timeout: 10_000, remove: true, removeVolumes: true });
    },
    restart: () => Promise.reject(containerOnly('restart()', 'the Kafka broker')),
    kill: () => Promise.reject(containerOnly('kill()', 'the Kafka broker')),
    logTail: () => '',
  };
}

/** Redis in a container, on a fixed host port so restart() keeps its URL. */
export async function startRedisContainer(options: {
  readyTimeoutMs: number;
  port?: number;
}): Promise<RedisHandle> {
  await assertDocker();
  const { GenericContainer, Wait } = await load('testcontainers', () => import('testcontainers'));
  const port = options.port ?? (await freePort());
  let startedAt = Date.now();
  const container = await new GenericContainer(REDIS_IMAGE)
    .withExposedPorts({ container: 6379, host: port })
    .withCommand(['redis-server', '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''])
    .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'))
    .start();
  const host = container.getHost();
  const waitPing = async (): Promise<void> => {
    const deadline = Date.now() + options.readyTimeoutMs;
    while (!(await pingRedis(host, port))) {
      if (Date.now() > deadline) {
        throw new InfraError(
          'REDIS_NOT_READY',
          `Redis container on ${host}:${port} did not answer PING in ${options.readyTimeoutMs} ms.`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  await waitPing();
  let startupMs = Date.now() - startedAt;
  let stopped = false;
  return {
    url: `redis://${host}:${port}`,
    port,
    mode: 'containers',
    get startupMs() {
      return startupMs;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await container.stop({ timeout: 10_000, remove: true, removeVolumes: true });
    },
    async restart() {
      startedAt = Date.now();
      await container.restart({ timeout: 10_000 });
      await waitPing();
      startupMs = Date.now() - startedAt;
    },
    kill: () => Promise.reject(containerOnly('kill()', 'Redis')),
    logTail: () => '',
  };
}
