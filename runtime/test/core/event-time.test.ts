// Event time in the partition task, on the embedded log and state store: event time and watermark
// per invocation, lateness, event-time timers (order, exactly once, cancellation, fired at once
// behind the watermark), the watermark across restarts and the watermark a replay sees.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DelayedInvocation, FromFunction, ToFunction } from '@continuum/sdk/protocol';
import { watermarkRecords } from '../../src/core/envelope.js';
import { EmbeddedLog } from '../../src/log/embedded-log.js';
import { Runtime } from '../../src/runtime.js';
import { EmbeddedStateStore } from '../../src/state/embedded-state-store.js';
import {
  addr,
  emptyResult,
  InProcessClient,
  intValue,
  readAll,
  readInt,
  routers,
  type Handler,
} from './harness.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

const GROUP = 'test/source';

interface Rt {
  runtime: Runtime;
  log: EmbeddedLog;
  store: EmbeddedStateStore;
}

const running: Rt[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) await r.runtime.stop().catch(() => undefined);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function start(handlers: Record<string, Handler>, dir?: string): Promise<Rt> {
  const log = await EmbeddedLog.open({
    dir: dir === undefined ? undefined : join(dir, 'log'),
    partitions: 2,
  });
  const store = new EmbeddedStateStore({ dir: dir === undefined ? undefined : join(dir, 'state') });
  const runtime = new Runtime({
    log,
    store,
    client: new InProcessClient(handlers),
    ...routers(),
    task: { checkpointIntervalMs: 20 },
    restartBackoffMs: 20,
    watermarkGroups: [GROUP],
  });
  await runtime.start();
  const rt = { runtime, log, store };
  running.push(rt);
  return rt;
}

/** The single source of GROUP announces `watermark` to every partition. */
async function advance(rt: Rt, watermark: number | 'idle'): Promise<void> {
  const { log } = rt;
  await log.append(
    watermarkRecords(
      log.internalTopic,
      log.partitions,
      { group: GROUP, source: 's/0', members: 's:1', watermark },
      Date.now(),
    ),
  );
}

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'continuum-event-time-'));
  dirs.push(d);
  return d;
}

interface Seen {
  id: string;
  value: number | undefined;
  eventTime: number | undefined;
  watermark: number | undefined;
  caller: string | undefined;
}

/** Records every invocation; returns the response `respond` builds (default: no effects). */
function recorder(seen: Seen[], respond?: (req: ToFunction) => FromFunction): Handler {
  return (req) => {
    const inv = req.invocation!;
    for (const i of inv.invocations) {
      seen.push({
        id: inv.target.id,
        value: readInt(i.argument),
        eventTime: i.eventTime,
        watermark: i.watermark,
        caller: i.caller === undefined ? undefined : `${i.caller.type}/${i.caller.id}`,
      });
    }
    return respond?.(req) ?? emptyResult();
  };
}

const timer = (id: string, time: number, token = ''): DelayedInvocation => ({
  isCancellationRequest: false,
  cancellationToken: token,
  delayInMs: 0,
  target: addr('test/win', id),
  argument: intValue(time),
  eventTime: time,
  atEventTime: true,
});

function result(delayed: DelayedInvocation[]): FromFunction {
  return {
    invocationResult: {
      stateMutations: [],
      outgoingMessages: [],
      delayedInvocations: delayed,
      outgoingEgresses: [],
    },
  };
}

