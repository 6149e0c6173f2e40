// The `statefun` command line: init (a new function service), dev (embedded runtime), run
// (production), validate, send, state.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { TracerProvider } from '@opentelemetry/api';
import { encodeInt, encodeString, PrimitiveTypeName } from '@continuum/sdk/protocol';
import { DEFAULT_ADMIN_URL, DEFAULTS } from '../defaults.js';
import { ContinuumError } from '../errors.js';
import { createLogger, type Logger } from '../logger.js';
import { MAX_LISTED_ISSUES, formatIssue, formatIssueList, loadModule } from '../module/index.js';
import { ModuleError } from '../module/errors.js';
import type { ModuleConfig } from '../module/types.js';
import { redactText } from '../redact.js';
import { loadRequestSigner, type RequestSigner } from '../transport/request-signer.js';
import { companionPidFile, readCompanions, startCompanions } from './companions.js';
import { INIT_HELP, init } from './init.js';
import { ABANDON_TIMEOUT_MS, exitOnceSettled, settlesWithin } from './process-exit.js';
import { devConfig, runConfig, type CommonConfig } from './config.js';
import { installedTaskHooks } from './test-hooks.js';
import { consume, CONSUME_HELP, produce, PRODUCE_HELP } from './topics.js';

type Out = (text: string) => void;

const USAGE = `statefun — run stateful functions (StateFun 3.x compatible)

Usage: statefun <command> [options]

Commands:
  init      Create a function service project (TypeScript SDK, tests, module.yaml)
  dev       Run the runtime on the embedded log and state store (development)
  run       Run the runtime on Kafka and Redis (production)
  validate  Check module.yaml files and explain every problem
  send      Send a message to a function through a running runtime
  state     Read the state of an address from a running runtime
  produce   Write a record to a Kafka ingress topic of a module in dev mode
  consume   Print the records of a Kafka (egress) topic of a module in dev mode

Run 'statefun help <command>' (or 'statefun <command> --help') for the options of a command,
'statefun --version' for the version.
`;

