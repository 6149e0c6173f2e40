// The settings of `statefun dev` and `statefun run`, from flags and environment (a flag wins over its
// variable), validated once and deeply frozen. Defaults come from DEFAULTS; an invalid value fails
// naming the flag or variable it came from and what it may be.
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import type { TaskConfig } from '../core/partition-task.js';
import { DEFAULTS } from '../defaults.js';
import { ContinuumError } from '../errors.js';
import type { KafkaConnection } from '../log/kafka/client.js';
import { partitionings, type Partitioning } from '../log/partitioner.js';
import type { LogLevel } from '../logger.js';
import { redactText } from '../redact.js';
import { devKafkaBrokers } from './topics.js';

export { DEFAULTS } from '../defaults.js';

type Flags = Readonly<Record<string, string | boolean | undefined>>;
type Env = Readonly<Record<string, string | undefined>>;

export const LOG_FORMATS = ['pretty', 'json'] as const;
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;

/** What both commands share. */
export interface CommonConfig {
  readonly log: Readonly<{ format: (typeof LOG_FORMATS)[number]; level: LogLevel }>;
  /** Spans go to this OTLP/HTTP collector; tracing is off when undefined. */
  readonly tracing: Readonly<{ endpoint: string; sampleRatio: number }> | undefined;
  /** PEM file of the Ed25519 private key that signs every request to function endpoints. */
  readonly signingKeyFile: string | undefined;
  /** Interface the admin and playground servers bind to. */
  readonly host: string;
  readonly adminPort: number;
  readonly adminToken: string | undefined;
  /** Partitions of the internal log. */
  readonly partitions: number;
  /** Per-partition limits set in the environment; unset ones keep the task defaults. */
  readonly task: Readonly<Partial<TaskConfig>>;
}

export interface DevConfig extends CommonConfig {
  /** Absolute path of the module file. */
  readonly moduleFile: string;
  /** Absolute path of the directory the embedded log and state store keep their files in. */
  readonly dataDir: string;
  /** Bootstrap servers of a Kafka broker for the Kafka ingress and egress topics. */
  readonly kafkaBrokers: readonly string[] | undefined;
  /** Whether to start the processes of statefun-dev.json. */
  readonly companions: boolean;
}

export interface RunConfig extends CommonConfig {
  readonly module: string;
  readonly kafka: Readonly<KafkaConnection>;
  readonly redisUrl: string;
  readonly redisPassword: string | undefined;
  readonly groupId: string;
  /** Bearer token the playground ingress and egress require; open when undefined. */
  readonly playgroundToken: string | undefined;
  readonly checkpointIntervalMs: number;
  /** Process transactions start at least this far apart (the Kafka log's commit linger). */
  readonly commitLingerMs: number;
  /** The broker aborts an open transaction of a crashed process after this long. */
  readonly transactionTimeoutMs: number;
  /** Kafka fetches wait for this many bytes or fetchMaxWaitMs (fetch.min.bytes, fetch.max.wait.ms). */
  readonly fetchMinBytes: number;
  readonly fetchMaxWaitMs: number;
  /** A Kafka ingress hands records to the tasks of its own process instead of appending them. */
  readonly ingressHandOff: boolean;
  /** Handed-over records not yet durable, per process. */
  readonly maxHandedOverRecords: number;
  /** Ingress records read and not yet moved, per process. */
  readonly ingressMaxQueuedRecords: number;
  /** Most bytes one fetch of a Kafka ingress brings. */
  readonly ingressFetchMaxBytes: number;
  /** How addresses pick partitions; undefined: the deployment's recorded one (state/partitioning.ts). */
  readonly partitioning: Partitioning | undefined;
  readonly internalTopic: string;
  readonly deadLetterTopic: string;
  /** Where replies to waiting HTTP requests are committed. */
  readonly repliesTopic: string;
  readonly redisKeyPrefix: string;
  readonly sessionTimeoutMs: number;
  /** Longest graceful stop on SIGTERM before the process exits without finishing it. */
  readonly shutdownTimeoutMs: number;
  /** How long start-up retries while Kafka or Redis cannot be reached, before the process exits. */
  readonly startupTimeoutMs: number;
  /** This process as partition owner and in its Kafka transactional ids (default HOSTNAME/pid). */
  readonly instance: string | undefined;
}

// ---- the settings: where each comes from and what it may be -------------------------------------

/** Where a setting is read: its flag (`--name`) and/or its environment variable. */
interface Source {
  readonly flag?: string;
  readonly env?: string;
  /** Values of secrets never appear in an error. */
  readonly secret?: boolean;
}

