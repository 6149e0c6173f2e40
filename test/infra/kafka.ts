// Starts the Kafka broker the integration tests use: a local single-node KRaft broker+controller
// from the cached jars, a testcontainers broker, or an external cluster named by KAFKA_BROKERS.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { InfraError } from './errors.js';
import { probeKafkaTransactions } from './helpers.js';
import { LocalServer } from './local-server.js';
import { ManagedProcess, makeScratchDir, serverPidFile } from './managed-process.js';
import { externalBrokers, resolveMode } from './mode.js';
import type { InfraMode, InfraSetting } from './mode.js';
import { KAFKA_LIBS_MARKER, kafkaCacheDir, kafkaConfigDir, kafkaVersion } from './paths.js';
import { assertPortFree, freePorts } from './ports.js';

const execFileAsync = promisify(execFile);

/** A running (or stopped/killed) Kafka provided to tests. */
export interface KafkaHandle {
  /** Bootstrap addresses, e.g. `['127.0.0.1:40123']`; unchanged across {@link restart}. */
  readonly brokers: string[];
  /** How the broker is provided. */
  readonly mode: InfraMode;
  /** How long the last start or restart took until the broker committed a transaction. */
  readonly startupMs: number;
  /** Stops the broker (SIGTERM, then SIGKILL after a deadline) and deletes its data. Idempotent. */
  stop(): Promise<void>;
  /** Stops the broker if it runs and starts it again on the same ports and data; waits until ready. */
  restart(): Promise<void>;
  /** SIGKILLs the broker and keeps its data, so {@link restart} recovers from a crash. */
  kill(): Promise<void>;
  /** The last `n` lines of the broker's log (empty where the harness has no log). */
  logTail(n?: number): string;
}

/** Options of {@link startKafka}. */
export interface StartKafkaOptions {
  /** Overrides CONTINUUM_TEST_INFRA for this broker. */
  mode?: InfraSetting;
  /** PLAINTEXT port on 127.0.0.1 (default: a free one). */
  port?: number;
  /** CONTROLLER port on 127.0.0.1 (default: a free one). */
  controllerPort?: number;
  /** How long to wait for readiness (default 120 s, or CONTINUUM_KAFKA_READY_TIMEOUT_MS). */
  readyTimeoutMs?: number;
  /** JVM max heap in MiB (default 512). */
  heapMb?: number;
  /** Extra or overriding server.properties entries. */
  brokerConfig?: Record<string, string | number | boolean>;
  /** Do not print "Kafka broker ready in N s". */
  quiet?: boolean;
}

/**
 * Starts a Kafka broker as CONTINUUM_TEST_INFRA (or `options.mode`) selects and resolves once a
 * transactional producer can initialise and commit on it.
 *
 * @example
 * const kafka = await startKafka();
 * try { await createTopic(kafka.brokers, 'in', 4); } finally { await kafka.stop(); }
 */
export async function startKafka(options: StartKafkaOptions = {}): Promise<KafkaHandle> {
  const mode = await resolveMode('kafka', options.mode);
  const readyTimeoutMs = options.readyTimeoutMs ?? envTimeout() ?? 120_000;
  let handle: KafkaHandle;
  if (mode === 'external') handle = await ExternalKafka.start(readyTimeoutMs);
  else if (mode === 'containers') {
    const { startKafkaContainer } = await import('./containers.js');
    handle = await startKafkaContainer({
      readyTimeoutMs,
      ...(options.port === undefined ? {} : { port: options.port }),
    });
  } else handle = await LocalKafka.start({ ...options, readyTimeoutMs });
  if (options.quiet !== true) {
    console.log(
      `Kafka broker ready in ${(handle.startupMs / 1000).toFixed(2)} s (${handle.brokers.join(',')}, ${mode})`,
    );
  }
  return handle;
}