const HELP: Record<string, string> = {
  dev: `statefun dev [options]

Runs the runtime with the embedded (in-process, file-backed) log and state store, on
./module.yaml or the module given with -m. It prints the warnings 'statefun validate' would
(likely typos, ignored keys), then starts the servers the module declares (playground ingress and
egress) and the admin API.

Companions: when a statefun-dev.json lies next to the module file (with or without -m), the
processes it lists are started first, in order, in that file's directory, and stopped with the
runtime; their output is logged with their name. Typically your function service:
  {"processes": [{"name": "functions", "command": ["node", "dist/main.js"],
                  "env": {"PORT": "8000", "HOST": "127.0.0.1"}, "waitForPort": 8000}]}
"command" is the program and its arguments (no shell); "env" is added to the environment;
with "waitForPort" the runtime starts once that port on 127.0.0.1 accepts connections (up to
30 s). A companion that exits is logged, not restarted. Companions end with the runtime, even
after kill -9; the data directory's companions.pid lets the next start stop any that were left over.

Options:
  -m, --module FILE      module.yaml to run (default: ./${DEFAULTS.dev.moduleFile})
      --data-dir DIR     where log and state are kept (default: ${DEFAULTS.dev.dataDir} next to the module)
      --partitions N     partitions of the internal log (default ${DEFAULTS.dev.partitions}; fixed per data directory)
      --admin-port N     admin API, /metrics and dashboard port (default ${DEFAULTS.adminPort}; 0 picks a free port)
      --host ADDR        interface the playground and admin servers bind to (default ${DEFAULTS.host};
                         0.0.0.0 to reach them from a container or another machine)
      --otlp-endpoint URL  trace messages and send spans to this OTLP/HTTP collector
                         (e.g. http://127.0.0.1:4318; off by default) [CONTINUUM_OTLP_ENDPOINT]
      --kafka BROKERS    read the Kafka ingress topics from these bootstrap servers and write
                         Kafka egress records to them (comma-separated host:port); without it
                         they are topics of the embedded log
      --no-companions    do not start the processes of statefun-dev.json
      --signing-key FILE Ed25519 private key (PEM) that signs every request to function
                         endpoints [CONTINUUM_SIGNING_KEY_FILE]
      --log-format F     pretty (default) or json
      --log-level L      debug, info (default), warn, error
  -h, --help             this help

Kafka ingresses and egresses: every topic of a Kafka ingress is a topic of the embedded log, read
and routed exactly as from Kafka; records that functions send to a Kafka egress land in embedded
topics of the same name. Write to an ingress topic with \`statefun produce <topic> --key K --json ..\`,
read an egress topic with \`statefun consume <topic> [--follow]\`; the dashboard lists the topics
with their record counts. With --kafka the topics live on that broker instead (egress records are
forwarded to it at least once; the internal log and state stay embedded).

Environment: CONTINUUM_ADMIN_TOKEN, and the per-partition limits described in statefun run --help
(CONTINUUM_CHECKPOINT_MAX_RECORDS, CONTINUUM_MAX_OUTSTANDING_RECORDS, CONTINUUM_STATE_CACHE_ADDRESSES,
CONTINUUM_MAX_PENDING_TIMERS).
`,
  run: `statefun run -m module.yaml [options]

Runs the runtime on Kafka and Redis (production mode). Start as many processes as you like with
the same module, Kafka, Redis and group: they share the partitions of the internal topic.
Every option can also be given by environment variable (in brackets).

Options:
  -m, --module FILE      module.yaml to run [CONTINUUM_MODULE]
      --kafka BROKERS    comma-separated bootstrap servers [CONTINUUM_KAFKA_BROKERS]
                         (default: the address of the module's first Kafka ingress/egress)
      --redis URL        redis://[:password@]host:port[/db] [CONTINUUM_REDIS_URL]
      --partitions N     partitions of the internal topic, fixed per deployment (default ${DEFAULTS.run.partitions})
                         [CONTINUUM_PARTITIONS]
      --group ID         consumer group of the runtime processes (default ${DEFAULTS.groupId})
                         [CONTINUUM_GROUP_ID]
      --admin-port N     admin/health/metrics/dashboard port (default ${DEFAULTS.adminPort}) [CONTINUUM_ADMIN_PORT]
      --otlp-endpoint URL  trace messages and send spans to this OTLP/HTTP collector (off by
                         default) [CONTINUUM_OTLP_ENDPOINT]
      --host ADDR        interface to bind servers to (default ${DEFAULTS.host}) [CONTINUUM_HOST]
      --admin-insecure   run without CONTINUUM_ADMIN_TOKEN: the admin API and /metrics are open
                         to anyone who reaches the port [CONTINUUM_ADMIN_INSECURE=true]
      --signing-key FILE Ed25519 private key (PEM) that signs every request to function
                         endpoints [CONTINUUM_SIGNING_KEY_FILE]
      --log-format F     pretty or json [CONTINUUM_LOG_FORMAT]
      --log-level L      debug, info, warn, error [CONTINUUM_LOG_LEVEL]
  -h, --help             this help

Security: statefun run refuses to start without CONTINUUM_ADMIN_TOKEN (at least 16 printable
characters, sent as Authorization: Bearer <token>) unless --admin-insecure is given.
CONTINUUM_PLAYGROUND_TOKEN makes the playground ingress and egress require that bearer token too.
Kafka credentials go in CONTINUUM_KAFKA_SASL_*, never in --kafka (user:pass@host is refused).

More environment: CONTINUUM_KAFKA_SSL=true, CONTINUUM_KAFKA_SASL_MECHANISM (plain,
scram-sha-256, scram-sha-512), CONTINUUM_KAFKA_SASL_USERNAME, CONTINUUM_KAFKA_SASL_PASSWORD,
CONTINUUM_REDIS_PASSWORD, CONTINUUM_REDIS_KEY_PREFIX (default ${DEFAULTS.redisKeyPrefix}), CONTINUUM_ADMIN_TOKEN,
CONTINUUM_CHECKPOINT_INTERVAL_MS (default ${DEFAULTS.run.checkpointIntervalMs}), CONTINUUM_COMMIT_LINGER_MS (default ${DEFAULTS.run.commitLingerMs}),
CONTINUUM_TRANSACTION_TIMEOUT_MS (default ${DEFAULTS.run.transactionTimeoutMs}), CONTINUUM_FETCH_MIN_BYTES (default ${DEFAULTS.run.fetchMinBytes}),
CONTINUUM_FETCH_MAX_WAIT_MS (default ${DEFAULTS.run.fetchMaxWaitMs}), CONTINUUM_INTERNAL_TOPIC (default ${DEFAULTS.internalTopic}),
CONTINUUM_INGRESS_HANDOFF (a Kafka ingress hands records whose partition this process owns straight
to its task instead of through the internal topic; default ${DEFAULTS.run.ingressHandOff}),
CONTINUUM_MAX_HANDED_OVER_RECORDS (handed-over ingress records not yet committed, per process; past
it they wait in the ingress; default ${DEFAULTS.run.maxHandedOverRecords}), CONTINUUM_INGRESS_MAX_QUEUED_RECORDS (ingress
records read and not yet moved, per process; past it the ingress pauses; default ${DEFAULTS.run.ingressMaxQueuedRecords}),
CONTINUUM_INGRESS_FETCH_MAX_BYTES (most bytes one fetch of a Kafka ingress brings, all its partitions
together, each at most a quarter; default ${DEFAULTS.run.ingressFetchMaxBytes}),
CONTINUUM_PARTITIONING (id or address: how an address picks its partition, fixed for the life of a
deployment; unset, a new deployment takes ${DEFAULTS.run.partitioning} and later processes what it recorded),
CONTINUUM_DEAD_LETTER_TOPIC (default ${DEFAULTS.deadLetterTopic}), CONTINUUM_REPLIES_TOPIC (replies to
requests of an io.continuum.http.v1/ingress, default ${DEFAULTS.repliesTopic}),
CONTINUUM_SHUTDOWN_TIMEOUT_MS (longest graceful stop after SIGTERM: last checkpoint, leaving the
group; past it the process leaves the groups and exits without finishing, as safe as a crash;
default ${DEFAULTS.run.shutdownTimeoutMs}),
CONTINUUM_KAFKA_SESSION_TIMEOUT_MS (how long the partitions of a process that died without leaving
the group wait before they move; shorter moves them sooner, but a process whose event loop stalls
that long loses its partitions; default ${DEFAULTS.run.sessionTimeoutMs}, the broker's usual minimum),
CONTINUUM_TRACING_SAMPLE_RATIO (share of new traces recorded with --otlp-endpoint, default ${DEFAULTS.tracingSampleRatio}),
CONTINUUM_INSTANCE (this process as partition owner on the dashboard, and the name of its Kafka
transactional ids: keep it across restarts of the same process, e.g. the pod name, and unique among
live processes; default HOSTNAME/pid).
Limits per partition (also for dev): CONTINUUM_CHECKPOINT_MAX_RECORDS (checkpoint early once this many
changes are buffered, default ${DEFAULTS.task.checkpointMaxRecords}), CONTINUUM_MAX_OUTSTANDING_RECORDS (pause input beyond this many
unfinished records, default ${DEFAULTS.task.maxOutstandingRecords}), CONTINUUM_STATE_CACHE_ADDRESSES (addresses kept in memory, default
${DEFAULTS.task.stateCacheAddresses}), CONTINUUM_PROCESS_STATE_CACHE_ADDRESSES (addresses kept in memory by all partitions of
the process together, default ${DEFAULTS.task.processStateCacheAddresses}), CONTINUUM_MAX_PENDING_TIMERS (pending delayed messages and event-time timers; one more is
dead-lettered with TIMER_LIMIT_REACHED, default ${DEFAULTS.task.maxPendingTimers}).
`,
  validate: `statefun validate FILE...

Validates module.yaml files. Prints a summary of each valid file; for an invalid one, every
problem with its document number, line, key path and what was expected. Exit code 1 if any is
invalid.

Options:
      --allow-unsupported  accept recognised kinds this runtime cannot run (Kinesis)
      --strict             treat warnings (likely typos, ignored keys) as errors
  -h, --help               this help
`,
  send: `statefun send <namespace/type/id> [value options] [--admin URL]

Sends one message to a function through a running runtime's admin API. Like the playground
ingress, it refuses (exit code 1) a function type that no endpoint of the module serves.

Value options (one of):
      --string TEXT      io.statefun.types/string, wrapper-encoded as the SDKs expect
      --int N            io.statefun.types/int
      --json TEXT        UTF-8 JSON; needs --type (e.g. example/GreetRequest)
      --raw TEXT         UTF-8 bytes as they are; needs --type
      --type TYPENAME    the value's type name for --json and --raw
Options:
      --admin URL        admin API of the runtime (default ${DEFAULT_ADMIN_URL})
      --token TOKEN      admin token (or CONTINUUM_ADMIN_TOKEN)
  -h, --help             this help
`,
  produce: PRODUCE_HELP,
  consume: CONSUME_HELP,
  init: INIT_HELP,
  state: `statefun state get <namespace/type/id> [--admin URL]

Prints the state of an address as the running runtime sees it, as JSON: each state value with
its typename, decoded value (primitives, JSON) and base64 bytes, expiry time if any; the pending
delayed messages; times are ISO 8601 (with epoch milliseconds beside in the *Ms fields).

Options:
      --admin URL        admin API of the runtime (default ${DEFAULT_ADMIN_URL})
      --token TOKEN      admin token (or CONTINUUM_ADMIN_TOKEN)
  -h, --help             this help
`,
};