const int = (min: number, max: number) => {
  const allowed = `must be an integer from ${min} to ${max}`;
  return z
    .string()
    .regex(/^\d+$/, allowed)
    .transform(Number)
    .refine((n) => n >= min && n <= max, allowed);
};
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `must be one of ${values.join(', ')}` });
const text = (what: string) => z.string().trim().min(1, `needs ${what}`);
const bool = oneOf(['true', 'false']);
/** A bearer token: visible ASCII without spaces (it travels in a header), long enough to guess badly. */
const bearerToken = z
  .string()
  .min(16, 'must be at least 16 characters (generate one with: openssl rand -hex 32)')
  .max(4096, 'must be at most 4096 characters')
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');
const httpUrl = z
  .string()
  .trim()
  .refine((raw) => {
    try {
      return ['http:', 'https:'].includes(new URL(raw).protocol);
    } catch {
      return false;
    }
  }, 'must be an http(s) URL such as http://127.0.0.1:4318')
  .transform((raw) => new URL(raw).toString());
const ratio = z
  .string()
  .regex(/^(0|1|0?\.\d+|1\.0*)$/, 'must be a number from 0 to 1')
  .transform(Number);

/** Settings both commands read, with the same sources. */
const COMMON = {
  logFormat: { flag: 'log-format', env: 'CONTINUUM_LOG_FORMAT' },
  logLevel: { flag: 'log-level', env: 'CONTINUUM_LOG_LEVEL' },
  otlpEndpoint: { flag: 'otlp-endpoint', env: 'CONTINUUM_OTLP_ENDPOINT' },
  tracingSampleRatio: { env: 'CONTINUUM_TRACING_SAMPLE_RATIO' },
  signingKeyFile: { flag: 'signing-key', env: 'CONTINUUM_SIGNING_KEY_FILE' },
  checkpointMaxRecords: { env: 'CONTINUUM_CHECKPOINT_MAX_RECORDS' },
  maxOutstandingRecords: { env: 'CONTINUUM_MAX_OUTSTANDING_RECORDS' },
  stateCacheAddresses: { env: 'CONTINUUM_STATE_CACHE_ADDRESSES' },
  processStateCacheAddresses: { env: 'CONTINUUM_PROCESS_STATE_CACHE_ADDRESSES' },
  maxPendingTimers: { env: 'CONTINUUM_MAX_PENDING_TIMERS' },
} as const satisfies Record<string, Source>;

const commonSchema = {
  logFormat: oneOf(LOG_FORMATS).default(DEFAULTS.logFormat),
  logLevel: oneOf(LOG_LEVELS).default(DEFAULTS.logLevel),
  otlpEndpoint: httpUrl.optional(),
  tracingSampleRatio: ratio.default(DEFAULTS.tracingSampleRatio),
  signingKeyFile: z.string().optional(),
  checkpointMaxRecords: int(1, 1_000_000).optional(),
  maxOutstandingRecords: int(1, 10_000_000).optional(),
  stateCacheAddresses: int(1, 100_000_000).optional(),
  processStateCacheAddresses: int(1, 100_000_000).optional(),
  maxPendingTimers: int(1, 100_000_000).optional(),
};

const DEV = {
  ...COMMON,
  module: { flag: 'module' },
  dataDir: { flag: 'data-dir' },
  partitions: { flag: 'partitions' },
  adminPort: { flag: 'admin-port' },
  host: { flag: 'host' },
  kafka: { flag: 'kafka' },
  noCompanions: { flag: 'no-companions' },
  adminToken: { env: 'CONTINUUM_ADMIN_TOKEN', secret: true },
} as const satisfies Record<string, Source>;

const devSchema = z.object({
  ...commonSchema,
  module: z.string().default(DEFAULTS.dev.moduleFile),
  dataDir: z.string().optional(),
  partitions: int(1, 1024).default(DEFAULTS.dev.partitions),
  adminPort: int(0, 65535).default(DEFAULTS.adminPort),
  host: text('an address such as 127.0.0.1 or 0.0.0.0').default(DEFAULTS.host),
  kafka: z.string().optional(),
  noCompanions: bool.optional(),
  adminToken: z.string().optional(),
});

