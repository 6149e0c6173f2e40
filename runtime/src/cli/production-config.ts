// Production settings from flags and environment, validated once: flags win over environment.
import { z } from 'zod';
import type { TaskConfig, TaskHooks } from '../core/partition-task.js';
import { ContinuumError } from '../errors.js';
import type { KafkaConnection } from '../log/kafka/client.js';
import { DEFAULT_SHUTDOWN_TIMEOUT_MS } from './process-exit.js';
import { DEFAULT_COMMIT_LINGER_MS } from '../log/kafka/process-transactions.js';
import {
  DEFAULT_FETCH_MAX_WAIT_MS,
  DEFAULT_FETCH_MIN_BYTES,
  DEFAULT_SESSION_TIMEOUT_MS,
} from '../log/kafka/transactional-group.js';
import { redactText } from '../redact.js';

export interface ProductionConfig {
  module: string;
  kafka: KafkaConnection;
  redisUrl: string;
  redisPassword?: string | undefined;
  partitions: number;
  groupId: string;
  adminPort: number;
  adminToken?: string | undefined;
  /** Bearer token the playground ingress and egress require; open when undefined. */
  playgroundToken?: string | undefined;
  /** PEM file of the Ed25519 private key that signs every request to function endpoints. */
  signingKeyFile?: string | undefined;
  host: string;
  checkpointIntervalMs: number;
  /** Process transactions start at least this far apart (the Kafka log's commit linger). */
  commitLingerMs: number;
  /** The broker aborts an open transaction of a crashed process after this long. */
  transactionTimeoutMs: number;
  /** Kafka fetches wait for this many bytes or fetchMaxWaitMs (fetch.min.bytes, fetch.max.wait.ms). */
  fetchMinBytes: number;
  fetchMaxWaitMs: number;
  internalTopic: string;
  deadLetterTopic: string;
  /** Where replies to waiting HTTP requests are committed. */
  repliesTopic: string;
  redisKeyPrefix: string;
  sessionTimeoutMs: number;
  /** Longest graceful stop on SIGTERM before the process exits without finishing it. */
  shutdownTimeoutMs: number;
}

const intText = (name: string, min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `${name} must be a whole number`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `${name} must be between ${min} and ${max}`);

/**
 * Production defaults, measured in bench/RESULTS.md: a change starts its checkpoint as soon as the
 * partition's previous one ended, and the process's shared transactions pace the commits.
 */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 0;

/** A bearer token: visible ASCII without spaces (it travels in a header), long enough to guess badly. */
const bearerToken = (variable: string) =>
  z
    .string()
    .min(16, `${variable} must be at least 16 characters (generate one with: openssl rand -hex 32)`)
    .max(4096, `${variable} must be at most 4096 characters`)
    .regex(/^[\x21-\x7e]+$/, `${variable} must be printable ASCII without spaces`);