/** How `main` may end the process (the `statefun` binary passes `process.exit`). */
export interface MainOptions {
  /**
   * Called once `statefun run` has stopped if handles left open by a client library still keep
   * the process alive after a short linger; absent (tests), `main` just returns.
   */
  exit?: ((code: number) => void) | undefined;
}

export async function main(
  argv: string[],
  out: Out = (t) => process.stdout.write(t),
  err: Out = (t) => process.stderr.write(t),
  options: MainOptions = {},
): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case '-h':
      case '--help':
        out(USAGE);
        return command === undefined ? 1 : 0;
      case 'help': {
        const [topic] = rest;
        if (topic === undefined) {
          out(USAGE);
          return 0;
        }
        const text = HELP[topic];
        if (text === undefined) {
          err(`statefun help: unknown command "${topic}"\n\n${USAGE}`);
          return 2;
        }
        out(text);
        return 0;
      }
      case '-v':
      case '--version':
      case 'version':
        out(`statefun ${version()}\n`);
        return 0;
      case 'init':
        return init(rest, out);
      case 'dev':
        return await dev(rest, out);
      case 'run':
        return await run(rest, out, options);
      case 'validate':
        return await validate(rest, out, err);
      case 'send':
        return await send(rest, out);
      case 'state':
        return await state(rest, out);
      case 'produce':
        return await produce(rest, out, adminFetch);
      case 'consume':
        return await consumeUntilSignal(rest, out);
      default:
        err(`statefun: unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    err(`statefun ${command ?? ''}: ${redactText(e instanceof Error ? e.message : String(e))}\n`);
    return e instanceof ContinuumError && e.code === 'USAGE' ? 2 : 1;
  }
}

/** Usage errors name what was wrong; the caller prefixes `statefun <command>: `. */
function usage(message: string): ContinuumError {
  return new ContinuumError('USAGE', message);
}

/** The version of the runtime package this command belongs to. */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;
type Values = Record<string, string | boolean | undefined>;

function parse(
  args: string[],
  options: OptionSpec,
  allowPositionals = false,
): { values: Values; positionals: string[] } {
  try {
    const parsed = parseArgs({
      args,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals,
      strict: true,
    });
    return { values: parsed.values, positionals: parsed.positionals };
  } catch (e) {
    throw usage((e as Error).message);
  }
}

function loggerFrom(config: CommonConfig): Logger {
  return createLogger({ format: config.log.format, level: config.log.level });
}

async function loadOrExplain(file: string, logger?: Logger): Promise<ModuleConfig> {
  try {
    // The warnings `statefun validate` prints, at start, capped as it caps them.
    let warnings = 0;
    const module = await loadModule(file, {
      onWarning: (w) => {
        if (warnings++ < MAX_LISTED_ISSUES) logger?.warn(formatIssue(w));
      },
    });
    if (warnings > MAX_LISTED_ISSUES) logger?.warn(`... and ${warnings - MAX_LISTED_ISSUES} more warnings`);
    return module;
  } catch (e) {
    if (e instanceof ModuleError) throw new ContinuumError('MODULE_INVALID', `${e.message}`);
    throw e;
  }
}

async function dev(args: string[], out: Out): Promise<number> {
  const { values } = parse(args, {
    module: { type: 'string', short: 'm' },
    'data-dir': { type: 'string' },
    partitions: { type: 'string' },
    'admin-port': { type: 'string' },
    host: { type: 'string' },
    'otlp-endpoint': { type: 'string' },
    kafka: { type: 'string' },
    'no-companions': { type: 'boolean' },
    'signing-key': { type: 'string' },
    'log-format': { type: 'string' },
    'log-level': { type: 'string' },
  });
  if (values.help === true) {
    out(HELP.dev!);
    return 0;
  }
  const config = devConfig(values, process.env);
  const logger = loggerFrom(config);
  const requestSigner = signerFrom(config.signingKeyFile, logger);
  const { moduleFile, dataDir, host } = config;
  if (!existsSync(moduleFile)) throw usage(`module file ${moduleFile} does not exist (pass -m FILE)`);
  const module = await loadOrExplain(moduleFile, logger);
  const companionsFile = join(dirname(moduleFile), 'statefun-dev.json');
  const companions = !config.companions
    ? undefined
    : await startCompanions(
        companionsFile,
        readCompanions(companionsFile),
        logger,
        companionPidFile(dataDir),
      );
  const tracing = await tracingFrom(config, logger);
  const { startDevRuntime } = await import('../dev-runtime.js');
  let dev;
  try {
    dev = await startDevRuntime({
      module,
      dataDir,
      partitions: config.partitions,
      adminPort: config.adminPort,
      host,
      adminToken: config.adminToken,
      requestSigner,
      logger,
      tracerProvider: tracing,
      task: config.task,
      hooks: installedTaskHooks(),
      kafka: config.kafkaBrokers === undefined ? undefined : { brokers: [...config.kafkaBrokers] },
    });
  } catch (e) {
    await companions?.stop();
    await tracing?.shutdown().catch(() => undefined);
    throw e;
  }
  logger.info('statefun dev is running', { module: moduleFile, dataDir });
  const shown = host.includes(':') ? `[${host}]` : host;
  for (const s of dev.servers) logger.info(`${s.name} listening on http://${shown}:${s.port}`);
  const devAdmin = dev.servers.find((s) => s.name === 'admin');
  if (devAdmin !== undefined)
    logger.info(`dashboard on http://${shown}:${devAdmin.port}/dashboard/ (metrics on /metrics)`);
  await untilSignal();
  logger.info('stopping: committing the last checkpoint');
  await dev.stop();
  // Spans still queued for a collector that is down are lost; that must not fail the stop.
  await tracing?.shutdown().catch(() => undefined);
  await companions?.stop();
  return 0;
}

