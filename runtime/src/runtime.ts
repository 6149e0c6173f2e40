// The runtime process: joins the log's group, runs one partition task per owned partition,
// restarts a failed task from its last checkpoint, and appends ingress messages to the log.
// Adapters (Kafka/Redis or embedded) and the function client are given to it.
import type { Address } from '@continuum/sdk/protocol';
import { ContinuumError } from './errors.js';
import { addressKey, partitionOf } from './core/address.js';
import { toInternalRecord } from './core/envelope.js';
import type { HandOffTarget } from './core/ingress-handoff.js';
import { PartitionTask, type TaskConfig, type TaskHooks } from './core/partition-task.js';
import type { Scheduler } from './core/scheduler.js';
import { StateCacheBudget } from './core/process-budget.js';
import { resolveTaskConfig } from './core/task-config.js';
import type { EgressRouter, FunctionRouter } from './core/routing.js';
import { StateRegistry } from './core/state-registry.js';
import type { Log, OutRecord, OwnedPartition } from './log/log.js';
import { silentLogger, type Logger } from './logger.js';
import type { IngressMessage, RuntimeObserver, SendObservation } from './observers.js';
import type { StateStore, StoredValue } from './state/state-store.js';
import type { FunctionClient } from './transport/function-client.js';

export interface RuntimeOptions {
  log: Log;
  store: StateStore;
  client: FunctionClient;
  functions: FunctionRouter;
  egress: EgressRouter;
  task?: Partial<TaskConfig> | undefined;
  logger?: Logger | undefined;
  hooks?: TaskHooks | undefined;
  /** Metrics and tracing of the partition tasks and of messages sent from outside. */
  observer?: RuntimeObserver | undefined;
  /** Wait before recovering a failed partition again (doubles up to 10 s while it keeps failing). */
  restartBackoffMs?: number | undefined;
  /** The ingresses (source groups) whose watermark marks the partition watermarks are made of. */
  watermarkGroups?: readonly string[] | undefined;
  /** The partition tasks' clock and scheduler (tests run them on fake time); real by default. */
  clock?: (() => number) | undefined;
  scheduler?: Scheduler | undefined;
}

export class Runtime {
  private readonly opts: RuntimeOptions;
  private readonly taskConfig: Readonly<TaskConfig>;
  private readonly registry = new StateRegistry();
  private readonly tasks = new Map<number, PartitionTask>();
  /** The state cache of all tasks together (TaskConfig.processStateCacheAddresses). */
  private readonly stateCache: StateCacheBudget;
  private readonly restarts = new Map<number, { timer: NodeJS.Timeout | undefined; failures: number }>();
  private readonly log: Logger;
  private started = false;
  private stopping = false;

  constructor(opts: RuntimeOptions) {
    this.opts = opts;
    this.taskConfig = resolveTaskConfig(opts.task);
    this.stateCache = new StateCacheBudget(this.taskConfig.processStateCacheAddresses);
    this.log = opts.logger ?? silentLogger;
  }

  async start(): Promise<void> {
    if (this.started) throw new ContinuumError('RUNTIME_STARTED', 'the runtime is already started');
    this.started = true;
    await this.opts.log.join({
      assigned: (owned) => this.assign(owned),
      revoked: (p) => this.revoke(p),
    });
  }

  /** Leaves the group (each task commits what is complete) and closes the adapters. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const r of this.restarts.values()) if (r.timer !== undefined) clearTimeout(r.timer);
    await this.opts.log.leave();
    this.log.debug('stopping: left the group');
    await Promise.all([...this.tasks.values()].map((t) => t.stop(false)));
    this.tasks.clear();
    await this.opts.client.close();
    await this.opts.log.close();
    this.log.debug('stopping: the log is closed');
    await this.opts.store.close();
  }

  /**
   * Appends messages to the internal log; resolves once they are durable. `source` names where
   * they came from in metrics and traces (e.g. `admin`, `playground`, `replay`).
   */
  async send(messages: readonly IngressMessage[], source = 'api'): Promise<void> {
    const { records, observed } = this.records(messages, source);
    try {
      await this.opts.log.append(records);
    } catch (err) {
      observed?.ended?.(err);
      throw err;
    }
    observed?.ended?.(undefined);
  }

  /**
   * A waiting request's message (its caller is the request's reply address). When this process
   * owns the target's partition, its task takes the message at once (`taken`: see
   * PartitionTask.handOver) and the log need not carry it: the checkpoint with the reply makes
   * the invocation durable. `append()` writes it to the log (once; later calls share the first):
   * the caller must do so when it was not taken, and when its reply does not come soon (the task
   * may lose the partition before it runs). A record appended after the task took the message is
   * dropped there as a repeat of its request id.
   */
  request(message: IngressMessage, source: string): { taken: boolean; append: () => Promise<void> } {
    const { records, observed } = this.records([message], source);
    const record = records[0]!;
    const task = record.partition === undefined ? undefined : this.tasks.get(record.partition);
    const taken =
      task?.handOver({
        topic: record.topic,
        partition: record.partition!,
        offset: -1,
        key: record.key,
        value: record.value,
        headers: record.headers ?? {},
        timestamp: Date.now(),
      }) ?? false;
    if (taken) observed?.ended?.(undefined);
    let appended: Promise<void> | undefined;
    return {
      taken,
      append: () =>
        (appended ??= this.opts.log.append(records).then(
          () => {
            if (!taken) observed?.ended?.(undefined);
          },
          (err: unknown) => {
            if (!taken) observed?.ended?.(err);
            throw err;
          },
        )),
    };
  }

