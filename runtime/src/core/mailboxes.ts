// The partition's addresses: a FIFO mailbox per address with at most one request in flight (the
// backlog goes as the next batch, at most `maxNumBatchRequests`), state loaded on first use, the
// request-id check of waiting HTTP requests, calls to the function with state negotiation, retries
// and splitting, the received records held while a mailbox is full, and flow control (pausing the
// partition's input). A valid response goes to the host, which applies its effects.
import { setMaxListeners } from 'node:events';
import type {
  Address,
  FromFunction,
  InvocationResponse,
  PersistedValue,
  ToFunction,
  ToFunctionInvocation,
} from '@continuum/sdk/protocol';
import { ContinuumError } from '../errors.js';
import type { LogRecord, OwnedPartition } from '../log/log.js';
import type { Logger } from '../logger.js';
import type { TaskObserver } from '../observers.js';
import { REQUEST_IDS_STATE, rememberRequest, requestIdOf } from '../request-reply/reply-address.js';
import type { PartitionStore, StoredValue } from '../state/state-store.js';
import { FunctionCallError, type FunctionClient } from '../transport/function-client.js';
import { addressKey, functionTypeOf, parseAddressKey } from './address.js';
import type { Checkpointer } from './checkpointer.js';
import type { StateCacheBudget } from './process-budget.js';
import { deadLetterCodeOfCallError, type DeadLetterCode } from './dead-letter-codes.js';
import { recordDeadLetter, responseProblem } from './effects.js';
import { fromInternalRecord, type Envelope } from './envelope.js';
import {
  readSourceOffsets,
  SOURCE_OFFSETS_STATE,
  writeSourceOffsets,
  type HandedRecord,
  type HandOffTicket,
} from './ingress-handoff.js';
import type { FunctionRouter, FunctionTarget } from './routing.js';
import type { Cancel, Scheduler } from './scheduler.js';
import type { StateRegistry } from './state-registry.js';
import type { TaskConfig, TaskStats } from './task-config.js';

/** One message in an address's mailbox: an invocation, or a record that can only be dead-lettered. */
export interface Entry {
  /** The record's offset; -1 for a message handed over ahead of its record. */
  offset: number;
  record: LogRecord;
  env?: Envelope | undefined;
  dead?: { code: DeadLetterCode; reason: string } | undefined;
  /** The partition watermark when the record was read (-Infinity: none). */
  watermark: number;
  /** Sent in a batch of its own: a batch it was part of failed in a way one message may cause. */
  solo?: boolean | undefined;
  /** Handed over by an ingress of this process (offset -1): settled with the checkpoint. */
  ticket?: HandOffTicket | undefined;
}

export interface Slot {
  key: string;
  address: Address;
  functionType: string;
  target: FunctionTarget;
  /** Undefined until loaded from the store. */
  states: Map<string, StoredValue> | undefined;
  mailbox: Entry[];
  inFlight: Entry[] | undefined;
  /** Not evictable until this checkpoint is promoted (it holds uncommitted writes). */
  pinnedUntil: number;
  blocked: boolean;
  /** The highest offset taken per ingress source (parsed from its state on first use). */
  sources?: Map<string, number> | undefined;
}

export interface MailboxHost {
  running(): boolean;
  stopped(): boolean;
  /** Takes one received record in log order: a message comes back through `accept`. */
  take(record: LogRecord): void;
  /** Applies a valid response's effects; its records get `headers` (trace context). */
  apply(
    slot: Slot,
    batch: readonly Entry[],
    result: InvocationResponse,
    headers: Readonly<Record<string, string>> | undefined,
  ): void;
  /** The task cannot go on (the store failed). */
  fail(err: unknown): void;
}

