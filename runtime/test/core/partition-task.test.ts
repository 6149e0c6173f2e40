import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FromFunction } from '@continuum/sdk/protocol';
import {
  addr,
  counter,
  emptyResult,
  embeddedRuntime,
  intValue,
  readAll,
  readInt,
  INT,
  type EmbeddedRuntime,
  type Handler,
} from './harness.js';
import { Header, toInternalRecord } from '../../src/core/envelope.js';
import { addressKey } from '../../src/core/address.js';
import { encodeTypedValue } from '@continuum/sdk/protocol';
import { waitUntil } from '@continuum/test-infra/wait-until';
import { FakeTime } from './fake-time.js';

const running: EmbeddedRuntime[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) await r.runtime.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function start(opts: Parameters<typeof embeddedRuntime>[0]): Promise<EmbeddedRuntime> {
  const r = await embeddedRuntime(opts);
  running.push(r);
  return r;
}

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'continuum-core-'));
  dirs.push(d);
  return d;
}

async function committedInt(
  r: EmbeddedRuntime,
  a: ReturnType<typeof addr>,
  state: string,
): Promise<number | undefined> {
  const p = r.runtime.taskFor(a)!.partition;
  const found = await r.store.partition(p).get([addressKey(a)]);
  const v = found.get(addressKey(a))?.states[state];
  return v === undefined ? undefined : readInt({ typename: v.typename, hasValue: true, value: v.value });
}