async function run(args: string[], out: Out, options: MainOptions): Promise<number> {
  const { values } = parse(args, {
    module: { type: 'string', short: 'm' },
    kafka: { type: 'string' },
    redis: { type: 'string' },
    partitions: { type: 'string' },
    group: { type: 'string' },
    'admin-port': { type: 'string' },
    'otlp-endpoint': { type: 'string' },
    host: { type: 'string' },
    'admin-insecure': { type: 'boolean' },
    'signing-key': { type: 'string' },
    'log-format': { type: 'string' },
    'log-level': { type: 'string' },
  });
  if (values.help === true) {
    out(HELP.run!);
    return 0;
  }
  const config = runConfig(values, process.env);
  const logger = loggerFrom(config);
  const requestSigner = signerFrom(config.signingKeyFile, logger);
  if (config.adminToken === undefined)
    logger.warn('the admin API is open (--admin-insecure): anyone who reaches its port can use it');
  const module = await loadOrExplain(config.module, logger);
  const tracing = await tracingFrom(config, logger);
  const { startProdRuntime } = await import('../prod-runtime.js');
  const { startPatiently } = await import('./startup.js');
  const prod = await startPatiently(
    () =>
      startProdRuntime({
        module,
        kafka: config.kafka,
        redisUrl: config.redisUrl,
        redisPassword: config.redisPassword,
        partitions: config.partitions,
        groupId: config.groupId,
        adminPort: config.adminPort,
        adminToken: config.adminToken,
        playgroundToken: config.playgroundToken,
        requestSigner,
        host: config.host,
        internalTopic: config.internalTopic,
        keyPrefix: config.redisKeyPrefix,
        sessionTimeoutMs: config.sessionTimeoutMs,
        commitLingerMs: config.commitLingerMs,
        transactionTimeoutMs: config.transactionTimeoutMs,
        fetchMinBytes: config.fetchMinBytes,
        fetchMaxWaitMs: config.fetchMaxWaitMs,
        ingressHandOff: config.ingressHandOff,
        maxHandedOverRecords: config.maxHandedOverRecords,
        ingressMaxQueuedRecords: config.ingressMaxQueuedRecords,
        ingressFetchMaxBytes: config.ingressFetchMaxBytes,
        partitioning: config.partitioning,
        logger,
        task: config.task,
        hooks: installedTaskHooks(),
        tracerProvider: tracing,
        instance: config.instance,
      }),
    { timeoutMs: config.startupTimeoutMs, logger },
  );
  logger.info('statefun run is running', {
    module: config.module,
    brokers: config.kafka.brokers.join(','),
    group: config.groupId,
  });
  for (const s of prod.servers) logger.info(`${s.name} listening on ${config.host}:${s.port}`);
  const prodAdmin = prod.servers.find((s) => s.name === 'admin');
  if (prodAdmin !== undefined)
    logger.info(`dashboard on ${config.host}:${prodAdmin.port}/dashboard/ (metrics on /metrics)`);
  await untilSignal();
  logger.info('stopping: committing the last checkpoint and leaving the group', {
    timeoutMs: config.shutdownTimeoutMs,
  });
  let code = 0;
  const stopping = (async () => {
    try {
      await prod.stop();
    } catch (e) {
      logger.error('stopping failed', { err: e });
      code = 1;
    }
    await tracing?.shutdown().catch(() => undefined);
  })();
  if (!(await settlesWithin(stopping, config.shutdownTimeoutMs))) {
    // Exiting without the last checkpoint is what a crash does: the new owners of the partitions
    // recover them from the previous checkpoint.
    logger.error(
      `stopping took longer than ${config.shutdownTimeoutMs} ms (CONTINUUM_SHUTDOWN_TIMEOUT_MS); leaving the consumer groups and exiting without finishing it`,
    );
    code = 1;
    // Leaving now moves the partitions at once instead of after the session timeout.
    await settlesWithin(prod.abandon(), ABANDON_TIMEOUT_MS);
  } else if (code === 0) {
    logger.info('stopped');
  }
  // Not awaited: the promise settles only if the linger runs out, and a top-level await left
  // pending when the event loop drains ends the process with code 13 (Node 24) instead of `code`.
  if (options.exit !== undefined) void exitOnceSettled(code, logger, options.exit);
  return code;
}