const RUN = {
  ...COMMON,
  module: { flag: 'module', env: 'CONTINUUM_MODULE' },
  brokers: { flag: 'kafka', env: 'CONTINUUM_KAFKA_BROKERS' },
  redisUrl: { flag: 'redis', env: 'CONTINUUM_REDIS_URL', secret: true },
  redisPassword: { env: 'CONTINUUM_REDIS_PASSWORD', secret: true },
  partitions: { flag: 'partitions', env: 'CONTINUUM_PARTITIONS' },
  groupId: { flag: 'group', env: 'CONTINUUM_GROUP_ID' },
  adminPort: { flag: 'admin-port', env: 'CONTINUUM_ADMIN_PORT' },
  adminToken: { env: 'CONTINUUM_ADMIN_TOKEN', secret: true },
  adminInsecure: { flag: 'admin-insecure', env: 'CONTINUUM_ADMIN_INSECURE' },
  playgroundToken: { env: 'CONTINUUM_PLAYGROUND_TOKEN', secret: true },
  host: { flag: 'host', env: 'CONTINUUM_HOST' },
  checkpointIntervalMs: { env: 'CONTINUUM_CHECKPOINT_INTERVAL_MS' },
  commitLingerMs: { env: 'CONTINUUM_COMMIT_LINGER_MS' },
  transactionTimeoutMs: { env: 'CONTINUUM_TRANSACTION_TIMEOUT_MS' },
  fetchMinBytes: { env: 'CONTINUUM_FETCH_MIN_BYTES' },
  fetchMaxWaitMs: { env: 'CONTINUUM_FETCH_MAX_WAIT_MS' },
  ingressHandOff: { env: 'CONTINUUM_INGRESS_HANDOFF' },
  maxHandedOverRecords: { env: 'CONTINUUM_MAX_HANDED_OVER_RECORDS' },
  ingressMaxQueuedRecords: { env: 'CONTINUUM_INGRESS_MAX_QUEUED_RECORDS' },
  ingressFetchMaxBytes: { env: 'CONTINUUM_INGRESS_FETCH_MAX_BYTES' },
  partitioning: { env: 'CONTINUUM_PARTITIONING' },
  internalTopic: { env: 'CONTINUUM_INTERNAL_TOPIC' },
  deadLetterTopic: { env: 'CONTINUUM_DEAD_LETTER_TOPIC' },
  repliesTopic: { env: 'CONTINUUM_REPLIES_TOPIC' },
  redisKeyPrefix: { env: 'CONTINUUM_REDIS_KEY_PREFIX' },
  sessionTimeoutMs: { env: 'CONTINUUM_KAFKA_SESSION_TIMEOUT_MS' },
  shutdownTimeoutMs: { env: 'CONTINUUM_SHUTDOWN_TIMEOUT_MS' },
  startupTimeoutMs: { env: 'CONTINUUM_STARTUP_TIMEOUT_MS' },
  ssl: { env: 'CONTINUUM_KAFKA_SSL' },
  saslMechanism: { env: 'CONTINUUM_KAFKA_SASL_MECHANISM' },
  saslUsername: { env: 'CONTINUUM_KAFKA_SASL_USERNAME', secret: true },
  saslPassword: { env: 'CONTINUUM_KAFKA_SASL_PASSWORD', secret: true },
  instance: { env: 'CONTINUUM_INSTANCE' },
} as const satisfies Record<string, Source>;