describe('partition task', () => {
  it('delivers messages to each address in order with at most one request in flight per address', async () => {
    const inFlight = new Map<string, number>();
    const seen = new Map<string, number[]>();
    let maxInFlight = 0;
    let overlapping = 0;
    const handler: Handler = async (req) => {
      const id = req.invocation!.target.id;
      const now = (inFlight.get(id) ?? 0) + 1;
      inFlight.set(id, now);
      maxInFlight = Math.max(maxInFlight, now);
      overlapping = Math.max(overlapping, [...inFlight.values()].filter((v) => v > 0).length);
      await new Promise((r) => setTimeout(r, Math.random() * 3));
      const list = seen.get(id) ?? [];
      for (const i of req.invocation!.invocations) list.push(readInt(i.argument)!);
      seen.set(id, list);
      inFlight.set(id, now - 1);
      return emptyResult();
    };
    const r = await start({ handlers: { 'test/order': handler } });
    const addresses = 50;
    const perAddress = 40;
    for (let round = 0; round < perAddress; round++) {
      await r.runtime.send(
        Array.from({ length: addresses }, (_, a) => ({
          target: addr('test/order', `a${a}`),
          argument: intValue(round),
        })),
      );
    }
    await waitUntil(() => [...seen.values()].reduce((n, l) => n + l.length, 0) === addresses * perAddress, {
      timeoutMs: 20_000,
      what: 'all messages',
    });
    expect(maxInFlight).toBe(1);
    expect(overlapping).toBeGreaterThan(1); // different addresses do run concurrently
    for (let a = 0; a < addresses; a++) {
      expect(seen.get(`a${a}`)).toEqual(Array.from({ length: perAddress }, (_, i) => i));
    }
    // Backlogs went out as batches rather than one call per message.
    expect(r.client.calls.length).toBeLessThan(addresses * perAddress);
  });

  it('negotiates missing state and re-sends the same invocations with the state attached', async () => {
    const requests: { states: string[]; args: number[] }[] = [];
    const handler: Handler = (req) => {
      const inv = req.invocation!;
      requests.push({
        states: inv.state.map((s) => s.stateName),
        args: inv.invocations.map((i) => readInt(i.argument)!),
      });
      return counter()(req, undefined as never);
    };
    const r = await start({ handlers: { 'test/neg': handler } });
    await r.runtime.send([{ target: addr('test/neg', 'x'), argument: intValue(5) }]);
    await waitUntil(() => requests.length >= 2, { timeoutMs: 10_000, what: 'requests.length >= 2' });
    expect(requests[0]).toEqual({ states: [], args: [5] });
    expect(requests[1]).toEqual({ states: ['n'], args: [5] });
    await r.runtime.flush();
    expect(await committedInt(r, addr('test/neg', 'x'), 'n')).toBe(5);
  });

  it('sends the backlog as the next batch and pauses input at maxNumBatchRequests', async () => {
    let release: (() => void) | undefined;
    const batches: number[] = [];
    const handler: Handler = async (req) => {
      batches.push(req.invocation!.invocations.length);
      if (batches.length === 1) await new Promise<void>((r) => (release = r));
      return emptyResult();
    };
    const r = await start({ handlers: { 'test/batch': handler }, maxBatch: 10, partitions: 1 });
    const a = addr('test/batch', 'k');
    await r.runtime.send([{ target: a, argument: intValue(0) }]);
    await waitUntil(() => release !== undefined, { timeoutMs: 10_000, what: 'release !== undefined' });
    await r.runtime.send(Array.from({ length: 24 }, (_, i) => ({ target: a, argument: intValue(i + 1) })));
    const task = r.runtime.task(0)!;
    await waitUntil(() => task.backlog.paused, { timeoutMs: 5000, what: 'the consumer to pause' });
    // The blocked address holds at least maxNumBatchRequests messages while input is paused.
    expect(task.backlog.outstanding).toBeGreaterThanOrEqual(11);
    release!();
    await waitUntil(() => batches.reduce((x, y) => x + y, 0) === 25, {
      timeoutMs: 10_000,
      what: 'batches.reduce((x, y) => x + y, 0) === 25',
    });
    expect(batches[0]).toBe(1);
    expect(Math.max(...batches.slice(1))).toBeLessThanOrEqual(10);
    expect(batches.length).toBeGreaterThanOrEqual(3);
    await waitUntil(() => !task.backlog.paused, { timeoutMs: 10_000, what: '!task.backlog.paused' });
  });

  it('sends the messages one delivery brings for an address as one batch, not the first alone', async () => {
    const batches: number[] = [];
    const handler: Handler = (req) => {
      batches.push(req.invocation!.invocations.length);
      return Promise.resolve(emptyResult());
    };
    const r = await start({ handlers: { 'test/batch': handler }, partitions: 1 });
    const a = addr('test/batch', 'k');
    const b = addr('test/batch', 'j');
    // One append: the log hands the task all of it in one delivery.
    await r.runtime.send(
      Array.from({ length: 12 }, (_, i) => ({ target: i % 3 === 0 ? b : a, argument: intValue(i) })),
    );
    await waitUntil(() => batches.reduce((x, y) => x + y, 0) === 12, {
      timeoutMs: 10_000,
      what: 'batches.reduce((x, y) => x + y, 0) === 12',
    });
    expect(batches.sort()).toEqual([4, 8]);
  });

  it('dead-letters a batch whose calls keep failing and goes on with the next messages', async () => {
    const handler: Handler = (req) => {
      if (readInt(req.invocation!.invocations[0]!.argument) === 13) throw new Error('unlucky');
      return emptyResult();
    };
    const r = await start({ handlers: { 'test/fail': handler }, partitions: 1 });
    const a = addr('test/fail', 'k');
    await r.runtime.send([{ target: a, argument: intValue(13) }]);
    await waitUntil(() => r.client.calls.length === 1, {
      timeoutMs: 10_000,
      what: 'r.client.calls.length === 1',
    });
    await r.runtime.send([{ target: a, argument: intValue(1) }]);
    await waitUntil(() => r.client.calls.length === 2, {
      timeoutMs: 10_000,
      what: 'r.client.calls.length === 2',
    });
    await r.runtime.flush();
    const dead = await readAll(r.log, 'continuum-dead-letters');
    expect(dead).toHaveLength(1);
    expect(dead[0]!.headers[Header.code]).toBe('FUNCTION_CALL_FAILED');
    expect(dead[0]!.headers[Header.reason]).toContain('unlucky');
    expect(dead[0]!.headers[Header.target]).toBe('test/fail/k');
  });

  it('dead-letters messages to function types no endpoint serves', async () => {
    const r = await start({ handlers: {}, types: ['test/known'] });
    await r.runtime.send([{ target: addr('test/unknown', 'k'), argument: intValue(1) }]);
    await waitUntil(async () => (await readAll(r.log, 'continuum-dead-letters')).length === 1, {
      timeoutMs: 10_000,
      what: "(await readAll(r.log, 'continuum-dead-letters')).length === 1",
    });
    const [dead] = await readAll(r.log, 'continuum-dead-letters');
    expect(dead!.headers[Header.code]).toBe('FUNCTION_UNKNOWN');
    expect(dead!.headers[Header.reason]).toContain('test/unknown');
  });

  it('rejects a state mutation whose type differs from the registered one', async () => {
    const handler: Handler = (req) => {
      if (req.invocation!.state.length === 0) {
        return { incompleteInvocationContext: { missingValues: [{ stateName: 'n', typeTypename: INT }] } };
      }
      return {
        invocationResult: {
          stateMutations: [
            {
              mutationType: 1,
              stateName: 'n',
              stateValue: {
                typename: 'io.statefun.types/string',
                hasValue: true,
                value: new Uint8Array([10, 1, 65]),
              },
            },
          ],
          outgoingMessages: [],
          delayedInvocations: [],
          outgoingEgresses: [],
        },
      };
    };
    const r = await start({ handlers: { 'test/mismatch': handler } });
    const a = addr('test/mismatch', 'k');
    await r.runtime.send([{ target: a, argument: intValue(1) }]);
    await waitUntil(async () => (await readAll(r.log, 'continuum-dead-letters')).length === 1, {
      timeoutMs: 10_000,
      what: "(await readAll(r.log, 'continuum-dead-letters')).length === 1",
    });
    const [dead] = await readAll(r.log, 'continuum-dead-letters');
    expect(dead!.headers[Header.code]).toBe('FUNCTION_RESPONSE_REJECTED');
    expect(dead!.headers[Header.reason]).toContain('registered with type io.statefun.types/int');
    await r.runtime.flush();
    expect(await committedInt(r, a, 'n')).toBeUndefined();
  });

  it('routes messages between functions with the caller set, and egress records out', async () => {
    const seenCallers: (string | undefined)[] = [];
    const ping: Handler = (req) => ({
      invocationResult: {
        stateMutations: [],
        outgoingMessages: [{ target: addr('test/pong', req.invocation!.target.id), argument: intValue(7) }],
        delayedInvocations: [],
        outgoingEgresses: [],
      },
    });
    const pong: Handler = (req, call) => {
      const c = req.invocation!.invocations[0]!.caller;
      seenCallers.push(c === undefined ? undefined : addressKey(c));
      return counter({ egressTopic: 'out' })(req, call);
    };
    const r = await start({ handlers: { 'test/ping': ping, 'test/pong': pong } });
    await r.runtime.send([{ target: addr('test/ping', 'u1'), argument: intValue(1) }]);
    await waitUntil(async () => (await readAll(r.log, 'out')).length === 1, {
      timeoutMs: 10_000,
      what: "(await readAll(r.log, 'out')).length === 1",
    });
    expect(seenCallers.at(-1)).toBe('test/ping/u1');
    expect((await readAll(r.log, 'out'))[0]).toMatchObject({ key: 'u1', value: 'u1:7' });
  });

  it('delivers a delayed message once, lets the sender cancel another, and dead-letters a reused pending token', async () => {
    const got: number[] = [];
    const handler: Handler = (req) => {
      const inv = req.invocation!;
      const result: FromFunction = emptyResult();
      for (const i of inv.invocations) {
        const v = readInt(i.argument)!;
        if (i.caller === undefined) {
          // From ingress: schedule; v=1 uses token t1, v=2 token t2 (cancelled), v=3 reuses t1.
          const token = v === 1 ? 't1' : v === 2 ? 't2' : 't1';
          result.invocationResult!.delayedInvocations.push({
            isCancellationRequest: false,
            cancellationToken: token,
            delayInMs: v === 2 ? 300 : 100,
            target: inv.target,
            argument: intValue(100 + v),
          });
          if (v === 2) {
            result.invocationResult!.delayedInvocations.push({
              isCancellationRequest: true,
              cancellationToken: 't2',
              delayInMs: 0,
            });
          }
        } else {
          got.push(v);
        }
      }
      return result;
    };
    // Timers and checkpoints run on fake time: the cancelled message not firing is shown by
    // moving the clock past its time, not by sleeping.
    const time = new FakeTime(Date.now());
    const r = await start({ handlers: { 'test/delay': handler }, partitions: 1, time });
    const task = r.runtime.task(0)!;
    const a = addr('test/delay', 'k');
    await r.runtime.send([{ target: a, argument: intValue(1) }]);
    await r.runtime.send([{ target: a, argument: intValue(2) }]);
    await r.runtime.send([{ target: a, argument: intValue(3) }]);
    await waitUntil(() => task.stats.invocations === 3, { timeoutMs: 10_000, what: 'the three messages' });
    expect(task.pendingTimers()).toBe(1);
    // t1 fires at 100 ms; its message is delivered once its checkpoint commits.
    await waitUntil(
      async () => {
        await time.advance(50);
        return got.length >= 1;
      },
      { timeoutMs: 10_000, what: 'the delayed message' },
    );
    await time.advance(1000); // well past the 300 ms of the cancelled one
    expect(task.stats.timersFired).toBe(1);
    expect(task.pendingTimers()).toBe(0);
    await r.runtime.flush();
    expect(got).toEqual([101]);
    const dead = await readAll(r.log, 'continuum-dead-letters');
    expect(dead.map((d) => d.headers[Header.code])).toEqual(['CANCELLATION_TOKEN_REUSED']);
  });

  it('dead-letters a delayed message past maxPendingTimers, naming its target, and schedules again once timers fired', async () => {
    const got: number[] = [];
    const handler: Handler = (req) => {
      const inv = req.invocation!;
      const result: FromFunction = emptyResult();
      for (const i of inv.invocations) {
        const v = readInt(i.argument)!;
        if (i.caller !== undefined) got.push(v);
        else
          result.invocationResult!.delayedInvocations.push({
            isCancellationRequest: false,
            cancellationToken: '',
            delayInMs: 200,
            target: inv.target,
            argument: intValue(100 + v),
          });
      }
      return result;
    };
    const r = await start({
      handlers: { 'test/delay': handler },
      partitions: 1,
      task: { maxPendingTimers: 2 },
    });
    const a = addr('test/delay', 'k');
    for (const v of [1, 2, 3]) await r.runtime.send([{ target: a, argument: intValue(v) }]);
    await waitUntil(() => got.length >= 2, { timeoutMs: 5_000, what: 'two delayed messages' });
    await r.runtime.send([{ target: a, argument: intValue(4) }]);
    await waitUntil(() => got.length >= 3, { timeoutMs: 5_000, what: 'one more after the first two fired' });
    expect(got).toEqual([101, 102, 104]);
    const dead = await readAll(r.log, 'continuum-dead-letters');
    expect(dead.map((d) => [d.headers[Header.code], d.headers[Header.target], d.value])).toEqual([
      ['TIMER_LIMIT_REACHED', 'test/delay/k', Buffer.from(intValue(103).value).toString('utf8')],
    ]);
    expect(dead[0]!.headers[Header.reason]).toMatch(/holds 2 pending .* the limit \(maxPendingTimers\)/);
  });
});