export interface MailboxDeps {
  owned: OwnedPartition;
  store: PartitionStore;
  functions: FunctionRouter;
  client: FunctionClient;
  registry: StateRegistry;
  config: Pick<
    TaskConfig,
    | 'checkpointMaxRecords'
    | 'maxOutstandingRecords'
    | 'stateCacheAddresses'
    | 'deadLetterTopic'
    | 'maxNegotiationRounds'
    | 'overloadBackoffMs'
    | 'requestMemory'
  >;
  checkpointer: Checkpointer;
  stats: TaskStats;
  scheduler: Scheduler;
  now: () => number;
  log: Logger;
  observer?: TaskObserver | undefined;
  host: MailboxHost;
  /** Limits shared by the tasks of the process (none: only the per-partition ones apply). */
  budgets?: TaskBudgets | undefined;
}

/** The process-wide limits a task counts against (core/process-budget.ts). */
export interface TaskBudgets {
  /** Addresses cached in memory, all tasks of the process together. */
  stateCache?: StateCacheBudget | undefined;
}

export class Mailboxes {
  private readonly slots = new Map<string, Slot>();
  private readonly toLoad = new Set<Slot>();
  private loadScheduled = false;
  private blockedSlots = 0;
  /** Received records not yet taken into a mailbox (one is full): see drainHeld(). */
  private held: LogRecord[] = [];
  private draining = false;
  /**
   * Addresses that received messages while a delivery is taken: dispatched once it is taken
   * whole, so an address's messages of one delivery go out as one batch, not the first alone.
   */
  private readonly toDispatch = new Set<Slot>();
  private paused = false;
  private stopped = false;
  private inFlightCalls = 0;
  /** Ingress records handed over and not yet done with (bounded like the records read). */
  private handedOver = 0;
  private readonly retries = new Set<Cancel>();
  /** Headers that the records of the response being handled get (trace context). */
  private effectHeaders: Readonly<Record<string, string>> | undefined;
  private readonly partition: number;
  private readonly cp: Checkpointer;
  /**
   * Aborted by stop(): one signal for every call of the partition rather than a controller per
   * call, since calls only ever end early all together. The client gives a signal one listener
   * however many calls it governs; calls waiting for a slot of a full bulkhead add one each, as
   * many as the partition has addresses, so the listener warning does not apply.
   */
  private readonly calls = new AbortController();

  constructor(private readonly deps: MailboxDeps) {
    this.partition = deps.owned.partition;
    this.cp = deps.checkpointer;
    setMaxListeners(0, this.calls.signal);
  }

  /** Received records, in log order: held, then taken while mailboxes have room. */
  receive(records: readonly LogRecord[]): void {
    for (const record of records) {
      // Tracked from receipt, so the committed position never passes a held record.
      if (this.cp.progress.receive(record.offset)) this.held.push(record);
    }
    this.drainHeld();
  }

  /**
   * Puts a message into its address's mailbox. A record that cannot be decoded still takes its
   * place in the address's order (`undecodable`: why); without an address or an endpoint for it
   * there is nothing to keep in order with, and it is dead-lettered at once.
   */
  accept(record: LogRecord, env: Envelope | undefined, undecodable: unknown): void {
    let dead: Entry['dead'];
    let target: Address | undefined;
    if (env !== undefined) {
      target = env.target;
    } else {
      dead = {
        code: 'RECORD_UNDECODABLE',
        reason: `internal record cannot be decoded: ${message(undecodable)}`,
      };
      try {
        target = record.key === null ? undefined : parseAddressKey(record.key);
      } catch {
        target = undefined;
      }
    }
    const functionType = target === undefined ? undefined : functionTypeOf(target);
    const fnTarget = functionType === undefined ? undefined : this.deps.functions.resolve(functionType);
    if (target === undefined || functionType === undefined || fnTarget === undefined) {
      this.deadLetter({
        code: dead?.code ?? 'FUNCTION_UNKNOWN',
        reason: dead?.reason ?? `no endpoint in module.yaml serves function type ${functionType ?? '?'}`,
        record,
        env,
      });
      this.cp.progress.complete(record.offset);
      return;
    }
    const slot = this.slot(target, functionType, fnTarget);
    slot.mailbox.push({
      offset: record.offset,
      record,
      env,
      dead,
      watermark: this.cp.progress.watermark,
    });
    this.checkBlocked(slot);
    if (this.draining) this.toDispatch.add(slot);
    else this.dispatch(slot);
  }