const topicName = text('a topic name');
const runSchema = z.object({
  ...commonSchema,
  module: z.string({ error: 'no module file: pass -m module.yaml or set CONTINUUM_MODULE' }).min(1),
  brokers: z.string().optional(),
  redisUrl: z
    .string({ error: 'no Redis: pass --redis redis://host:port or set CONTINUUM_REDIS_URL' })
    .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://'),
  redisPassword: z.string().optional(),
  partitions: int(1, 10_000).default(DEFAULTS.run.partitions),
  groupId: text('a consumer group name').default(DEFAULTS.groupId),
  adminPort: int(0, 65535).default(DEFAULTS.adminPort),
  adminToken: bearerToken.optional(),
  adminInsecure: bool.optional(),
  playgroundToken: bearerToken.optional(),
  host: text('an address such as 127.0.0.1 or 0.0.0.0').default(DEFAULTS.host),
  checkpointIntervalMs: int(0, 600_000).default(DEFAULTS.run.checkpointIntervalMs),
  commitLingerMs: int(0, 60_000).default(DEFAULTS.run.commitLingerMs),
  transactionTimeoutMs: int(1000, 900_000).default(DEFAULTS.run.transactionTimeoutMs),
  fetchMinBytes: int(1, 64 * 1024 * 1024).default(DEFAULTS.run.fetchMinBytes),
  fetchMaxWaitMs: int(0, 10_000).default(DEFAULTS.run.fetchMaxWaitMs),
  ingressHandOff: bool.optional(),
  maxHandedOverRecords: int(1, 10_000_000).default(DEFAULTS.run.maxHandedOverRecords),
  ingressMaxQueuedRecords: int(1, 10_000_000).default(DEFAULTS.run.ingressMaxQueuedRecords),
  ingressFetchMaxBytes: int(1024, 256 * 1024 * 1024).default(DEFAULTS.run.ingressFetchMaxBytes),
  partitioning: z.enum(partitionings, { error: `must be one of ${partitionings.join(', ')}` }).optional(),
  internalTopic: topicName.default(DEFAULTS.internalTopic),
  deadLetterTopic: topicName.default(DEFAULTS.deadLetterTopic),
  repliesTopic: topicName.default(DEFAULTS.repliesTopic),
  redisKeyPrefix: z
    .string()
    .regex(/^[^{}]+$/, 'must not contain { or }')
    .default(DEFAULTS.redisKeyPrefix),
  sessionTimeoutMs: int(1000, 600_000).default(DEFAULTS.run.sessionTimeoutMs),
  shutdownTimeoutMs: int(1000, 3_600_000).default(DEFAULTS.run.shutdownTimeoutMs),
  startupTimeoutMs: int(0, 3_600_000).default(DEFAULTS.run.startupTimeoutMs),
  ssl: bool.optional(),
  saslMechanism: oneOf(SASL_MECHANISMS).optional(),
  saslUsername: z.string().optional(),
  saslPassword: z.string().optional(),
  instance: z.string().optional(),
});

// ---- reading and validating ---------------------------------------------------------------------

/** The raw text of every setting (a flag wins over its variable; empty means unset) and its origin. */
function gather(
  sources: Readonly<Record<string, Source>>,
  flags: Flags,
  env: Env,
): { raw: Record<string, string | undefined>; origin: Record<string, string> } {
  const raw: Record<string, string | undefined> = {};
  const origin: Record<string, string> = {};
  for (const [key, source] of Object.entries(sources)) {
    const flag = source.flag === undefined ? undefined : flags[source.flag];
    const fromEnv = source.env === undefined ? undefined : env[source.env];
    if (flag !== undefined) {
      raw[key] = String(flag);
      origin[key] = `--${source.flag}`;
    } else if (fromEnv !== undefined && fromEnv !== '') {
      raw[key] = fromEnv;
      origin[key] = source.env!;
    } else {
      origin[key] = source.flag !== undefined ? `--${source.flag}` : source.env!;
    }
  }
  return { raw, origin };
}

/**
 * Parses with `schema`; every problem names the flag or variable the value came from, the allowed
 * values, and the value itself unless it is a secret.
 */
function validated<S extends z.ZodType<object>>(
  schema: S,
  sources: Readonly<Record<string, Source>>,
  flags: Flags,
  env: Env,
): z.output<S> {
  const { raw, origin } = gather(sources, flags, env);
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const key = String(issue.path[0]);
    const value = raw[key];
    // A missing required setting carries its whole message (how to give it).
    if (value === undefined) return issue.message;
    const shown = sources[key]?.secret === true ? '' : `, not ${JSON.stringify(clip(value))}`;
    return `${origin[key] ?? key} ${issue.message}${shown}`;
  });
  throw usage(problems.join('; '));
}

function clip(value: string): string {
  return value.length > 60 ? `${value.slice(0, 60)}…` : value;
}

function usage(message: string): ContinuumError {
  return new ContinuumError('USAGE', message);
}