describe('recovery on the embedded adapters', () => {
  it('a crash between checkpoints loses nothing and applies nothing twice', async () => {
    const dir = tempDir();
    const a = addr('test/counter', 'c');
    const first = await embeddedRuntime({
      handlers: { 'test/counter': counter({ egressTopic: 'out' }) },
      dir,
      partitions: 2,
    });
    for (let i = 0; i < 30; i++) await first.runtime.send([{ target: a, argument: intValue(1) }]);
    await waitUntil(async () => (await readAll(first.log, 'out')).length >= 10, {
      timeoutMs: 10_000,
      what: 'some progress',
    });
    // Crash: drop the process state without a final checkpoint.
    await first.log.close();
    const second = await start({
      handlers: { 'test/counter': counter({ egressTopic: 'out' }) },
      dir,
      partitions: 2,
    });
    await waitUntil(async () => (await readAll(second.log, 'out')).length >= 30, {
      timeoutMs: 10_000,
      what: 'all 30 egress records',
    });
    await second.runtime.flush();
    const out = await readAll(second.log, 'out');
    expect(out.map((o) => o.value)).toEqual(Array.from({ length: 30 }, (_, i) => `c:${i + 1}`));
    expect(await committedInt(second, a, 'n')).toBe(30);
  });

  it('a staged checkpoint whose log commit never happened is discarded on recovery', async () => {
    const dir = tempDir();
    const a = addr('test/counter', 'c');
    let crash = false;
    const first = await embeddedRuntime({
      handlers: { 'test/counter': counter({ egressTopic: 'out' }) },
      dir,
      partitions: 1,
      hooks: {
        afterStage: () => {
          if (crash) throw new Error('simulated crash between stage and commit');
        },
      },
    });
    await first.runtime.send([{ target: a, argument: intValue(1) }]);
    await waitUntil(async () => (await readAll(first.log, 'out')).length === 1, {
      timeoutMs: 10_000,
      what: "(await readAll(first.log, 'out')).length === 1",
    });
    crash = true;
    await first.runtime.send([{ target: a, argument: intValue(1) }]);
    await waitUntil(async () => (await first.store.partition(0).staged()) !== undefined, {
      timeoutMs: 5000,
      what: 'a staged delta',
    });
    await first.log.close();
    const second = await start({
      handlers: { 'test/counter': counter({ egressTopic: 'out' }) },
      dir,
      partitions: 1,
    });
    await waitUntil(async () => (await readAll(second.log, 'out')).length === 2, {
      timeoutMs: 10_000,
      what: "(await readAll(second.log, 'out')).length === 2",
    });
    await second.runtime.flush();
    expect((await readAll(second.log, 'out')).map((o) => o.value)).toEqual(['c:1', 'c:2']);
    expect(await committedInt(second, a, 'n')).toBe(2);
  });

  it('an old owner of a partition can no longer commit once a new owner fenced it', async () => {
    const { EmbeddedLog } = await import('../../src/log/embedded-log.js');
    const log = await EmbeddedLog.open({ partitions: 1 });
    const old = log.newOwner(0);
    await old.fence();
    const fresh = log.newOwner(0);
    await fresh.fence();
    await expect(
      old.commit([{ topic: 'out', key: 'k', value: new Uint8Array([1]) }], { offset: 0, checkpointId: 1 }),
    ).rejects.toMatchObject({ code: 'FENCED' });
    await fresh.commit([{ topic: 'out', key: 'k', value: new Uint8Array([2]) }], {
      offset: 0,
      checkpointId: 1,
    });
    expect((await readAll(log, 'out')).map((o) => o.value)).toEqual(['\u0002']);
    await log.close();
  });
});

