// Every default of the runtime's configuration, in one place: the command line (`statefun dev`
// and `statefun run`), the adapters and the Helm chart's values (a test keeps them equal) take
// theirs from here.

/**
 * The defaults of `statefun dev`, `statefun run` and the adapters they assemble. Frozen; the
 * numbers are measured in bench/RESULTS.md where they trade latency for throughput.
 */
export const DEFAULTS = Object.freeze({
  /** Interface the admin, playground and request servers bind to. */
  host: '127.0.0.1',
  /** Admin API, /metrics and dashboard port. */
  adminPort: 9090,
  /** The internal log's topic (partitions of it are the unit of ownership). */
  internalTopic: 'continuum-internal',
  /** Topic that receives dead letters. */
  deadLetterTopic: 'continuum-dead-letters',
  /** Where replies to waiting HTTP requests are committed. */
  repliesTopic: 'continuum-replies',
  /** Consumer group of the runtime processes. */
  groupId: 'continuum-runtime',
  /** First part of every Redis key's hash tag. */
  redisKeyPrefix: 'continuum',
  /** Log lines as `pretty` text or `json`. */
  logFormat: 'pretty',
  logLevel: 'info',
  /** Share of new traces recorded when an OTLP endpoint is set. */
  tracingSampleRatio: 1,
  /** `statefun dev`: the embedded log and state store. */
  dev: Object.freeze({
    /** Module file, relative to the working directory. */
    moduleFile: 'module.yaml',
    /** Data directory, relative to the module file's directory. */
    dataDir: '.data/dev',
    partitions: 4,
  }),
  /** `statefun run`: Kafka and Redis. */
  run: Object.freeze({
    partitions: 32,
    /**
     * A change starts its checkpoint as soon as the partition's previous one ended; the process's
     * shared transactions pace the commits.
     */
    checkpointIntervalMs: 0,
    /**
     * Process transactions start at least this far apart. Measured on the 2-core bench machine
     * (broker warmed up): at 500 events/s 50 ms costs runtime + broker ~0.84 cores against ~1.15 with
     * 20 ms, for p50/p99 ~105/180 ms instead of ~60/135; at 1,000 events/s p50/p99 ~115/200 ms.
     */
    commitLingerMs: 50,
    /** The broker aborts an open transaction of a crashed process after this long. */
    transactionTimeoutMs: 10_000,
    /**
     * A fetch returns as soon as a record is readable, and an idle consumer asks twice a second
     * (Kafka's own defaults); fuller fetches cost latency and idle CPU without saving the broker work.
     */
    fetchMinBytes: 1,
    fetchMaxWaitMs: 500,
    /**
     * A Kafka ingress hands each record whose target partition this process owns straight to its
     * task (one broker crossing instead of two); off, every record goes through the internal topic.
     */
    ingressHandOff: true,
    /**
     * Handed-over ingress records not yet durable, all ingress partitions of a process together
     * (past it they wait in the ingress): bounds the process's memory whatever it owns.
     */
    maxHandedOverRecords: 5000,
    /**
     * Records read from the ingress topics and not yet moved, all ingress partitions of a process
     * together (each partition also stops at 5,000); past it a partition pauses its consumer.
     */
    ingressMaxQueuedRecords: 10_000,
    /**
     * Most bytes one fetch of a Kafka ingress brings, all its partitions together (each at most a
     * quarter): records arrive a fetch at a time, so this bounds what a pause lets in after it.
     */
    ingressFetchMaxBytes: 1024 * 1024,
    /**
     * A state-store command unanswered this long fails its partition task, which recovers and
     * tries again (a command in flight when Redis restarts may otherwise never settle).
     */
    redisCommandTimeoutMs: 15_000,
    /**
     * How the addresses of a new deployment pick their partition (recorded in Redis; an existing
     * deployment keeps its own). `id` co-partitions an ingress partition with the internal
     * partitions its records go to, so N processes hand over nearly every record instead of 1/N
     * (two processes drain ~10 % faster than with `address`, bench/RESULTS.md).
     */
    partitioning: 'id',
    /**
     * A member that died without leaving the group holds its partitions this long. 6 s is the
     * broker's default minimum (group.min.session.timeout.ms); heartbeats go every second.
     */
    sessionTimeoutMs: 6000,
    /**
     * Longest graceful stop after SIGTERM: with leaving the groups and the exit linger, inside
     * Kubernetes' default grace period of 30 s.
     */
    shutdownTimeoutMs: 20_000,
    /**
     * Start-up retries this long while Kafka or Redis cannot be reached (a broker restarting, a
     * pod scheduled before its dependencies are up), then the process exits with code 1.
     */
    startupTimeoutMs: 60_000,
  }),
  /** Per-partition limits, for `statefun dev` and `statefun run` alike. */
  task: Object.freeze({
    /** `statefun dev` checkpoints a change this long after it (`statefun run`: `run.checkpointIntervalMs`). */
    checkpointIntervalMs: 200,
    checkpointMaxRecords: 5000,
    maxOutstandingRecords: 10_000,
    stateCacheAddresses: 10_000,
    /**
     * Addresses cached in memory by all partition tasks of a process together (idle, committed
     * ones are evicted beyond it, least recently used first): memory flat as the key space grows.
     */
    processStateCacheAddresses: 20_000,
    maxPendingTimers: 200_000,
  }),
});

/** The admin API of a runtime started with the defaults, as `statefun send`/`state` call it. */
export const DEFAULT_ADMIN_URL = `http://${DEFAULTS.host}:${DEFAULTS.adminPort}`;