/** Recursively frozen: a config object no later code can change. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function common(
  c: z.output<typeof devSchema> | z.output<typeof runSchema>,
): Omit<CommonConfig, 'adminPort' | 'adminToken' | 'host' | 'partitions'> {
  const task: Partial<TaskConfig> = {};
  if (c.checkpointMaxRecords !== undefined) task.checkpointMaxRecords = c.checkpointMaxRecords;
  if (c.maxOutstandingRecords !== undefined) task.maxOutstandingRecords = c.maxOutstandingRecords;
  if (c.stateCacheAddresses !== undefined) task.stateCacheAddresses = c.stateCacheAddresses;
  if (c.processStateCacheAddresses !== undefined)
    task.processStateCacheAddresses = c.processStateCacheAddresses;
  if (c.maxPendingTimers !== undefined) task.maxPendingTimers = c.maxPendingTimers;
  return {
    log: { format: c.logFormat, level: c.logLevel },
    tracing:
      c.otlpEndpoint === undefined
        ? undefined
        : { endpoint: c.otlpEndpoint, sampleRatio: c.tracingSampleRatio },
    signingKeyFile: c.signingKeyFile,
    task,
  };
}

/** The configuration of `statefun dev` from its parsed flags and the environment. */
export function devConfig(flags: Flags, env: Env): DevConfig {
  const c = validated(devSchema, DEV, flags, env);
  const moduleFile = resolve(c.module);
  return deepFreeze({
    ...common(c),
    moduleFile,
    dataDir: resolve(c.dataDir ?? join(dirname(moduleFile), DEFAULTS.dev.dataDir)),
    partitions: c.partitions,
    adminPort: c.adminPort,
    host: c.host,
    adminToken: c.adminToken,
    kafkaBrokers: devKafkaBrokers(c.kafka),
    companions: c.noCompanions !== 'true',
  });
}

/** The configuration of `statefun run` from its parsed flags and the environment. */
export function runConfig(flags: Flags, env: Env): RunConfig {
  const c = validated(runSchema, RUN, flags, env);
  if (c.adminToken === undefined && c.adminInsecure !== 'true') {
    throw usage(
      'no admin token: anyone who reaches the admin port could read state, send messages and replay ' +
        'dead letters. Set CONTINUUM_ADMIN_TOKEN (e.g. export CONTINUUM_ADMIN_TOKEN=$(openssl rand -hex 32)), ' +
        'or pass --admin-insecure (CONTINUUM_ADMIN_INSECURE=true) to run with an open admin API.',
    );
  }
  const brokers = (c.brokers ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  const withCredentials = brokers.find((b) => b.includes('@'));
  if (withCredentials !== undefined) {
    throw usage(
      `Kafka broker address ${redactText(withCredentials)} carries credentials; brokers are ` +
        'host:port only. Give the user and password with CONTINUUM_KAFKA_SASL_MECHANISM, ' +
        'CONTINUUM_KAFKA_SASL_USERNAME and CONTINUUM_KAFKA_SASL_PASSWORD.',
    );
  }
  const kafka: KafkaConnection = { brokers, ssl: c.ssl === 'true' };
  if (c.saslMechanism !== undefined) {
    if (c.saslUsername === undefined || c.saslPassword === undefined) {
      throw usage(
        'CONTINUUM_KAFKA_SASL_MECHANISM needs CONTINUUM_KAFKA_SASL_USERNAME and CONTINUUM_KAFKA_SASL_PASSWORD',
      );
    }
    kafka.sasl = { mechanism: c.saslMechanism, username: c.saslUsername, password: c.saslPassword };
  }
  const base = common(c);
  return deepFreeze({
    ...base,
    // `statefun run` checkpoints on its own interval, not the task default of `statefun dev`.
    task: {
      ...base.task,
      checkpointIntervalMs: c.checkpointIntervalMs,
      deadLetterTopic: c.deadLetterTopic,
      repliesTopic: c.repliesTopic,
    },
    module: c.module,
    kafka,
    redisUrl: c.redisUrl,
    redisPassword: c.redisPassword,
    partitions: c.partitions,
    groupId: c.groupId,
    adminPort: c.adminPort,
    adminToken: c.adminToken,
    playgroundToken: c.playgroundToken,
    host: c.host,
    checkpointIntervalMs: c.checkpointIntervalMs,
    commitLingerMs: c.commitLingerMs,
    transactionTimeoutMs: c.transactionTimeoutMs,
    fetchMinBytes: c.fetchMinBytes,
    fetchMaxWaitMs: c.fetchMaxWaitMs,
    ingressHandOff:
      c.ingressHandOff === undefined ? DEFAULTS.run.ingressHandOff : c.ingressHandOff === 'true',
    maxHandedOverRecords: c.maxHandedOverRecords,
    ingressMaxQueuedRecords: c.ingressMaxQueuedRecords,
    ingressFetchMaxBytes: c.ingressFetchMaxBytes,
    partitioning: c.partitioning,
    internalTopic: c.internalTopic,
    deadLetterTopic: c.deadLetterTopic,
    repliesTopic: c.repliesTopic,
    redisKeyPrefix: c.redisKeyPrefix,
    sessionTimeoutMs: c.sessionTimeoutMs,
    shutdownTimeoutMs: c.shutdownTimeoutMs,
    startupTimeoutMs: c.startupTimeoutMs,
    instance: c.instance,
  });
}