describe('ingress records moved twice', () => {
  it('are applied once, also when the second copy arrives after a restart', async () => {
    const dir = tempDir();
    const a = addr('test/counter', 'dup');
    const copy = (sourceOffset: number) =>
      toInternalRecord(
        'continuum-internal',
        1,
        {
          target: a,
          argument: intValue(1),
          eventTime: 1,
          source: { name: 'in|topic|0', offset: sourceOffset },
        },
        'address',
      );
    // The older record form (TypedValue value, event time and source in headers) still counts.
    const copyOld = (sourceOffset: number) => ({
      topic: 'continuum-internal',
      partition: 0,
      key: addressKey(a),
      value: encodeTypedValue(intValue(1)),
      headers: {
        [Header.eventTime]: '1',
        [Header.ingressSource]: 'in|topic|0',
        [Header.ingressOffset]: String(sourceOffset),
      },
    });
    const first = await embeddedRuntime({
      handlers: { 'test/counter': counter({ egressTopic: 'out' }) },
      dir,
      partitions: 1,
    });
    await first.log.append([copy(0), copy(1), copy(0), copy(2), copy(1)]);
    await waitUntil(async () => (await readAll(first.log, 'out')).length >= 3, {
      timeoutMs: 10_000,
      what: "(await readAll(first.log, 'out')).length >= 3",
    });
    await first.runtime.flush();
    await first.runtime.stop();
    const second = await start({
      handlers: { 'test/counter': counter({ egressTopic: 'out' }) },
      dir,
      partitions: 1,
    });
    await second.log.append([copyOld(2), copy(1), copyOld(3)]);
    await waitUntil(async () => (await readAll(second.log, 'out')).length >= 4, {
      timeoutMs: 10_000,
      what: "(await readAll(second.log, 'out')).length >= 4",
    });
    await second.runtime.flush();
    expect((await readAll(second.log, 'out')).map((o) => o.value)).toEqual([
      'dup:1',
      'dup:2',
      'dup:3',
      'dup:4',
    ]);
    expect(await committedInt(second, a, 'n')).toBe(4);
    expect(second.runtime.task(0)!.stats.duplicatesDropped).toBe(2);
  });
});