  /** The internal records of `messages`, with the headers the observer adds (trace context). */
  private records(
    messages: readonly IngressMessage[],
    source: string,
  ): { records: OutRecord[]; observed: SendObservation | undefined } {
    const { internalTopic, partitions, partitioning } = this.opts.log;
    const now = Date.now();
    const observed = this.opts.observer?.sending?.(source, messages);
    const records = messages.map((m, i) => {
      const record = toInternalRecord(
        internalTopic,
        partitions,
        {
          target: m.target,
          argument: m.argument,
          ...(m.caller === undefined ? {} : { caller: m.caller }),
          eventTime: m.eventTime ?? now,
        },
        partitioning,
      );
      const extra = observed?.headers?.[i];
      return extra === undefined ? record : { ...record, headers: { ...record.headers, ...extra } };
    });
    return { records, observed };
  }

  /** The running task of a partition (admin, tests). */
  task(partition: number): PartitionTask | undefined {
    return this.tasks.get(partition);
  }

  taskFor(address: Address): PartitionTask | undefined {
    return this.tasks.get(partitionOf(address, this.opts.log.partitions, this.opts.log.partitioning));
  }

  /** The tasks of the partitions this process owns (running or still recovering). */
  runningTasks(): PartitionTask[] {
    return [...this.tasks.values()];
  }

  /** Partitions whose task failed and waits to be restarted. */
  get restarting(): number[] {
    return [...this.restarts]
      .filter(([, r]) => r.timer !== undefined)
      .map(([p]) => p)
      .sort((a, b) => a - b);
  }

  /** True when an endpoint of the module serves `functionType` (`namespace/name`). */
  serves(functionType: string): boolean {
    return this.opts.functions.resolve(functionType) !== undefined;
  }

  /** The log this runtime runs on (the admin API reads the dead-letter topic through it). */
  get messageLog(): Log {
    return this.opts.log;
  }

  /** Owned partitions whose task has recovered and runs. */
  get ownedPartitions(): number[] {
    return [...this.tasks.keys()].sort((a, b) => a - b);
  }

  /**
   * The state of an address: the in-memory view (which may be ahead of the last checkpoint) when
   * it is cached, else the committed one. Undefined when its partition is not owned here.
   */
  async state(address: Address): Promise<Map<string, StoredValue> | undefined> {
    const task = this.taskFor(address);
    if (task === undefined) return undefined;
    const key = addressKey(address);
    const cached = task.cachedState(key);
    if (cached !== undefined) return new Map(cached);
    const found = await this.opts.store.partition(task.partition).get([key]);
    return new Map(Object.entries(found.get(key)?.states ?? {}));
  }

  /**
   * The task of internal partition `p` while it runs in this process: a Kafka ingress here hands
   * it its records instead of appending them (core/ingress-handoff.ts).
   */
  handOffTarget(p: number): HandOffTarget | undefined {
    const task = this.tasks.get(p);
    return task?.isRunning === true ? task : undefined;
  }

  /** True once every assigned partition has recovered and runs. */
  get ready(): boolean {
    return (
      this.started &&
      !this.stopping &&
      [...this.restarts.values()].every((r) => r.timer === undefined) &&
      [...this.tasks.values()].every((t) => t.isRunning)
    );
  }

  /** Checkpoints every task now; resolves when all are committed. */
  async flush(): Promise<void> {
    await Promise.all([...this.tasks.values()].map((t) => t.flush()));
  }

  private async assign(owned: OwnedPartition): Promise<void> {
    if (this.stopping) return;
    const p = owned.partition;
    const task = new PartitionTask({
      owned,
      store: this.opts.store.partition(p),
      internalTopic: this.opts.log.internalTopic,
      partitions: this.opts.log.partitions,
      partitioning: this.opts.log.partitioning,
      functions: this.opts.functions,
      egress: this.opts.egress,
      client: this.opts.client,
      registry: this.registry,
      config: this.taskConfig,
      budgets: { stateCache: this.stateCache },
      logger: this.log,
      hooks: this.opts.hooks,
      observer: this.opts.observer,
      watermarkGroups: this.opts.watermarkGroups,
      clock: this.opts.clock,
      scheduler: this.opts.scheduler,
      onFailure: () => this.scheduleRestart(p, task),
    });
    this.tasks.set(p, task);
    try {
      await task.start();
      const r = this.restarts.get(p);
      if (r !== undefined) r.failures = 0;
    } catch (err) {
      this.log.error('partition recovery failed', { partition: p, err });
      await task.stop(false);
      this.scheduleRestart(p, task);
    }
  }

  private async revoke(p: number): Promise<void> {
    const r = this.restarts.get(p);
    if (r?.timer !== undefined) clearTimeout(r.timer);
    this.restarts.delete(p);
    const task = this.tasks.get(p);
    this.tasks.delete(p);
    await task?.stop(true);
  }

  private scheduleRestart(p: number, failed: PartitionTask): void {
    if (this.stopping || this.tasks.get(p) !== failed) return;
    this.tasks.delete(p);
    const state = this.restarts.get(p) ?? { timer: undefined, failures: 0 };
    state.failures++;
    const base = this.opts.restartBackoffMs ?? 200;
    const wait = Math.min(10_000, base * 2 ** Math.min(state.failures - 1, 6));
    state.timer = setTimeout(() => {
      state.timer = undefined;
      const owned = this.opts.log.reacquire(p);
      if (owned === undefined || this.stopping) return;
      this.assign(owned).catch((err: unknown) =>
        this.log.error('partition restart failed', { partition: p, err }),
      );
    }, wait);
    this.restarts.set(p, state);
  }
}