describe('event time in the partition task', () => {
  it('each invocation carries its event time and the watermark at its position in the log', async () => {
    const seen: Seen[] = [];
    const rt = await start({ 'test/obs': recorder(seen) });
    const to = addr('test/obs', 'a');
    await rt.runtime.send([{ target: to, argument: intValue(1), eventTime: 1_000 }]);
    await advance(rt, 5_000);
    await rt.runtime.send([{ target: to, argument: intValue(2), eventTime: 3_000 }]);
    await rt.runtime.send([{ target: to, argument: intValue(3), eventTime: 6_000 }]);
    await waitUntil(() => seen.length === 3, { timeoutMs: 5_000, what: 'three invocations' });
    expect(seen.map((s) => [s.value, s.eventTime, s.watermark])).toEqual([
      [1, 1_000, undefined], // no watermark yet
      [2, 3_000, 5_000], // behind the watermark: late
      [3, 6_000, 5_000],
    ]);
    expect(rt.runtime.taskFor(to)!.watermark).toBe(5_000);
  });

  it('event-time timers fire once the watermark passes them, in timestamp order per address, exactly once', async () => {
    const seen: Seen[] = [];
    const rt = await start({
      'test/win': recorder(seen, (req) =>
        req.invocation!.invocations[0]!.caller === undefined
          ? result([timer('w', 300), timer('w', 100), timer('w', 200), timer('other', 150)])
          : emptyResult(),
      ),
    });
    await rt.runtime.send([{ target: addr('test/win', 'w'), argument: intValue(0), eventTime: 50 }]);
    await waitUntil(() => rt.runtime.taskFor(addr('test/win', 'w'))!.pendingTimers() === 4, {
      timeoutMs: 5_000,
      what: 'timers set',
    });
    await advance(rt, 160);
    await waitUntil(() => seen.length === 3, { timeoutMs: 5_000, what: 'timers up to 160' });
    await advance(rt, 250);
    await advance(rt, 10_000);
    await waitUntil(() => seen.length === 5, { timeoutMs: 5_000, what: 'every timer' });
    const fired = seen.slice(1);
    const at = (id: string) => fired.filter((s) => s.id === id);
    expect(at('w').map((s) => s.value)).toEqual([100, 200, 300]);
    expect(at('other').map((s) => s.value)).toEqual([150]);
    // A timer's message carries its time as event time, and the sender as caller.
    for (const s of fired) {
      expect(s.eventTime).toBe(s.value);
      expect(s.caller).toBe('win/w');
      expect(s.watermark).toBeGreaterThanOrEqual(s.value!);
    }
    await rt.runtime.flush();
    for (const p of [0, 1]) expect(await rt.store.partition(p).timers()).toEqual([]);
    await advance(rt, 20_000);
    await rt.runtime.flush();
    expect(seen).toHaveLength(5);
  });

  it('a timer behind the watermark fires at once; a cancelled one never; tokens are shared with delayed messages', async () => {
    const seen: Seen[] = [];
    const rt = await start({
      'test/win': recorder(seen, (req) => {
        const i = req.invocation!.invocations[0]!;
        if (i.caller !== undefined) return emptyResult();
        switch (readInt(i.argument)) {
          case 1:
            return result([
              timer('w', 500),
              timer('w', 5_000, 'later'),
              // Same token as a pending timer: refused (dead-lettered), whatever the kind.
              {
                isCancellationRequest: false,
                cancellationToken: 'later',
                delayInMs: 10,
                target: addr('test/win', 'w'),
                argument: intValue(9),
              },
            ]);
          case 2:
            return result([{ isCancellationRequest: true, cancellationToken: 'later', delayInMs: 0 }]);
          default:
            return emptyResult();
        }
      }),
    });
    await advance(rt, 1_000);
    const w = addr('test/win', 'w');
    await waitUntil(() => rt.runtime.taskFor(w)!.watermark === 1_000, {
      timeoutMs: 5_000,
      what: 'watermark 1000',
    });
    await rt.runtime.send([{ target: w, argument: intValue(1), eventTime: 1_000 }]);
    await waitUntil(() => seen.some((s) => s.value === 500), {
      timeoutMs: 5_000,
      what: 'the timer behind the watermark',
    });
    await rt.runtime.send([{ target: w, argument: intValue(2), eventTime: 1_000 }]);
    await waitUntil(() => seen.length === 3, { timeoutMs: 5_000, what: 'the cancellation' });
    await advance(rt, 60_000);
    await rt.runtime.send([{ target: w, argument: intValue(3), eventTime: 60_000 }]);
    await waitUntil(() => seen.length === 4, { timeoutMs: 5_000, what: 'a later message' });
    await rt.runtime.flush();
    expect(seen.map((s) => s.value)).toEqual([1, 500, 2, 3]);
    const dead = await readAll(rt.log, 'continuum-dead-letters');
    expect(dead.map((d) => d.headers['continuum.dlq.code'])).toEqual(['CANCELLATION_TOKEN_REUSED']);
  });

  it('messages a function sends carry the event time it names, else the latest of the batch', async () => {
    const seen: Seen[] = [];
    const rt = await start({
      'test/a': () => ({
        invocationResult: {
          stateMutations: [],
          outgoingMessages: [
            { target: addr('test/b', 'x'), argument: intValue(1), eventTime: 40 },
            { target: addr('test/b', 'x'), argument: intValue(2) },
          ],
          delayedInvocations: [],
          outgoingEgresses: [],
        },
      }),
      'test/b': recorder(seen),
    });
    await rt.runtime.send([{ target: addr('test/a', 'x'), argument: intValue(0), eventTime: 90 }]);
    await waitUntil(() => seen.length === 2, { timeoutMs: 5_000, what: 'two messages' });
    expect(seen.map((s) => [s.value, s.eventTime])).toEqual([
      [1, 40],
      [2, 90],
    ]);
  });

  it('the watermark and pending event-time timers survive a restart, and the timers fire exactly once after it', async () => {
    const dir = tempDir();
    const seen: Seen[] = [];
    const handlers = {
      'test/win': recorder(seen, (req) =>
        req.invocation!.invocations[0]!.caller === undefined ? result([timer('w', 5_000)]) : emptyResult(),
      ),
    };
    const w = addr('test/win', 'w');
    const first = await start(handlers, dir);
    await advance(first, 1_000);
    await first.runtime.send([{ target: w, argument: intValue(1), eventTime: 2_000 }]);
    await waitUntil(() => first.runtime.taskFor(w)!.pendingTimers() === 1, {
      timeoutMs: 5_000,
      what: 'the timer',
    });
    await first.runtime.flush();
    await first.runtime.stop();
    running.splice(running.indexOf(first), 1);

    const second = await start(handlers, dir);
    await waitUntil(() => second.runtime.taskFor(w)?.isRunning === true, {
      timeoutMs: 5_000,
      what: 'recovery',
    });
    // Before any new mark: the watermark came back from the checkpoint.
    for (const p of [0, 1]) expect(second.runtime.task(p)!.watermark).toBe(1_000);
    expect(second.runtime.taskFor(w)!.pendingTimers()).toBe(1);
    await advance(second, 4_000);
    await second.runtime.flush();
    expect(seen.map((s) => s.value)).toEqual([1]);
    await advance(second, 5_000);
    await waitUntil(() => seen.length === 2, { timeoutMs: 5_000, what: 'the timer' });
    await second.runtime.flush();
    expect(seen[1]).toMatchObject({ value: 5_000, eventTime: 5_000, watermark: 5_000 });
  });

  it('a message replayed after a restart sees the watermark it saw the first time, not the later one', async () => {
    const dir = tempDir();
    const seen: Seen[] = [];
    let release: (() => void) | undefined;
    const blocked = new Promise<void>((r) => (release = r));
    let block = true;
    const handlers: Record<string, Handler> = {
      'test/obs': async (req, call) => {
        await recorder(seen)(req, call);
        if (block) await blocked; // the first run never finishes this call
        return emptyResult();
      },
    };
    const to = addr('test/obs', 'slow');
    const first = await start(handlers, dir);
    await advance(first, 100);
    await first.runtime.send([{ target: to, argument: intValue(1), eventTime: 150 }]);
    await waitUntil(() => seen.length === 1, { timeoutMs: 5_000, what: 'the first call' });
    // The watermark moves past the message while its call is in flight, and gets checkpointed.
    await advance(first, 9_000);
    const task = first.runtime.taskFor(to)!;
    await waitUntil(() => task.watermark === 9_000, { timeoutMs: 5_000, what: 'watermark 9000' });
    await first.runtime.flush();
    await first.runtime.stop();
    running.splice(running.indexOf(first), 1);
    block = false;
    release!();

    const second = await start(handlers, dir);
    await waitUntil(() => seen.length === 2, { timeoutMs: 5_000, what: 'the replayed call' });
    expect(seen.map((s) => [s.value, s.eventTime, s.watermark])).toEqual([
      [1, 150, 100],
      [1, 150, 100], // not 9000: the message is not late on replay either
    ]);
    await waitUntil(() => second.runtime.taskFor(to)!.watermark === 9_000, {
      timeoutMs: 5_000,
      what: 'the watermark catches up',
    });
  });
});