  /** See PartitionTask.handOver. */
  handOver(record: LogRecord): boolean {
    if (this.paused || this.held.length > 0) return false;
    let env: Envelope;
    try {
      env = fromInternalRecord(record);
    } catch {
      return false;
    }
    if (requestIdOf(env.caller) === undefined || env.source !== undefined) return false;
    const functionType = functionTypeOf(env.target);
    const fnTarget = this.deps.functions.resolve(functionType);
    if (fnTarget === undefined) return false;
    const slot = this.slot(env.target, functionType, fnTarget);
    if (slot.blocked) return false;
    this.deps.stats.received++;
    this.deps.stats.requestsHandedOver++;
    this.cp.progressed();
    slot.mailbox.push({ offset: -1, record, env, watermark: this.cp.progress.watermark });
    this.checkBlocked(slot);
    if (this.draining) this.toDispatch.add(slot);
    else this.dispatch(slot);
    return true;
  }

  /** See PartitionTask.takeFromIngress. */
  handOverIngress(record: HandedRecord, ticket: HandOffTicket): boolean {
    let env: Envelope;
    try {
      env = record.envelope ?? fromInternalRecord(record);
    } catch {
      return false;
    }
    if (env.source === undefined || requestIdOf(env.caller) !== undefined) return false;
    // As many as the records read from the log may be outstanding; past that the ingress appends,
    // and the log's backpressure holds this partition alone.
    if (this.handedOver >= this.deps.config.maxOutstandingRecords) return false;
    const functionType = functionTypeOf(env.target);
    const fnTarget = this.deps.functions.resolve(functionType);
    if (fnTarget === undefined) return false;
    const slot = this.slot(env.target, functionType, fnTarget);
    if (slot.blocked) return false;
    this.deps.stats.received++;
    this.deps.stats.ingressHandedOver++;
    this.handedOver++;
    this.cp.progressed();
    slot.mailbox.push({ offset: -1, record, env, watermark: this.cp.progress.watermark, ticket });
    this.checkBlocked(slot);
    if (this.draining) this.toDispatch.add(slot);
    else this.dispatch(slot);
    return true;
  }

  get backlog(): { paused: boolean; addresses: number; inFlight: number; held: number } {
    return {
      paused: this.paused,
      addresses: this.slots.size,
      inFlight: this.inFlightCalls,
      held: this.held.length,
    };
  }

  largestMailbox(): number {
    let largest = 0;
    for (const slot of this.slots.values()) largest = Math.max(largest, slot.mailbox.length);
    return largest;
  }

  cachedState(key: string): ReadonlyMap<string, StoredValue> | undefined {
    return this.slots.get(key)?.states;
  }

  /** Writes one state of an address into its cache and the next checkpoint. */
  writeState(slot: Slot, name: string, value: StoredValue | null): void {
    if (value === null) slot.states!.delete(name);
    else slot.states!.set(name, value);
    slot.pinnedUntil = this.cp.writeState(slot.key, slot.states!);
  }

  /** Dead-letters a received record (with the trace context of the response being handled). */
  deadLetter(args: {
    code: DeadLetterCode;
    reason: string;
    record: LogRecord;
    env?: Envelope | undefined;
    target?: Address | undefined;
  }): void {
    this.deps.stats.deadLetters++;
    this.deps.observer?.deadLettered?.(this.partition, args.code);
    this.cp.push(
      recordDeadLetter(this.deps.config.deadLetterTopic, args, this.deps.now()),
      this.effectHeaders,
    );
  }