describe('replay after repeated crashes', () => {
  it('a checkpoint taken before the replay is read again keeps the offsets the last one had completed', async () => {
    const dir = tempDir();
    const slow = addr('test/counter', 'slow');
    const fast = addr('test/counter', 'fast');
    const never = new Promise<never>(() => undefined);
    // `slow` never answers, so the committed position stays at its message while `fast`'s
    // messages complete beyond it.
    const handler: Handler = (req, call) =>
      req.invocation!.target.id === 'slow' && req.invocation!.state.length > 0 ? never : counter()(req, call);
    const first = await embeddedRuntime({ handlers: { 'test/counter': handler }, dir, partitions: 1 });
    await first.runtime.send([{ target: slow, argument: intValue(1) }]);
    await first.runtime.send([{ target: fast, argument: intValue(1) }]);
    await first.runtime.send([{ target: fast, argument: intValue(1) }]);
    await waitUntil(() => first.runtime.task(0)!.cachedState('test/counter/fast') !== undefined, {
      timeoutMs: 10_000,
      what: "first.runtime.task(0)!.cachedState('test/counter/fast') !== undefined",
    });
    await waitUntil(
      async () => {
        await first.runtime.flush();
        return (await committedInt(first, fast, 'n')) === 2;
      },
      { timeoutMs: 10_000, what: '{ await first.runtime.flush(); return (await committedInt(first, fa...' },
    );
    await first.log.close(); // crash

    // Recover and checkpoint at once, before the replayed records are delivered; crash again.
    const second = await embeddedRuntime({ handlers: { 'test/counter': handler }, dir, partitions: 1 });
    await second.runtime.flush();
    await second.log.close();

    const third = await start({ handlers: { 'test/counter': handler }, dir, partitions: 1 });
    await waitUntil(() => third.runtime.task(0)!.stats.received >= 3, {
      timeoutMs: 10_000,
      what: 'third.runtime.task(0)!.stats.received >= 3',
    });
    await third.runtime.flush();
    expect(await committedInt(third, fast, 'n')).toBe(2);
  });
});