async function validate(args: string[], out: Out, err: Out): Promise<number> {
  const { values, positionals } = parse(
    args,
    { 'allow-unsupported': { type: 'boolean' }, strict: { type: 'boolean' } },
    true,
  );
  if (values.help === true) {
    out(HELP.validate!);
    return 0;
  }
  if (positionals.length === 0) throw usage('needs at least one module file: statefun validate FILE...');
  let failed = 0;
  for (const file of positionals) {
    try {
      const m = await loadModule(resolve(file), {
        allowUnsupported: values['allow-unsupported'] === true,
        strict: values.strict === true,
      });
      out(
        `${file}: valid — ${m.endpoints.length} endpoint(s), ${m.kafkaIngresses.length + m.playgroundIngresses.length + (m.httpIngresses ?? []).length} ingress(es), ` +
          `${m.kafkaEgresses.length + m.playgroundEgresses.length} egress(es)${m.skipped.length > 0 ? `, ${m.skipped.length} skipped` : ''}\n`,
      );
      for (const line of formatIssueList(m.warnings ?? [], MAX_LISTED_ISSUES, '  warning: '))
        out(`${line}\n`);
    } catch (e) {
      failed++;
      err(`${e instanceof Error ? e.message : String(e)}\n`);
    }
  }
  return failed > 0 ? 1 : 0;
}