function envTimeout(): number | undefined {
  const raw = process.env.CONTINUUM_KAFKA_READY_TIMEOUT_MS;
  const value = raw === undefined ? NaN : Number(raw);
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

let javaCheck: Promise<void> | undefined;

function assertJava(): Promise<void> {
  javaCheck ??= execFileAsync('java', ['-version']).then(
    () => undefined,
    (err: unknown) => {
      javaCheck = undefined;
      throw new InfraError(
        'JAVA_MISSING',
        'The local Kafka broker needs Java 17 or newer, and `java` is not on PATH. ' +
          'Install it (Debian: apt-get install -y openjdk-17-jre-headless), or run the tests against ' +
          'another Kafka with KAFKA_BROKERS=host:port or CONTINUUM_TEST_INFRA=containers.',
        { cause: err },
      );
    },
  );
  return javaCheck;
}

/** Kafka's cluster ids are 16 random bytes in URL-safe base64 without padding. */
function clusterId(): string {
  return randomBytes(16).toString('base64url');
}

function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(500, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` until it succeeds, `failFast` reports a dead server, or the deadline passes; the
 * error then carries the last probe failure. Shared by the local and container brokers.
 */
export async function waitForKafka(
  brokers: readonly string[],
  started: number,
  timeoutMs: number,
  failFast: () => InfraError | undefined,
  describe: () => string,
): Promise<void> {
  const deadline = started + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const dead = failFast();
    if (dead !== undefined) throw dead;
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      const reason = lastError instanceof Error ? lastError.message : 'no answer';
      throw new InfraError(
        'KAFKA_NOT_READY',
        `Kafka at ${brokers.join(',')} did not become ready within ${timeoutMs / 1000} s: no transactional producer could commit (last error: ${reason}). ${describe()}`,
        { cause: lastError },
      );
    }
    try {
      await withDeadline(probeKafkaTransactions(brokers), Math.max(1000, remaining));
      return;
    } catch (err) {
      lastError = err;
      await pause(200);
    }
  }
}

interface LocalKafkaOptions extends StartKafkaOptions {
  readyTimeoutMs: number;
}

class LocalKafka extends LocalServer implements KafkaHandle {
  readonly brokers: string[];

  private constructor(
    dir: string,
    private readonly libs: string,
    private readonly port: number,
    private readonly controllerPort: number,
    private readonly options: LocalKafkaOptions,
  ) {
    super(dir, 2000);
    this.brokers = [`127.0.0.1:${port}`];
  }

  protected describe(): string {
    return `the Kafka broker at ${this.brokers.join(',')}`;
  }

  protected listeners(): readonly (readonly [number, string])[] {
    return [
      [this.port, 'Kafka PLAINTEXT listener'],
      [this.controllerPort, 'Kafka CONTROLLER listener'],
    ];
  }

  static async start(options: LocalKafkaOptions): Promise<LocalKafka> {
    await assertJava();
    const version = kafkaVersion();
    const libs = join(kafkaCacheDir(version), 'libs');
    if (!existsSync(join(libs, KAFKA_LIBS_MARKER))) {
      throw new InfraError(
        'KAFKA_JARS_MISSING',
        `The Kafka ${version} jars are not in ${libs}. Run \`node scripts/bootstrap.mjs --test\` ` +
          '(it resolves them with Maven from test/infra/kafka/pom.xml).',
      );
    }
    const [freeA, freeB] = await freePorts(2);
    const port = options.port ?? freeA!;
    const controllerPort = options.controllerPort ?? (freeB === port ? freeA! : freeB!);
    await assertPortFree(port, 'the Kafka PLAINTEXT listener');
    await assertPortFree(controllerPort, 'the Kafka CONTROLLER listener');

    const dir = await makeScratchDir('continuum-kafka');
    const kafka = new LocalKafka(dir, libs, port, controllerPort, options);
    try {
      await kafka.format();
      await kafka.launch();
    } catch (err) {
      await kafka.stop();
      throw err;
    }
    return kafka;
  }

  private get propertiesFile(): string {
    return join(this.dir, 'server.properties');
  }

  private async format(): Promise<void> {
    const data = join(this.dir, 'data');
    await mkdir(data, { recursive: true });
    const properties: Record<string, string | number | boolean> = {
      'process.roles': 'broker,controller',
      'node.id': 1,
      'controller.quorum.voters': `1@127.0.0.1:${this.controllerPort}`,
      listeners: `PLAINTEXT://127.0.0.1:${this.port},CONTROLLER://127.0.0.1:${this.controllerPort}`,
      'advertised.listeners': `PLAINTEXT://127.0.0.1:${this.port}`,
      'controller.listener.names': 'CONTROLLER',
      'inter.broker.listener.name': 'PLAINTEXT',
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      'log.dirs': data,
      'num.partitions': 1,
      'default.replication.factor': 1,
      'min.insync.replicas': 1,
      'offsets.topic.replication.factor': 1,
      'offsets.topic.num.partitions': 4,
      'transaction.state.log.replication.factor': 1,
      'transaction.state.log.min.isr': 1,
      'transaction.state.log.num.partitions': 4,
      'group.initial.rebalance.delay.ms': 0,
      'auto.create.topics.enable': true,
      // Tests abandon transactions on purpose (zombies, crashes); keep their resolution quick.
      'transaction.abort.timed.out.transaction.cleanup.interval.ms': 5000,
      'transaction.max.timeout.ms': 900_000,
      // After kill() the controller refuses the broker's re-registration until the old session
      // expires (default 9 s); a shorter session makes crash tests quick, and 500 ms heartbeats
      // leave slack for a busy 2-core machine.
      'broker.session.timeout.ms': 4000,
      'broker.heartbeat.interval.ms': 500,
      'log.flush.interval.messages': Number.MAX_SAFE_INTEGER,
      'num.network.threads': 2,
      'num.io.threads': 4,
      'num.recovery.threads.per.data.dir': 1,
      'log.segment.bytes': 64 * 1024 * 1024,
      ...this.options.brokerConfig,
    };
    const text = Object.entries(properties)
      .map(([key, value]) => `${key}=${String(value)}`)
      .join('\n');
    await writeFile(this.propertiesFile, `${text}\n`);
    try {
      await execFileAsync(
        'java',
        [
          '-cp',
          join(this.libs, '*'),
          ...this.log4jArgs(),
          'kafka.tools.StorageTool',
          'format',
          `--cluster-id=${clusterId()}`,
          '-c',
          this.propertiesFile,
        ],
        { cwd: this.dir, timeout: 60_000 },
      );
    } catch (err) {
      const output =
        err instanceof Error && 'stdout' in err
          ? `${String(err.stdout)}${String((err as { stderr?: unknown }).stderr)}`
          : '';
      throw new InfraError(
        'KAFKA_EXITED',
        `formatting the KRaft storage in ${data} failed: ${output.trim()}`,
        { cause: err },
      );
    }
  }

  private log4jArgs(): string[] {
    return [
      `-Dlog4j.configuration=file:${join(kafkaConfigDir(), 'log4j.properties')}`,
      `-Dkafka.logs.dir=${join(this.dir, 'logs')}`,
    ];
  }

  protected async launch(): Promise<void> {
    const started = Date.now();
    const heap = this.options.heapMb ?? 512;
    this.process = await ManagedProcess.start({
      command: 'java',
      args: [
        `-Xmx${heap}m`,
        '-Xms128m',
        '-XX:+UseSerialGC',
        // C1 only: the broker starts about twice as fast, and test load never needs C2's peak speed.
        // The benchmark (CONTINUUM_KAFKA_JIT=full) measures the broker as production runs it.
        ...(process.env.CONTINUUM_KAFKA_JIT === 'full' ? [] : ['-XX:TieredStopAtLevel=1']),
        '-XX:-UsePerfData',
        '-Djava.awt.headless=true',
        ...this.log4jArgs(),
        '-cp',
        join(this.libs, '*'),
        'kafka.Kafka',
        this.propertiesFile,
      ],
      cwd: this.dir,
      pidFile: serverPidFile(this.dir),
    });
    this.state = 'running';
    const proc = this.process;
    const deadline = started + this.options.readyTimeoutMs;
    // The port accepting connections is cheap to poll; only then pay for the transactional probe.
    while (!(await portAccepts(this.port))) {
      const dead = this.exitedError(proc);
      if (dead !== undefined) throw dead;
      if (Date.now() > deadline) break;
      await pause(50);
    }
    await waitForKafka(
      this.brokers,
      started,
      this.options.readyTimeoutMs,
      () => this.exitedError(proc),
      () => `Broker log (last 40 lines):\n${proc.logTail(40)}`,
    );
    this.startupMs = Date.now() - started;
  }

  private exitedError(proc: ManagedProcess): InfraError | undefined {
    if (proc.running) return undefined;
    const tail = proc.logTail(40);
    if (/Address already in use|BindException/.test(tail)) {
      return new InfraError(
        'PORT_BUSY',
        `The Kafka broker could not bind 127.0.0.1:${this.port} or 127.0.0.1:${this.controllerPort}: another process holds it. Broker log (last 40 lines):\n${tail}`,
      );
    }
    const how =
      proc.spawnFailure?.message ?? `exit code ${proc.exitStatus?.code}, signal ${proc.exitStatus?.signal}`;
    return new InfraError(
      'KAFKA_EXITED',
      `The Kafka broker exited during startup (${how}). Broker log (last 40 lines):\n${tail}`,
    );
  }
}