const schema = z.object({
  module: z.string({ error: 'no module file: pass -m module.yaml or set CONTINUUM_MODULE' }).min(1),
  brokers: z.string().optional(),
  redisUrl: z
    .string({ error: 'no Redis: pass --redis redis://host:port or set CONTINUUM_REDIS_URL' })
    .regex(/^rediss?:\/\//, 'the Redis URL must start with redis:// or rediss://'),
  redisPassword: z.string().optional(),
  partitions: intText('partitions', 1, 10_000).default(32),
  groupId: z.string().min(1).default('continuum-runtime'),
  adminPort: intText('admin port', 0, 65535).default(9090),
  adminToken: bearerToken('CONTINUUM_ADMIN_TOKEN').optional(),
  adminInsecure: z
    .enum(['true', 'false'], { error: 'CONTINUUM_ADMIN_INSECURE must be true or false' })
    .optional(),
  playgroundToken: bearerToken('CONTINUUM_PLAYGROUND_TOKEN').optional(),
  signingKeyFile: z.string().min(1).optional(),
  host: z.string().min(1).default('127.0.0.1'),
  checkpointIntervalMs: intText('checkpoint interval', 0, 600_000).default(DEFAULT_CHECKPOINT_INTERVAL_MS),
  commitLingerMs: intText('commit linger', 0, 60_000).default(DEFAULT_COMMIT_LINGER_MS),
  transactionTimeoutMs: intText('transaction timeout', 1000, 900_000).default(10_000),
  fetchMinBytes: intText('fetch min bytes', 1, 64 * 1024 * 1024).default(DEFAULT_FETCH_MIN_BYTES),
  fetchMaxWaitMs: intText('fetch max wait', 0, 10_000).default(DEFAULT_FETCH_MAX_WAIT_MS),
  internalTopic: z.string().min(1).default('continuum-internal'),
  deadLetterTopic: z.string().min(1).default('continuum-dead-letters'),
  repliesTopic: z.string().min(1).default('continuum-replies'),
  redisKeyPrefix: z
    .string()
    .regex(/^[^{}]+$/, 'the Redis key prefix must not contain { or }')
    .default('continuum'),
  sessionTimeoutMs: intText('Kafka session timeout', 1000, 600_000).default(DEFAULT_SESSION_TIMEOUT_MS),
  shutdownTimeoutMs: intText('shutdown timeout', 1000, 3_600_000).default(DEFAULT_SHUTDOWN_TIMEOUT_MS),
  ssl: z.enum(['true', 'false']).optional(),
  saslMechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
  saslUsername: z.string().optional(),
  saslPassword: z.string().optional(),
});

type Env = Record<string, string | undefined>;

/** Partition-task limits that both `statefun dev` and `statefun run` take from the environment. */
const TUNING = {
  CONTINUUM_CHECKPOINT_MAX_RECORDS: ['checkpointMaxRecords', 1, 1_000_000],
  CONTINUUM_MAX_OUTSTANDING_RECORDS: ['maxOutstandingRecords', 1, 10_000_000],
  CONTINUUM_STATE_CACHE_ADDRESSES: ['stateCacheAddresses', 1, 100_000_000],
  CONTINUUM_MAX_PENDING_TIMERS: ['maxPendingTimers', 1, 100_000_000],
} as const satisfies Record<string, [keyof TaskConfig, number, number]>;

/**
 * The partition-task limits set in the environment (unset ones keep their defaults):
 * CONTINUUM_CHECKPOINT_MAX_RECORDS, CONTINUUM_MAX_OUTSTANDING_RECORDS,
 * CONTINUUM_STATE_CACHE_ADDRESSES and CONTINUUM_MAX_PENDING_TIMERS.
 */
export function taskTuning(env: Env): Partial<TaskConfig> {
  const tuning: Partial<Record<keyof TaskConfig, number>> = {};
  for (const [variable, [key, min, max]] of Object.entries(TUNING)) {
    const text = env[variable];
    if (text === undefined || text === '') continue;
    const parsed = intText(variable, min, max).safeParse(text);
    if (!parsed.success)
      throw new ContinuumError('USAGE', parsed.error.issues.map((i) => i.message).join('; '));
    tuning[key] = parsed.data;
  }
  return tuning as Partial<TaskConfig>;
}

export function productionConfig(
  flags: Record<string, string | boolean | undefined>,
  env: Env,
): ProductionConfig {
  const flag = (name: string): string | undefined =>
    typeof flags[name] === 'string' ? flags[name] : undefined;
  const parsed = schema.safeParse({
    module: flag('module') ?? env.CONTINUUM_MODULE,
    brokers: flag('kafka') ?? env.CONTINUUM_KAFKA_BROKERS,
    redisUrl: flag('redis') ?? env.CONTINUUM_REDIS_URL,
    redisPassword: env.CONTINUUM_REDIS_PASSWORD,
    partitions: flag('partitions') ?? env.CONTINUUM_PARTITIONS,
    groupId: flag('group') ?? env.CONTINUUM_GROUP_ID,
    adminPort: flag('admin-port') ?? env.CONTINUUM_ADMIN_PORT,
    adminToken: nonEmpty(env.CONTINUUM_ADMIN_TOKEN),
    adminInsecure: flags['admin-insecure'] === true ? 'true' : nonEmpty(env.CONTINUUM_ADMIN_INSECURE),
    playgroundToken: nonEmpty(env.CONTINUUM_PLAYGROUND_TOKEN),
    signingKeyFile: flag('signing-key') ?? nonEmpty(env.CONTINUUM_SIGNING_KEY_FILE),
    host: flag('host') ?? env.CONTINUUM_HOST,
    checkpointIntervalMs: env.CONTINUUM_CHECKPOINT_INTERVAL_MS,
    commitLingerMs: env.CONTINUUM_COMMIT_LINGER_MS,
    transactionTimeoutMs: env.CONTINUUM_TRANSACTION_TIMEOUT_MS,
    fetchMinBytes: env.CONTINUUM_FETCH_MIN_BYTES,
    fetchMaxWaitMs: env.CONTINUUM_FETCH_MAX_WAIT_MS,
    internalTopic: env.CONTINUUM_INTERNAL_TOPIC,
    deadLetterTopic: env.CONTINUUM_DEAD_LETTER_TOPIC,
    repliesTopic: env.CONTINUUM_REPLIES_TOPIC,
    redisKeyPrefix: env.CONTINUUM_REDIS_KEY_PREFIX,
    sessionTimeoutMs: env.CONTINUUM_KAFKA_SESSION_TIMEOUT_MS,
    shutdownTimeoutMs: env.CONTINUUM_SHUTDOWN_TIMEOUT_MS,
    ssl: env.CONTINUUM_KAFKA_SSL,
    saslMechanism: env.CONTINUUM_KAFKA_SASL_MECHANISM,
    saslUsername: env.CONTINUUM_KAFKA_SASL_USERNAME,
    saslPassword: env.CONTINUUM_KAFKA_SASL_PASSWORD,
  });
  if (!parsed.success) {
    throw new ContinuumError('USAGE', parsed.error.issues.map((i) => i.message).join('; '));
  }
  const c = parsed.data;
  if (c.adminToken === undefined && c.adminInsecure !== 'true') {
    throw new ContinuumError(
      'USAGE',
      'no admin token: anyone who reaches the admin port could read state, send messages and replay ' +
        'dead letters. Set CONTINUUM_ADMIN_TOKEN (e.g. export CONTINUUM_ADMIN_TOKEN=$(openssl rand -hex 32)), ' +
        'or pass --admin-insecure (CONTINUUM_ADMIN_INSECURE=true) to run with an open admin API.',
    );
  }
  const withCredentials = (c.brokers ?? '').split(',').filter((b) => b.includes('@'));
  if (withCredentials.length > 0) {
    throw new ContinuumError(
      'USAGE',
      `Kafka broker address ${redactText(withCredentials[0]!.trim())} carries credentials; brokers are ` +
        'host:port only. Give the user and password with CONTINUUM_KAFKA_SASL_MECHANISM, ' +
        'CONTINUUM_KAFKA_SASL_USERNAME and CONTINUUM_KAFKA_SASL_PASSWORD.',
    );
  }
  const kafka: KafkaConnection = {
    brokers: (c.brokers ?? '')
      .split(',')
      .map((b) => b.trim())
      .filter((b) => b !== ''),
    ssl: c.ssl === 'true',
  };
  if (c.saslMechanism !== undefined) {
    if (c.saslUsername === undefined || c.saslPassword === undefined) {
      throw new ContinuumError(
        'USAGE',
        'CONTINUUM_KAFKA_SASL_MECHANISM needs CONTINUUM_KAFKA_SASL_USERNAME and CONTINUUM_KAFKA_SASL_PASSWORD',
      );
    }
    kafka.sasl = { mechanism: c.saslMechanism, username: c.saslUsername, password: c.saslPassword };
  }
  return {
    module: c.module,
    kafka,
    redisUrl: c.redisUrl,
    redisPassword: c.redisPassword,
    partitions: c.partitions,
    groupId: c.groupId,
    adminPort: c.adminPort,
    adminToken: c.adminToken,
    playgroundToken: c.playgroundToken,
    signingKeyFile: c.signingKeyFile,
    host: c.host,
    checkpointIntervalMs: c.checkpointIntervalMs,
    commitLingerMs: c.commitLingerMs,
    transactionTimeoutMs: c.transactionTimeoutMs,
    fetchMinBytes: c.fetchMinBytes,
    fetchMaxWaitMs: c.fetchMaxWaitMs,
    internalTopic: c.internalTopic,
    deadLetterTopic: c.deadLetterTopic,
    repliesTopic: c.repliesTopic,
    redisKeyPrefix: c.redisKeyPrefix,
    sessionTimeoutMs: c.sessionTimeoutMs,
    shutdownTimeoutMs: c.shutdownTimeoutMs,
  };
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

/**
 * Crash points for the chaos tests, off unless CONTINUUM_TEST_CRASH_AFTER_STAGE or
 * CONTINUUM_TEST_CRASH_AFTER_COMMIT holds a probability: the process kills itself with SIGKILL
 * between the Redis stage and the Kafka commit (or between commit and promote).
 */
export function crashHooks(env: Env): TaskHooks | undefined {
  const afterStage = Number(env.CONTINUUM_TEST_CRASH_AFTER_STAGE ?? 0);
  const afterCommit = Number(env.CONTINUUM_TEST_CRASH_AFTER_COMMIT ?? 0);
  if (!(afterStage > 0) && !(afterCommit > 0)) return undefined;
  const maybeDie = (p: number): void => {
    if (p > 0 && Math.random() < p) process.kill(process.pid, 'SIGKILL');
  };
  return { afterStage: () => maybeDie(afterStage), afterCommit: () => maybeDie(afterCommit) };
}
