// Functions written with the official StateFun JS SDK (apache-flink-statefun 3.3.0), served over
// real HTTP, run unchanged on the dev runtime: state, messages with callers, delayed messages and
// their cancellation, the playground egress and a Kafka egress recorded in the log.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevRuntime, type DevRuntime } from '../../src/dev-runtime.js';
import { silentLogger } from '../../src/logger.js';
import { parseModule } from '../../src/module/index.js';
import {
  endpointDoc,
  freePorts,
  ingressJson,
  readTopic,
  serveOfficial,
  sf,
  utf8,
  type LoopbackServer,
} from './support.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

const { StateFun, messageBuilder, egressMessageBuilder, kafkaEgressMessage } = sf;

interface Command {
  op: 'add' | 'schedule' | 'cancel';
  tag?: string;
  delayMs?: number;
  token?: string;
}
interface Note {
  tag: string;
  count?: number;
  /** The scheduler's wall clock (ms since the epoch) when it scheduled the note. */
  scheduledAt?: number;
}
/** What the recorder function saw, in the order it saw it. */
interface Seen {
  note: Note;
  caller: string | null;
  /** The recorder's wall clock (ms since the epoch) when it was invoked with the note. */
  deliveredAt: number;
}

const Cmd = StateFun.jsonType<Command>('com.example/Command');
const NoteType = StateFun.jsonType<Note>('com.example/Note');
const EgressRecord = StateFun.jsonType<{ topic: string; payload: unknown }>(
  'io.statefun.playground/EgressRecord',
);