function adminOptions(): OptionSpec {
  return { admin: { type: 'string' }, token: { type: 'string' } };
}

async function adminFetch(
  values: { admin?: unknown; token?: unknown },
  path: string,
  init: RequestInit = {},
): Promise<unknown> {
  const base = typeof values.admin === 'string' ? values.admin : DEFAULT_ADMIN_URL;
  const token = typeof values.token === 'string' ? values.token : process.env.CONTINUUM_ADMIN_TOKEN;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined && token !== '') headers.authorization = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch(new URL(path, base), { ...init, headers });
  } catch (e) {
    throw new ContinuumError(
      'ADMIN_UNREACHABLE',
      `cannot reach the runtime's admin API at ${base}: ${(e as Error).message}. Is \`statefun dev\` running?`,
    );
  }
  const body = (await res.json().catch(() => ({}))) as { error?: string };
  if (!res.ok) throw new ContinuumError('ADMIN_ERROR', `${res.status}: ${body.error ?? res.statusText}`);
  return body;
}

async function send(args: string[], out: Out): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      ...adminOptions(),
      string: { type: 'string' },
      int: { type: 'string' },
      json: { type: 'string' },
      raw: { type: 'string' },
      type: { type: 'string' },
    },
    true,
  );
  if (values.help === true) {
    out(HELP.send!);
    return 0;
  }
  const [target] = positionals;
  if (target === undefined)
    throw usage('needs a target address: statefun send <namespace/type/id> --string TEXT');
  let typename: string;
  let bytes: Uint8Array;
  if (typeof values.string === 'string') {
    typename = PrimitiveTypeName.string;
    bytes = encodeString(values.string);
  } else if (typeof values.int === 'string') {
    const n = Number(values.int);
    if (!Number.isInteger(n) || n < -(2 ** 31) || n >= 2 ** 31)
      throw usage(`--int needs a 32-bit integer, not ${values.int}`);
    typename = PrimitiveTypeName.int;
    bytes = encodeInt(n);
  } else if (typeof values.json === 'string' || typeof values.raw === 'string') {
    if (typeof values.type !== 'string') throw usage('--json and --raw need --type TYPENAME');
    if (typeof values.json === 'string') {
      try {
        JSON.parse(values.json);
      } catch {
        throw usage('--json value is not valid JSON');
      }
    }
    typename = values.type;
    bytes = new TextEncoder().encode(String(values.json ?? values.raw));
  } else {
    throw usage('give the value with --string, --int, --json or --raw');
  }
  await adminFetch(values, '/v1/messages', {
    method: 'POST',
    body: JSON.stringify({
      target,
      typename,
      valueBase64: Buffer.from(bytes).toString('base64'),
      requireEndpoint: true,
    }),
  });
  out(`sent ${typename} to ${target}\n`);
  return 0;
}