class ExternalKafka implements KafkaHandle {
  readonly mode = 'external' as const;

  private constructor(
    readonly brokers: string[],
    readonly startupMs: number,
  ) {}

  static async start(readyTimeoutMs: number): Promise<ExternalKafka> {
    const brokers = externalBrokers() ?? [];
    const started = Date.now();
    await waitForKafka(
      brokers,
      started,
      readyTimeoutMs,
      () => undefined,
      () =>
        'Check KAFKA_BROKERS, and that the cluster allows transactions with replication factor 1 or has enough brokers.',
    );
    return new ExternalKafka(brokers, Date.now() - started);
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }

  restart(): Promise<void> {
    return Promise.reject(notSupported('restart()', 'the Kafka broker', 'KAFKA_BROKERS'));
  }

  kill(): Promise<void> {
    return Promise.reject(notSupported('kill()', 'the Kafka broker', 'KAFKA_BROKERS'));
  }

  logTail(): string {
    return '';
  }
}

/** The error for restart()/kill() on a server the harness does not own. */
export function notSupported(operation: string, what: string, variable: string): InfraError {
  return new InfraError(
    'NOT_SUPPORTED',
    `${operation} of ${what} is not supported in external mode (${variable} is set): the harness does not own that server. ` +
      `Run this test with CONTINUUM_TEST_INFRA=local and ${variable} unset.`,
  );
}