describe('the official StateFun JS SDK on the dev runtime', () => {
  const seen: Seen[] = [];
  let fns: LoopbackServer;
  let dev: DevRuntime;
  let ingressPort: number;
  let egressPort: number;
  let dataDir: string;

  beforeAll(async () => {
    const statefun = new StateFun();
    statefun.bind({
      typename: 'com.example/counter',
      specs: [{ name: 'count', type: StateFun.intType() }],
      fn(context, message) {
        const cmd = message.as(Cmd)!;
        if (cmd.op !== 'add') return;
        const count = ((context.storage.count as number | null) ?? 0) + 1;
        context.storage.count = count;
        const id = context.self.id;
        context.send(
          messageBuilder({
            typename: 'com.example/recorder',
            id: 'r',
            value: { tag: `counter:${id}`, count },
            valueType: NoteType,
          }),
        );
        context.send(
          egressMessageBuilder({
            typename: 'io.statefun.playground/egress',
            value: { topic: 'counts', payload: { id, count } },
            valueType: EgressRecord,
          }),
        );
        context.send(
          kafkaEgressMessage({
            typename: 'com.example/out',
            topic: 'counts-out',
            key: id,
            value: `${id}=${count}`,
          }),
        );
      },
    });
    statefun.bind({
      typename: 'com.example/scheduler',
      fn(context, message) {
        const cmd = message.as(Cmd)!;
        if (cmd.op === 'schedule') {
          const note = messageBuilder({
            typename: 'com.example/recorder',
            id: 'r',
            value: { tag: cmd.tag!, scheduledAt: Date.now() },
            valueType: NoteType,
          });
          context.sendAfter(cmd.delayMs!, note, cmd.token);
        } else if (cmd.op === 'cancel') {
          context.cancelDelayedMessage(cmd.token!);
        }
      },
    });
    statefun.bind({
      typename: 'com.example/recorder',
      fn(context, message) {
        const deliveredAt = Date.now();
        const caller = context.caller;
        seen.push({
          note: message.as(NoteType)!,
          caller: caller === null ? null : `${caller.typename}/${caller.id}`,
          deliveredAt,
        });
      },
    });
    fns = await serveOfficial(statefun);
    [ingressPort, egressPort] = (await freePorts(2)) as [number, number];
    const text = [
      endpointDoc('com.example/*', fns.port),
      '---',
      `kind: io.statefun.playground.v1/ingress\nspec: {port: ${ingressPort}}`,
      '---',
      `kind: io.statefun.playground.v1/egress\nspec: {port: ${egressPort}, topics: [counts]}`,
      '---',
      'kind: io.statefun.kafka.v1/egress\nspec: {id: com.example/out, address: 127.0.0.1:9, deliverySemantic: {type: at-least-once}}',
    ].join('\n');
    dataDir = mkdtempSync(join(tmpdir(), 'continuum-dev-sdk-'));
    dev = await startDevRuntime({
      module: parseModule(text, 'official-sdk-module.yaml'),
      dataDir,
      partitions: 4,
      logger: silentLogger,
      task: { checkpointIntervalMs: 20 },
    });
  });

  afterAll(async () => {
    await dev?.stop();
    await fns?.close();
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  });

  const recorded = (prefix: string): Seen[] => seen.filter((s) => s.note.tag.startsWith(prefix));

  it('keeps state across messages and shows the sender as the caller of the messages it sends', async () => {
    for (let i = 0; i < 3; i++)
      await ingressJson(ingressPort, 'com.example/counter/c1', 'com.example/Command', { op: 'add' });
    await ingressJson(ingressPort, 'com.example/counter/c2', 'com.example/Command', { op: 'add' });
    await waitUntil(() => recorded('counter:').length === 4, {
      timeoutMs: 10_000,
      what: 'four notes from the counters',
    });
    const c1 = recorded('counter:c1');
    expect(c1.map((s) => s.note.count)).toEqual([1, 2, 3]);
    expect(c1.every((s) => s.caller === 'com.example/counter/c1')).toBe(true);
    expect(recorded('counter:c2')).toMatchObject([{ note: { count: 1 }, caller: 'com.example/counter/c2' }]);
  });

  it('delivers the playground egress records in order through GET /<topic>, then answers 404', async () => {
    const pop = async (): Promise<{ status: number; body: string }> => {
      const res = await fetch(`http://127.0.0.1:${egressPort}/counts`, { signal: AbortSignal.timeout(5000) });
      return { status: res.status, body: await res.text() };
    };
    const got: unknown[] = [];
    await waitUntil(
      async () => {
        const r = await pop();
        if (r.status === 200) got.push(JSON.parse(r.body));
        return got.length === 4;
      },
      { timeoutMs: 10_000, what: 'four playground egress records' },
    );
    const c1 = got.filter((g) => (g as { id: string }).id === 'c1');
    expect(c1).toEqual([
      { id: 'c1', count: 1 },
      { id: 'c1', count: 2 },
      { id: 'c1', count: 3 },
    ]);
    expect(got).toContainEqual({ id: 'c2', count: 1 });
    expect((await pop()).status).toBe(404);
  });

  it('records every Kafka egress message once in the log topic it names, keyed as the SDK set it', async () => {
    await waitUntil(async () => (await readTopic(dev.log, 'counts-out')).length >= 4, {
      timeoutMs: 10_000,
      what: 'four records in counts-out',
    });
    const records = (await readTopic(dev.log, 'counts-out')).map((r) => ({
      key: r.key,
      value: utf8(r.value),
    }));
    expect(records.filter((r) => r.key === 'c1')).toEqual([
      { key: 'c1', value: 'c1=1' },
      { key: 'c1', value: 'c1=2' },
      { key: 'c1', value: 'c1=3' },
    ]);
    expect(records).toContainEqual({ key: 'c2', value: 'c2=1' });
    expect(records).toHaveLength(4);
  });

  it('delivers a message sent with sendAfter no earlier than its delay, with the sender as caller', async () => {
    const delayMs = 300;
    const sentAt = Date.now();
    await ingressJson(ingressPort, 'com.example/scheduler/s1', 'com.example/Command', {
      op: 'schedule',
      tag: 'delayed',
      delayMs,
    });
    await waitUntil(() => recorded('delayed').length >= 1, { timeoutMs: 10_000, what: 'the delayed note' });
    const seenAt = Date.now();
    const delivered = recorded('delayed');
    expect(delivered).toHaveLength(1);
    const [{ note, caller, deliveredAt }] = delivered as [Seen];
    expect(caller).toBe('com.example/scheduler/s1');
    // Readings of one wall clock, in this order: sending the command, the scheduler scheduling
    // (before the runtime starts the delay, on its own later reading), the recorder being invoked
    // (once the runtime's reading has reached the due time), this test seeing the note. Every
    // reading is rounded down to whole ms, which keeps that order, so no allowance is needed.
    expect(note.scheduledAt).toBeGreaterThanOrEqual(sentAt);
    expect(deliveredAt).toBeLessThanOrEqual(seenAt);
    expect(deliveredAt - note.scheduledAt!).toBeGreaterThanOrEqual(delayMs);
  });

  it('never delivers a delayed message whose token was cancelled, while a later one arrives', async () => {
    const target = 'com.example/scheduler/s2';
    await ingressJson(ingressPort, target, 'com.example/Command', {
      op: 'schedule',
      tag: 'cancelled',
      delayMs: 200,
      token: 'tok-1',
    });
    await ingressJson(ingressPort, target, 'com.example/Command', { op: 'cancel', token: 'tok-1' });
    // Scheduled after the cancelled one and due later: had the cancellation failed, the cancelled
    // note would reach the recorder first (same sender partition, same recorder mailbox).
    await ingressJson(ingressPort, target, 'com.example/Command', {
      op: 'schedule',
      tag: 'later',
      delayMs: 500,
    });
    await waitUntil(() => recorded('later').length === 1, {
      timeoutMs: 10_000,
      what: 'the later delayed note',
    });
    expect(recorded('cancelled')).toEqual([]);
    expect(recorded('later')[0]!.caller).toBe('com.example/scheduler/s2');
    // The cancelled token is free again once cancelled: reusing it schedules a new delivery.
    await ingressJson(ingressPort, target, 'com.example/Command', {
      op: 'schedule',
      tag: 'reused',
      delayMs: 50,
      token: 'tok-1',
    });
    await waitUntil(() => recorded('reused').length === 1, {
      timeoutMs: 10_000,
      what: 'the note scheduled with the reused token',
    });
    expect(recorded('cancelled')).toEqual([]);
    expect(await readTopic(dev.log, 'continuum-dead-letters')).toEqual([]);
  });
});