async function state(args: string[], out: Out): Promise<number> {
  const { values, positionals } = parse(args, adminOptions(), true);
  if (values.help === true) {
    out(HELP.state!);
    return 0;
  }
  const [sub, target] = positionals;
  if (sub !== 'get' || target === undefined)
    throw usage('needs get and an address: statefun state get <namespace/type/id>');
  const body = await adminFetch(values, `/v1/state/${target.split('/').map(encodeURIComponent).join('/')}`);
  out(JSON.stringify(body, null, 2) + '\n');
  return 0;
}

/** `statefun consume`; with --follow it runs until Ctrl-C. */
async function consumeUntilSignal(args: string[], out: Out): Promise<number> {
  const stop = new AbortController();
  const done = (): void => stop.abort();
  process.once('SIGINT', done);
  process.once('SIGTERM', done);
  try {
    return await consume(args, out, adminFetch, stop.signal);
  } finally {
    process.off('SIGINT', done);
    process.off('SIGTERM', done);
  }
}

/** The OTLP tracer provider when an endpoint is configured; tracing is off otherwise. */
async function tracingFrom(
  config: CommonConfig,
  logger: Logger,
): Promise<(TracerProvider & { shutdown(): Promise<void> }) | undefined> {
  if (config.tracing === undefined) return undefined;
  const { endpoint, sampleRatio } = config.tracing;
  const { otlpTracerProvider } = await import('../tracing/otlp.js');
  logger.info('tracing messages to an OTLP collector', { endpoint: new URL(endpoint).origin, sampleRatio });
  return otlpTracerProvider({ endpoint, sampleRatio, logger });
}

function signerFrom(file: string | undefined, logger: Logger): RequestSigner | undefined {
  if (file === undefined || file === '') return undefined;
  const signer = loadRequestSigner(resolve(file));
  logger.info('signing requests to function endpoints', { keyId: signer.keyId });
  return signer;
}

function untilSignal(): Promise<void> {
  return new Promise((res) => {
    const done = (): void => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      res();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}