  /**
   * Drops idle, committed addresses beyond the cache size (least recently used first): this
   * partition's own limit, and the process's, which all its tasks share.
   */
  evict(): void {
    const cache = this.deps.budgets?.stateCache;
    let excess = Math.max(this.slots.size - this.deps.config.stateCacheAddresses, cache?.excess ?? 0);
    if (excess <= 0) return;
    for (const slot of this.slots.values()) {
      if (excess <= 0) break;
      if (
        slot.inFlight === undefined &&
        slot.mailbox.length === 0 &&
        slot.states !== undefined &&
        slot.pinnedUntil <= this.cp.promotedId
      ) {
        this.slots.delete(slot.key);
        cache?.removed(1);
        excess--;
      }
    }
  }

  /**
   * Pauses consumption while an address's backlog is at `maxNumBatchRequests`, too many records
   * are outstanding, or the uncommitted buffer is far past its checkpoint size; resumes after.
   */
  updateFlow(): void {
    if (!this.deps.host.running()) return;
    if (this.held.length > 0 && this.blockedSlots === 0 && !this.draining) {
      this.drainHeld(); // ends with updateFlow() again
      return;
    }
    const { config } = this.deps;
    const overloaded =
      this.blockedSlots > 0 ||
      this.held.length > 0 ||
      this.cp.progress.tracked >= config.maxOutstandingRecords ||
      this.cp.changes >= config.checkpointMaxRecords * 4;
    if (overloaded && !this.paused) {
      this.paused = true;
      this.deps.owned.pause();
    } else if (!overloaded && this.paused) {
      this.paused = false;
      this.deps.owned.resume();
    }
  }

