import { describe, expect, it } from 'vitest';
import type { Address, FromFunction } from '@continuum/sdk/protocol';
import { silentLogger } from '../../src/logger.js';
import { Checkpointer } from '../../src/core/checkpointer.js';
import { fromInternalRecord, toInternalRecord, type Envelope } from '../../src/core/envelope.js';
import { SOURCE_OFFSETS_STATE, type HandOffTicket } from '../../src/core/ingress-handoff.js';
import { Mailboxes, type TaskBudgets } from '../../src/core/mailboxes.js';
import { StateCacheBudget } from '../../src/core/process-budget.js';
import { StateRegistry } from '../../src/core/state-registry.js';
import { defaultTaskConfig, emptyTaskStats, type TaskStats } from '../../src/core/task-config.js';
import { REPLY_NAMESPACE, REPLY_TYPE } from '../../src/request-reply/reply-address.js';
import type { LogRecord } from '../../src/log/log.js';
import {
  FunctionCallError,
  type FunctionCall,
  type FunctionClient,
} from '../../src/transport/function-client.js';
import { addr, emptyResult, intValue, readInt, routers } from './harness.js';
import { FakeOwned, FakeStore, type Journal } from './fake-ports.js';
import { FakeTime, settle } from './fake-time.js';

/** A function client whose calls stay open until the test answers them. */
class HeldClient implements FunctionClient {
  readonly calls: { call: FunctionCall; answer: (r: FromFunction | Error) => void }[] = [];
  invoke(call: FunctionCall): Promise<FromFunction> {
    return new Promise((resolve, reject) =>
      this.calls.push({ call, answer: (r) => (r instanceof Error ? reject(r) : resolve(r)) }),
    );
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  /** The arguments of call `i`. */
  args(i: number): number[] {
    return this.calls[i]!.call.request.invocation!.invocations.map((v) => readInt(v.argument)!);
  }
}

function setup(
  opts: { maxBatch?: number; maxOutstandingRecords?: number; budgets?: TaskBudgets; partition?: number } = {},
) {
  const config = { ...defaultTaskConfig, maxOutstandingRecords: opts.maxOutstandingRecords ?? 10_000 };
  const journal: Journal = [];
  const owned = new FakeOwned(opts.partition ?? 0, journal);
  const store = new FakeStore(opts.partition ?? 0, journal);
  const time = new FakeTime();
  const client = new HeldClient();
  const stats: TaskStats = emptyTaskStats();
  const applied: { address: string; args: number[] }[] = [];
  const host = {
    running: () => true,
    stopped: () => false,
    fail: (err: unknown) => {
      throw err;
    },
  };
  const checkpointer = new Checkpointer({
    owned,
    store,
    internalTopic: 'internal',
    config: defaultTaskConfig,
    scheduler: time,
    now: time.now,
    stats,
    watermarkGroups: [],
    host: { ...host, checkpointed: () => undefined },
  });
  checkpointer.restore({ epoch: 1, checkpointId: 0, position: 0, meta: {} });
  const mailboxes: Mailboxes = new Mailboxes({
    owned,
    store,
    functions: routers(opts.maxBatch ?? 1000).functions,
    client,
    registry: new StateRegistry(),
    config,
    checkpointer,
    stats,
    scheduler: time,
    now: time.now,
    log: silentLogger,
    budgets: opts.budgets,
    host: {
      ...host,
      take: (record) => mailboxes.accept(record, fromInternalRecord(record), undefined),
      apply: (slot, batch) =>
        void applied.push({ address: slot.key, args: batch.map((e) => readInt(e.env!.argument)!) }),
    },
  });
  let offset = 0;
  const record = (target: Address, n: number, caller?: Address): LogRecord => {
    const env: Envelope = { target, argument: intValue(n), eventTime: 1 };
    if (caller !== undefined) env.caller = caller;
    // As read back from a log: the bytes alone, without the envelope they were encoded from.
    const { envelope: _encodedFrom, ...r } = toInternalRecord('internal', 1, env, 'address');
    return { ...r, partition: 0, offset: offset++, headers: r.headers ?? {}, timestamp: 0 };
  };
  const ok = (): FromFunction => emptyResult();
  return { owned, store, time, client, stats, applied, checkpointer, mailboxes, record, ok };
}

/** `r` as a record an ingress moved from source offset `offset` (its log offset kept). */
function fromSource(r: LogRecord, offset: number): LogRecord {
  const env = { ...fromInternalRecord(r), source: { name: 'in|t|0|0', offset } };
  return { ...r, value: toInternalRecord('internal', 1, env, 'address').value };
}

/** `r` as a record an ingress hands over from source offset `offset` (no log offset). */
function handedOver(r: LogRecord, offset: number): LogRecord {
  return { ...fromSource(r, offset), offset: -1 };
}

/** Tickets that write down how they settle, as `name:durable` or `name:lost`. */
function recordingTickets(): { settled: string[]; ticket: (name: string) => HandOffTicket } {
  const settled: string[] = [];
  const ticket = (name: string): HandOffTicket => ({
    durable: () => void settled.push(`${name}:durable`),
    lost: () => void settled.push(`${name}:lost`),
  });
  return { settled, ticket };
}

describe('mailboxes', () => {
  it('one request in flight per address; the backlog goes as the next batch, at most maxNumBatchRequests', async () => {
    const { client, mailboxes, record, ok, applied } = setup({ maxBatch: 3 });
    const a = addr('test/m', 'a');
    const b = addr('test/m', 'b');
    mailboxes.receive([record(a, 1), record(b, 1)]);
    await settle(); // state loads
    expect(client.calls.map((c) => c.call.address.id)).toEqual(['a', 'b']);
    mailboxes.receive([2, 3, 4].map((n) => record(a, n)));
    expect(client.calls).toHaveLength(2);
    client.calls[0]!.answer(ok());
    await settle();
    expect(client.args(2)).toEqual([2, 3, 4]);
    client.calls[1]!.answer(ok());
    await settle();
    client.calls[2]!.answer(ok());
    await settle();
    expect(applied.map((x) => `${x.address}:${x.args.join(',')}`)).toEqual([
      'test/m/a:1',
      'test/m/b:1',
      'test/m/a:2,3,4',
    ]);
  });

  it('holds received records and pauses input while a mailbox is full, then takes them in order', async () => {
    const { owned, client, mailboxes, record, ok, checkpointer } = setup({ maxBatch: 2 });
    const a = addr('test/m', 'a');
    mailboxes.receive([record(a, 1)]);
    await settle();
    mailboxes.receive([2, 3, 4, 5].map((n) => record(a, n)));
    expect(owned.paused).toBe(true);
    expect(mailboxes.backlog.held).toBe(2);
    expect(checkpointer.progress.pending).toBe(5); // held records are tracked from receipt
    client.calls[0]!.answer(ok());
    await settle();
    expect(client.args(1)).toEqual([2, 3]);
    expect(mailboxes.backlog.held).toBe(0);
    client.calls[1]!.answer(ok());
    await settle();
    expect(client.args(2)).toEqual([4, 5]);
    client.calls[2]!.answer(ok());
    await settle();
    expect(owned.paused).toBe(false);
    expect(checkpointer.progress.pending).toBe(0);
  });

  it('a waiting request handed over ahead of its record invokes once: the record, arriving later, is dropped by its remembered id', async () => {
    const { owned, client, mailboxes, record, ok, stats, checkpointer } = setup();
    const a = addr('test/m', 'a');
    const caller: Address = { namespace: REPLY_NAMESPACE, type: REPLY_TYPE, id: 'req-1' };
    const appended = record(a, 7, caller);
    expect(mailboxes.handOver({ ...appended, offset: -1 })).toBe(true);
    await settle();
    expect(client.calls).toHaveLength(1);
    client.calls[0]!.answer(ok());
    await settle();
    // The request's caller waits for this checkpoint: it starts at once, urgent, with the id.
    expect(owned.commits.map((c) => c.urgent)).toEqual([true]);
    mailboxes.receive([appended]);
    await settle();
    expect(client.calls).toHaveLength(1);
    expect(stats.requestsDeduplicated).toBe(1);
    expect(checkpointer.progress.pending).toBe(0);
  });

  it('an ingress record handed over with the envelope it was encoded from is taken without decoding its bytes', async () => {
    const { client, mailboxes, record } = setup();
    const a = addr('test/m', 'a');
    const env = fromInternalRecord(fromSource(record(a, 9), 9));
    const unreadable = { ...record(a, 0), offset: -1, value: new Uint8Array([0xff, 0x00]) };
    const { ticket } = recordingTickets();
    // The bytes alone cannot be decoded: refused (the ingress appends the record instead).
    expect(mailboxes.handOverIngress(unreadable, ticket('bytes'))).toBe(false);
    expect(mailboxes.handOverIngress({ ...unreadable, envelope: env }, ticket('envelope'))).toBe(true);
    await settle();
    expect(client.args(0)).toEqual([9]);
  });

  it('an ingress record handed over invokes once: its ticket settles when its checkpoint commits, and the same source offset again (handed over or read from the log) is dropped by the address memory', async () => {
    const { owned, store, time, client, mailboxes, record, ok, stats, checkpointer } = setup();
    const a = addr('test/m', 'a');
    const source = (offset: number): LogRecord => fromSource(record(a, offset), offset);
    const { settled, ticket } = recordingTickets();
    expect(mailboxes.handOverIngress({ ...source(5), offset: -1 }, ticket('first'))).toBe(true);
    await settle();
    expect(client.args(0)).toEqual([5]);
    client.calls[0]!.answer(ok());
    await settle();
    expect(settled).toEqual([]); // not before its checkpoint commits
    await time.advance(defaultTaskConfig.checkpointIntervalMs + 1);
    await settle();
    expect(owned.commits).toHaveLength(1);
    expect(settled).toEqual(['first:durable']);
    // The offset is remembered with the address's state, in the same checkpoint.
    expect(store.addresses.get('test/m/a')?.states[SOURCE_OFFSETS_STATE]).toBeDefined();
    // Moved again (a restarted ingress): taken, dropped before the call, settled with a checkpoint.
    expect(mailboxes.handOverIngress({ ...source(5), offset: -1 }, ticket('again'))).toBe(true);
    mailboxes.receive([source(4)]);
    await settle();
    expect(client.calls).toHaveLength(1);
    expect(stats.duplicatesDropped).toBe(2);
    await time.advance(defaultTaskConfig.checkpointIntervalMs + 1);
    await settle();
    expect(settled).toEqual(['first:durable', 'again:durable']);
    // The next offset is new: invoked.
    mailboxes.receive([source(6)]);
    await settle();
    expect(client.args(1)).toEqual([6]);
    expect(checkpointer.progress.pending).toBe(1);
  });

  it('a handed-over repeat that changes nothing still settles: its checkpoint is scheduled', async () => {
    const { owned, time, client, mailboxes, record, ok } = setup();
    const a = addr('test/m', 'a');
    const source = (offset: number): LogRecord => handedOver(record(a, offset), offset);
    const { settled, ticket } = recordingTickets();
    mailboxes.handOverIngress(source(3), ticket('first'));
    await settle();
    client.calls[0]!.answer(ok());
    await settle();
    await time.advance(defaultTaskConfig.checkpointIntervalMs + 1);
    await settle();
    expect(owned.commits).toHaveLength(1);
    // Only the repeat comes (a restarted ingress replaying): nothing else would start a checkpoint.
    mailboxes.handOverIngress(source(3), ticket('repeat'));
    await settle();
    await time.advance(defaultTaskConfig.checkpointIntervalMs + 1);
    await settle();
    expect(settled).toEqual(['first:durable', 'repeat:durable']);
  });

  it('a repeat queued behind its original in one mailbox is dropped before the call', async () => {
    const { client, mailboxes, record, ok, stats } = setup();
    const a = addr('test/m', 'a');
    const source = (n: number, offset: number): LogRecord => handedOver(record(a, n), offset);
    const none = { durable: () => undefined, lost: () => undefined };
    mailboxes.handOverIngress(source(0, 0), none);
    await settle();
    // Offsets 1 and 2, then the same two again (an ingress moving them a second time).
    for (const [n, o] of [
      [1, 1],
      [2, 2],
      [11, 1],
      [12, 2],
      [3, 3],
    ] as const)
      expect(mailboxes.handOverIngress(source(n, o), none)).toBe(true);
    client.calls[0]!.answer(ok());
    await settle();
    expect(client.args(1)).toEqual([1, 2, 3]);
    expect(stats.duplicatesDropped).toBe(2);
  });

  it('handed-over records not yet durable are lost when the task stops, whether in a mailbox or in the uncommitted buffer', async () => {
    const { client, mailboxes, record, ok, checkpointer } = setup();
    const a = addr('test/m', 'a');
    const b = addr('test/m', 'b');
    const source = (target: Address, offset: number): LogRecord => handedOver(record(target, offset), offset);
    const { settled, ticket } = recordingTickets();
    mailboxes.handOverIngress(source(a, 1), ticket('done'));
    mailboxes.handOverIngress(source(b, 2), ticket('in-flight'));
    mailboxes.handOverIngress(source(b, 3), ticket('queued'));
    await settle();
    client.calls[0]!.answer(ok()); // a's effects wait in the buffer
    await settle();
    mailboxes.stop();
    checkpointer.stop();
    expect(settled.sort()).toEqual(['done:lost', 'in-flight:lost', 'queued:lost']);
  });

  it('stopping the task aborts the calls of every address in flight, which share one signal', async () => {
    const { client, mailboxes, record } = setup();
    const a = addr('test/m', 'a');
    const b = addr('test/m', 'b');
    mailboxes.receive([record(a, 1), record(b, 1)]);
    await settle();
    const signals = client.calls.map((c) => c.call.signal);
    expect(signals).toHaveLength(2);
    expect(signals[0]).toBeInstanceOf(AbortSignal);
    expect(signals[1]).toBe(signals[0]);
    expect(signals[0]!.aborted).toBe(false);
    mailboxes.stop();
    expect(signals[0]!.aborted).toBe(true);
  });

  it('refuses a hand-over while its address mailbox is full (the ingress appends it instead)', async () => {
    const { mailboxes, record } = setup({ maxBatch: 2 });
    const a = addr('test/m', 'a');
    const none = { durable: () => undefined, lost: () => undefined };
    const source = (offset: number): LogRecord => handedOver(record(a, offset), offset);
    expect(mailboxes.handOverIngress(source(1), none)).toBe(true);
    await settle(); // 1 in flight
    expect(mailboxes.handOverIngress(source(2), none)).toBe(true);
    expect(mailboxes.handOverIngress(source(3), none)).toBe(true);
    expect(mailboxes.handOverIngress(source(4), none)).toBe(false);
    // A record without an ingress source is never taken this way.
    // (See the next test for the bound over all addresses.)
    expect(mailboxes.handOverIngress({ ...record(addr('test/m', 'c'), 9), offset: -1 }, none)).toBe(false);
  });

  it('takes at most maxOutstandingRecords handed-over records at a time, over all addresses', async () => {
    const { client, mailboxes, record, ok } = setup({ maxOutstandingRecords: 2 });
    const none = { durable: () => undefined, lost: () => undefined };
    const source = (id: string, offset: number): LogRecord =>
      handedOver(record(addr('test/m', id), offset), offset);
    expect(mailboxes.handOverIngress(source('a', 1), none)).toBe(true);
    expect(mailboxes.handOverIngress(source('b', 2), none)).toBe(true);
    expect(mailboxes.handOverIngress(source('c', 3), none)).toBe(false);
    await settle();
    client.calls[0]!.answer(ok());
    await settle();
    expect(mailboxes.handOverIngress(source('c', 3), none)).toBe(true);
  });

  it('the partitions of a process share one state cache: past it, idle committed addresses are evicted, least recently used first', async () => {
    const stateCache = new StateCacheBudget(2);
    const one = setup({ budgets: { stateCache }, partition: 0 });
    const two = setup({ budgets: { stateCache }, partition: 1 });
    const invoke = async (s: typeof one, id: string, n: number) => {
      s.mailboxes.receive([s.record(addr('test/m', id), n)]);
      await settle();
      s.client.calls.at(-1)!.answer(s.ok());
      await settle();
    };
    await invoke(one, 'a', 1);
    await invoke(one, 'b', 2);
    await invoke(two, 'c', 3);
    expect(stateCache.size).toBe(3);
    for (const s of [one, two]) {
      await s.time.advance(defaultTaskConfig.checkpointIntervalMs + 1);
      await settle();
      expect(s.owned.commits).toHaveLength(1);
    }
    // Each partition alone is far below its own limit (10,000); the process is one over its 2.
    one.mailboxes.evict();
    expect(one.mailboxes.cachedState('test/m/a')).toBeUndefined();
    expect(one.mailboxes.cachedState('test/m/b')).toBeDefined();
    expect(two.mailboxes.cachedState('test/m/c')).toBeDefined();
    expect(stateCache.size).toBe(2);
    // An evicted address is loaded again from the store when it is needed.
    await invoke(one, 'a', 4);
    expect(one.client.calls).toHaveLength(3);
    expect(stateCache.size).toBe(3);
    // A stopped task gives its addresses back.
    one.mailboxes.stop();
    one.mailboxes.stop();
    expect(stateCache.size).toBe(1);
  });

  it('retries a batch the client refused as overloaded after the backoff, not before', async () => {
    const { time, client, mailboxes, record, stats } = setup();
    mailboxes.receive([record(addr('test/m', 'a'), 1)]);
    await settle();
    client.calls[0]!.answer(
      new FunctionCallError('FUNCTION_CLIENT_OVERLOADED', 'busy', {
        attempts: 0,
        elapsedMs: 0,
        retryable: true,
      }),
    );
    await settle();
    expect(stats.retriedBatches).toBe(1);
    await time.advance(defaultTaskConfig.overloadBackoffMs - 1);
    expect(client.calls).toHaveLength(1);
    await time.advance(1);
    expect(client.calls).toHaveLength(2);
    expect(client.args(1)).toEqual([1]);
  });

  it('a batch failed in a way one message may cause is sent again one message at a time', async () => {
    const { client, mailboxes, record, ok, stats, checkpointer } = setup();
    const a = addr('test/m', 'a');
    mailboxes.receive([record(a, 1)]);
    await settle();
    mailboxes.receive([record(a, 2), record(a, 3)]);
    client.calls[0]!.answer(ok());
    await settle();
    expect(client.args(1)).toEqual([2, 3]);
    const { FunctionAttemptError } = await import('../../src/transport/function-client.js');
    client.calls[1]!.answer(
      new FunctionCallError('FUNCTION_CALL_FAILED', 'rejected', {
        attempts: 1,
        elapsedMs: 0,
        retryable: false,
        lastFailure: new FunctionAttemptError('status', 'HTTP 400', { status: 400, retryable: false }),
      }),
    );
    await settle();
    expect(stats.splitBatches).toBe(1);
    expect(client.args(2)).toEqual([2]);
    client.calls[2]!.answer(ok());
    await settle();
    expect(client.args(3)).toEqual([3]);
    expect(checkpointer.progress.pending).toBe(1);
  });
});