  /**
   * Stops every call and retry; held records are dropped (a new owner reads them again), and
   * records handed over by an ingress are lost (it moves them again).
   */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.held = [];
    this.handedOver = 0;
    this.deps.budgets?.stateCache?.removed(this.slots.size);
    for (const cancel of this.retries) cancel();
    this.retries.clear();
    this.calls.abort();
    for (const slot of this.slots.values()) {
      for (const e of slot.mailbox) e.ticket?.lost();
      for (const e of slot.inFlight ?? []) e.ticket?.lost();
    }
  }

  /**
   * Takes the received records in log order until an address's mailbox is at its
   * `maxNumBatchRequests`; the rest wait here (at most one delivery from the log, as input is
   * paused meanwhile) and are taken as soon as that mailbox has room.
   */
  private drainHeld(): void {
    if (this.draining) return;
    this.draining = true;
    let n = 0;
    try {
      while (n < this.held.length && this.blockedSlots === 0 && this.deps.host.running())
        this.deps.host.take(this.held[n++]!);
    } finally {
      this.held.splice(0, n);
      this.draining = false;
    }
    for (const slot of this.toDispatch) this.dispatch(slot);
    this.toDispatch.clear();
    this.cp.progress.foldMarks(this.cp.progress.position());
    this.updateFlow();
    if (n > 0) this.cp.dirty();
  }

  private slot(address: Address, functionType: string, target: FunctionTarget): Slot {
    const key = addressKey(address);
    let slot = this.slots.get(key);
    this.deps.observer?.stateLookup?.(this.partition, slot !== undefined);
    if (slot !== undefined) {
      // Keep the map in least-recently-used order for eviction.
      this.slots.delete(key);
      this.slots.set(key, slot);
      return slot;
    }
    slot = {
      key,
      address,
      functionType,
      target,
      states: undefined,
      mailbox: [],
      inFlight: undefined,
      pinnedUntil: 0,
      blocked: false,
    };
    this.slots.set(key, slot);
    this.deps.budgets?.stateCache?.added(1);
    this.toLoad.add(slot);
    this.scheduleLoad();
    return slot;
  }

  /** Loads the state of the addresses new in this turn of the event loop, in one store call. */
  private scheduleLoad(): void {
    if (this.loadScheduled) return;
    this.loadScheduled = true;
    this.deps.scheduler.soon(() => {
      this.loadScheduled = false;
      const slots = [...this.toLoad];
      this.toLoad.clear();
      if (slots.length === 0 || this.deps.host.stopped()) return;
      this.deps.store.get(slots.map((s) => s.key)).then(
        (found) => {
          if (this.deps.host.stopped()) return;
          for (const slot of slots) {
            slot.states = new Map(Object.entries(found.get(slot.key)?.states ?? {}));
            this.dispatch(slot);
          }
        },
        (err: unknown) => this.deps.host.fail(err),
      );
    });
  }

  private dispatch(slot: Slot): void {
    if (!this.deps.host.running() || slot.inFlight !== undefined || slot.states === undefined) return;
    while (slot.mailbox[0]?.dead !== undefined) {
      const entry = slot.mailbox.shift()!;
      this.deadLetter({ ...entry.dead!, record: entry.record, env: entry.env, target: slot.address });
      this.done(entry);
    }
    this.dropRepeatedRequests(slot);
    this.dropSeenSources(slot);
    if (slot.mailbox.length === 0) {
      this.checkBlocked(slot);
      this.updateFlow();
      return;
    }
    const max =
      slot.mailbox[0]!.solo === true
        ? 1
        : slot.target.maxBatch > 0
          ? slot.target.maxBatch
          : Number.MAX_SAFE_INTEGER;
    let n = 0;
    while (n < slot.mailbox.length && n < max && slot.mailbox[n]!.dead === undefined) {
      // A waiting request goes first in its own batch, after its id is checked and remembered.
      if (n > 0 && requestIdOf(slot.mailbox[n]!.env?.caller) !== undefined) break;
      n++;
    }
    const batch = slot.mailbox.splice(0, n);
    this.checkBlocked(slot);
    this.send(slot, batch, 0);
    // The mailbox may have room again: held records can come in while the batch is in flight.
    this.updateFlow();
  }

  /**
   * A waiting request reaches its address once per request id: the ids an address was invoked for
   * are part of its state, written with the invocation's effects (see finish), so the same request
   * appended again (a client retry after a crash) is dropped, and a replay after a crash, whose
   * effects were never committed, still invokes.
   */
  private dropRepeatedRequests(slot: Slot): void {
    while (slot.mailbox.length > 0) {
      const head = slot.mailbox[0]!;
      const id = head.dead === undefined ? requestIdOf(head.env?.caller) : undefined;
      if (id === undefined) return;
      const remembered = rememberRequest(
        slot.states!.get(REQUEST_IDS_STATE),
        id,
        this.deps.now(),
        this.deps.config.requestMemory,
      );
      if (!remembered.seen) return;
      slot.mailbox.shift();
      this.deps.stats.requestsDeduplicated++;
      this.done(head);
    }
  }

  /**
   * Drops the messages an ingress moved again: a source offset at or below the highest this
   * address took from that source (see ingress-handoff.ts), or below one queued ahead of it.
   */
  private dropSeenSources(slot: Slot): void {
    let ahead: Map<string, number> | undefined;
    let kept = 0;
    const mailbox = slot.mailbox;
    for (let i = 0; i < mailbox.length; i++) {
      const e = mailbox[i]!;
      const source = e.dead === undefined ? e.env?.source : undefined;
      if (source !== undefined && Number.isFinite(source.offset)) {
        const taken = ahead?.get(source.name) ?? this.sourcesOf(slot).get(source.name) ?? -1;
        if (source.offset <= taken) {
          this.deps.stats.duplicatesDropped++;
          this.done(e);
          continue;
        }
        (ahead ??= new Map()).set(source.name, source.offset);
      }
      mailbox[kept++] = e;
    }
    mailbox.length = kept;
  }

  private sourcesOf(slot: Slot): Map<string, number> {
    return (slot.sources ??= readSourceOffsets(slot.states?.get(SOURCE_OFFSETS_STATE)));
  }

  /** Remembers the source offsets of a finished batch, in the checkpoint of its effects. */
  private rememberSources(slot: Slot, batch: readonly Entry[]): void {
    let changed = false;
    for (const e of batch) {
      const source = e.env?.source;
      if (source === undefined || !Number.isFinite(source.offset) || slot.states === undefined) continue;
      const sources = this.sourcesOf(slot);
      if ((sources.get(source.name) ?? -1) < source.offset) {
        sources.set(source.name, source.offset);
        changed = true;
      }
    }
    if (changed) this.writeState(slot, SOURCE_OFFSETS_STATE, writeSourceOffsets(slot.sources!));
  }

  /** An entry is done with: its offset completes, a handed-over one settles with the checkpoint. */
  private done(e: Entry): void {
    this.cp.progress.complete(e.offset);
    if (e.ticket !== undefined) {
      this.handedOver--;
      this.cp.settleWithCheckpoint(e.ticket);
    }
  }

  /** Remembers the request ids of a finished batch, in the checkpoint of its effects. */
  private rememberRequests(slot: Slot, batch: readonly Entry[]): void {
    for (const e of batch) {
      const id = requestIdOf(e.env?.caller);
      if (id === undefined || slot.states === undefined) continue;
      const remembered = rememberRequest(
        slot.states.get(REQUEST_IDS_STATE),
        id,
        this.deps.now(),
        this.deps.config.requestMemory,
      );
      if (!remembered.seen) this.writeState(slot, REQUEST_IDS_STATE, remembered.next);
      this.cp.markUrgent();
    }
  }

  private send(slot: Slot, batch: Entry[], round: number): void {
    const request = this.request(slot, batch);
    slot.inFlight = batch;
    this.inFlightCalls++;
    this.deps.stats.batches++;
    const started = this.deps.now();
    // Only tracing reads the records' headers: they are collected when an observer asks.
    let headers: readonly Readonly<Record<string, string>>[] | undefined;
    const observed = this.deps.observer?.batchStarted?.({
      partition: this.partition,
      functionType: slot.functionType,
      address: slot.address,
      size: batch.length,
      round,
      get headers() {
        return (headers ??= batch.map((e) => e.record.headers));
      },
    });
    const call = (): Promise<FromFunction> =>
      this.deps.client.invoke({
        endpoint: slot.target.endpoint,
        url: slot.target.url,
        address: slot.address,
        request,
        signal: this.calls.signal,
      });
    (observed?.around === undefined ? call() : observed.around(call)).then(
      (response) => {
        this.inFlightCalls--;
        if (this.deps.host.stopped()) return;
        observed?.ended?.({ latencyMs: this.deps.now() - started, response, error: undefined });
        this.effectHeaders = observed?.recordHeaders;
        try {
          this.onResponse(slot, batch, round, response);
        } finally {
          this.effectHeaders = undefined;
        }
      },
      (err: unknown) => {
        this.inFlightCalls--;
        if (this.deps.host.stopped()) return;
        observed?.ended?.({ latencyMs: this.deps.now() - started, response: undefined, error: err });
        // Dead letters of a failed call belong to its trace too.
        this.effectHeaders = observed?.recordHeaders;
        try {
          this.onCallError(slot, batch, round, err, started);
        } finally {
          this.effectHeaders = undefined;
        }
      },
    );
  }

  /** The ToFunction for a batch: every registered state of the type (spec §2.1), in order. */
  private request(slot: Slot, batch: readonly Entry[]): ToFunction {
    const registered = this.deps.registry.states(slot.functionType);
    const now = this.deps.now();
    const state: PersistedValue[] = [];
    for (const spec of registered.values()) {
      const stored = slot.states!.get(spec.name);
      if (stored === undefined) {
        state.push({ stateName: spec.name });
      } else if (stored.expiresAt !== undefined && stored.expiresAt <= now) {
        this.writeState(slot, spec.name, null);
        state.push({ stateName: spec.name });
      } else {
        state.push({
          stateName: spec.name,
          stateValue: { typename: stored.typename, hasValue: true, value: stored.value },
        });
      }
    }
    const invocations: ToFunctionInvocation[] = batch.map((e) => {
      const env = e.env!;
      const invocation: ToFunctionInvocation =
        env.caller === undefined
          ? { argument: env.argument }
          : { caller: env.caller, argument: env.argument };
      // Extension fields (ignored by StateFun SDKs); 0 on the wire means "unknown".
      if (Number.isSafeInteger(env.eventTime) && env.eventTime !== 0) invocation.eventTime = env.eventTime;
      if (Number.isSafeInteger(e.watermark) && e.watermark !== 0) invocation.watermark = e.watermark;
      return invocation;
    });
    return { invocation: { target: slot.address, state, invocations } };
  }

  private onResponse(slot: Slot, batch: Entry[], round: number, response: FromFunction): void {
    const incomplete = response.incompleteInvocationContext;
    if (incomplete !== undefined) {
      const conflicts = this.deps.registry.register(slot.functionType, incomplete.missingValues);
      if (conflicts.length > 0) {
        this.failBatch(slot, batch, 'STATE_TYPE_CONFLICT', conflicts.join('; '));
      } else if (round + 1 >= this.deps.config.maxNegotiationRounds) {
        const names = incomplete.missingValues.map((s) => s.stateName).join(', ');
        this.failBatch(
          slot,
          batch,
          'NEGOTIATION_FAILED',
          `function ${slot.functionType} still reports missing states (${names}) after ${round + 1} rounds`,
        );
      } else {
        this.send(slot, batch, round + 1);
        return;
      }
      this.finish(slot, batch);
      return;
    }
    const result: InvocationResponse = response.invocationResult ?? {
      stateMutations: [],
      outgoingMessages: [],
      delayedInvocations: [],
      outgoingEgresses: [],
    };
    const invalid = responseProblem(this.deps.registry.states(slot.functionType), result);
    if (invalid !== undefined) this.failBatch(slot, batch, 'FUNCTION_RESPONSE_REJECTED', invalid);
    else this.deps.host.apply(slot, batch, result, this.effectHeaders);
    this.finish(slot, batch);
  }

  private onCallError(slot: Slot, batch: Entry[], round: number, err: unknown, started: number): void {
    if (err instanceof ContinuumError && err.retryable) {
      // The client was overloaded or shutting down: the call never ran to its end. Try again.
      this.deps.stats.retriedBatches++;
      const cancel = this.deps.scheduler.after(this.deps.config.overloadBackoffMs, () => {
        this.retries.delete(cancel);
        if (!this.deps.host.stopped()) this.send(slot, batch, round);
      });
      this.retries.add(cancel);
      return;
    }
    if (batch.length > 1 && err instanceof FunctionCallError && err.perMessage) {
      // One message may be at fault (the function rejected it, or the batch is too large): send
      // them one by one, so only the messages that fail alone become dead letters.
      this.deps.stats.splitBatches++;
      slot.inFlight = undefined;
      for (const e of batch) e.solo = true;
      slot.mailbox.unshift(...batch);
      this.checkBlocked(slot);
      this.dispatch(slot);
      return;
    }
    const code = deadLetterCodeOfCallError(err);
    this.failBatch(
      slot,
      batch,
      code,
      `calling ${slot.target.url} for ${slot.key} failed after ${this.deps.now() - started} ms: ${message(err)}`,
    );
    this.finish(slot, batch);
  }

  private finish(slot: Slot, batch: readonly Entry[]): void {
    this.rememberRequests(slot, batch);
    this.rememberSources(slot, batch);
    slot.inFlight = undefined;
    for (const e of batch) this.done(e);
    if (this.cp.full || this.cp.isUrgent) this.cp.request();
    else this.cp.dirty();
    this.dispatch(slot);
    this.updateFlow();
  }

  private failBatch(slot: Slot, batch: readonly Entry[], code: DeadLetterCode, reason: string): void {
    this.deps.log.warn('dead-lettering a batch', { address: slot.key, messages: batch.length, code, reason });
    for (const e of batch)
      this.deadLetter({ code, reason, record: e.record, env: e.env, target: slot.address });
  }

  private checkBlocked(slot: Slot): void {
    const limit = slot.target.maxBatch;
    const blocked = limit > 0 && slot.mailbox.length >= limit;
    if (blocked !== slot.blocked) {
      slot.blocked = blocked;
      this.blockedSlots += blocked ? 1 : -1;
    }
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
