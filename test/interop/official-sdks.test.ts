// Functions written with the official Apache Flink StateFun 3.3.0 SDKs of other languages run unchanged
// on the dev runtime: int state with and without expire-after-write, messages with their caller,
// delayed messages and their cancellation tokens, and Kafka egress records (which the dev runtime
// writes to the embedded log's topic of that name).
//
// Every language has a service in test/interop/<lang>/ implementing the same four functions, and a
// prepare.mjs: `prepare(log)` builds the service into .cache/interop/<lang> (done ahead by
// `node scripts/bootstrap.mjs --test`; here it only confirms the cached build), `command(port)` says
// how to start it on 127.0.0.1:<port>.
import { createConnection } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  parseModule,
  silentLogger,
  startDevRuntime,
  type DevRuntime,
  type EmbeddedLog,
  type LogRecord,
} from '@continuum/runtime';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManagedProcess } from '../infra/managed-process.js';
import { freePorts } from '../infra/ports.js';
import { waitUntil } from '../infra/wait-until.js';

/** One row per language whose service lives in test/interop/<lang>/. */
const languages = [
  { lang: 'python', sdk: 'apache-flink-statefun 3.3.0 (PyPI)' },
  { lang: 'go', sdk: 'github.com/apache/flink-statefun/statefun-sdk-go/v3 v3.3.0' },
  { lang: 'java', sdk: 'statefun-sdk-java 3.3.0 (Maven Central)' },
];

/** What a test/interop/<lang>/prepare.mjs exports. */
interface LanguageService {
  prepare(log: (message: string) => void): Promise<void>;
  /** How to start the service on 127.0.0.1:`port`; `env` is added to this process's environment. */
  command(port: number): { command: string; args: string[]; env?: Record<string, string> };
}

const here = dirname(fileURLToPath(import.meta.url));

async function loadService(lang: string): Promise<LanguageService> {
  return (await import(pathToFileURL(join(here, lang, 'prepare.mjs')).href)) as LanguageService;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Every committed record of `topic`, over all its partitions. */
async function readTopic(log: EmbeddedLog, topic: string): Promise<LogRecord[]> {
  const reader = log.reader(topic);
  const out: LogRecord[] = [];
  const partitions = await reader.partitions();
  for (let p = 0; p < partitions; p++) out.push(...(await reader.read(p, 0, Number.MAX_SAFE_INTEGER)));
  return out;
}

const utf8 = (v: Uint8Array | null): string => (v === null ? '' : Buffer.from(v).toString('utf8'));

/** What the recorder function writes to the `notes` topic for every note it receives. */
interface NoteRecord {
  tag: string;
  count: number | null;
  caller: string | null;
  /** The scheduler's wall clock (ms since the epoch) when it scheduled the note; null for notes sent at once. */
  scheduledAt: number | null;
  /** The recorder's wall clock (ms since the epoch) when it was invoked with the note. */
  deliveredAt: number;
}

/** A note sent at once, as the recorder writes it (`deliveredAt` varies). */
const immediateNote = (tag: string, count: number, caller: string): NoteRecord => ({
  tag,
  count,
  caller,
  scheduledAt: null,
  deliveredAt: expect.any(Number) as number,
});

/** A note the scheduler sent with a delay, as the recorder writes it (both times vary). */
const delayedNote = (tag: string, caller: string): NoteRecord => ({
  tag,
  count: null,
  caller,
  scheduledAt: expect.any(Number) as number,
  deliveredAt: expect.any(Number) as number,
});

/**
 * The recorder was invoked with `note` at least `delayMs` after the scheduler scheduled it. Both
 * times are readings of this machine's one wall clock, rounded down to whole ms by every SDK's
 * service: the runtime starts the delay on its own reading taken after the scheduler's (it has the
 * scheduler's response by then) and delivers once its reading has reached the due time, and the
 * recorder reads the clock after that, so rounding down cannot make the difference smaller than
 * the delay and no allowance is needed.
 */
function expectDelayHeld(note: NoteRecord, delayMs: number): void {
  expect(note.scheduledAt, `${note.tag}: scheduledAt`).not.toBeNull();
  expect(
    note.deliveredAt - note.scheduledAt!,
    `${note.tag}: deliveredAt - scheduledAt`,
  ).toBeGreaterThanOrEqual(delayMs);
}

for (const { lang, sdk } of languages)
  describe(`functions on the official StateFun ${lang} SDK, ${sdk}`, () => {
    let service: ManagedProcess | undefined;
    let dev: DevRuntime;
    let ingressPort: number;
    const prepareLog: string[] = [];

    const serviceOutput = (): string =>
      service === undefined ? '(the service was not started)' : service.logTail(60) || '(no output)';
    const withServiceOutput = (message: string): Error =>
      new Error(`${message}\n--- ${lang} service output ---\n${serviceOutput()}`);

    /** waitUntil; on timeout fails with the service's output too, which usually says why. */
    async function until(cond: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
      try {
        await waitUntil(cond, { timeoutMs, what });
      } catch (err) {
        throw withServiceOutput((err as Error).message);
      }
    }

    async function send(target: string, command: Record<string, unknown>): Promise<void> {
      const res = await fetch(`http://127.0.0.1:${ingressPort}/${target}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/vnd.com.example/Command' },
        body: JSON.stringify(command),
        signal: AbortSignal.timeout(10_000),
      });
      if (res.status !== 200)
        throw new Error(`playground ingress answered ${res.status} for ${target}: ${await res.text()}`);
    }

    const notes = async (prefix: string): Promise<NoteRecord[]> =>
      (await readTopic(dev.log, 'notes'))
        .map((r) => JSON.parse(utf8(r.value)) as NoteRecord)
        .filter((n) => n.tag.startsWith(prefix));
    const keyedValues = async (topic: string): Promise<{ key: string | null; value: string }[]> =>
      (await readTopic(dev.log, topic)).map((r) => ({ key: r.key, value: utf8(r.value) }));

    beforeAll(async () => {
      const language = await loadService(lang);
      try {
        await language.prepare((message) => prepareLog.push(message));
      } catch (err) {
        throw new Error(
          `preparing the ${lang} service failed (node test/infra/prepare.mjs prepares it): ${(err as Error).message}` +
            `\n--- prepare log ---\n${prepareLog.join('\n')}`,
          { cause: err },
        );
      }
      const [servicePort, playgroundPort] = (await freePorts(2)) as [number, number];
      ingressPort = playgroundPort;
      const { command, args, env } = language.command(servicePort);
      service = await ManagedProcess.start({
        command,
        args,
        cwd: join(here, lang),
        env: { ...process.env, ...env },
      });
      const deadline = Date.now() + 60_000;
      while (!(await accepts(servicePort))) {
        if (!service.running) {
          const { code, signal } = service.exitStatus!;
          throw withServiceOutput(
            `the ${lang} service (${command} ${args.join(' ')}) exited with ${signal ?? `code ${code}`} ` +
              `before accepting connections on 127.0.0.1:${servicePort}`,
          );
        }
        if (Date.now() > deadline)
          throw withServiceOutput(`the ${lang} service accepts no connections on 127.0.0.1:${servicePort}`);
        await sleep(50);
      }
      const moduleText = [
        'kind: io.statefun.endpoints.v2/http',
        'spec:',
        '  functions: com.example/*',
        `  urlPathTemplate: http://127.0.0.1:${servicePort}/statefun`,
        '---',
        `kind: io.statefun.playground.v1/ingress\nspec: {port: ${ingressPort}}`,
        '---',
        'kind: io.statefun.kafka.v1/egress',
        'spec: {id: com.example/out, address: 127.0.0.1:9, deliverySemantic: {type: at-least-once}}',
      ].join('\n');
      dev = await startDevRuntime({
        module: parseModule(moduleText, `interop-${lang}-module.yaml`),
        partitions: 4,
        logger: silentLogger,
        task: { checkpointIntervalMs: 20 },
      });
    }, 600_000);

    afterAll(async () => {
      await dev?.stop();
      await service?.terminate(5_000);
    });

    afterEach((context) => {
      if (context.task.result?.state === 'fail')
        console.error(`--- ${lang} service output ---\n${serviceOutput()}`);
    });

    it('keeps int state per id and reports the sending function as the caller', async () => {
      for (let i = 0; i < 3; i++) await send('com.example/counter/c1', { op: 'add' });
      await send('com.example/counter/c2', { op: 'add' });
      await until(async () => (await notes('counter:')).length >= 4, 'four notes from the counters');
      const c1 = (count: number): NoteRecord => immediateNote('counter:c1', count, 'com.example/counter/c1');
      expect(await notes('counter:c1')).toEqual([c1(1), c1(2), c1(3)]);
      expect(await notes('counter:c2')).toEqual([immediateNote('counter:c2', 1, 'com.example/counter/c2')]);
      expect(await notes('counter:')).toHaveLength(4);

      await until(
        async () => (await readTopic(dev.log, 'counts-out')).length >= 4,
        'four records in counts-out',
      );
      const counts = await keyedValues('counts-out');
      expect(counts.filter((r) => r.key === 'c1')).toEqual([
        { key: 'c1', value: 'c1=1' },
        { key: 'c1', value: 'c1=2' },
        { key: 'c1', value: 'c1=3' },
      ]);
      expect(counts.filter((r) => r.key !== 'c1')).toEqual([{ key: 'c2', value: 'c2=1' }]);
    });

    it('delivers a delayed message no earlier than its delay, with the scheduling function as caller', async () => {
      const delayMs = 300;
      const sentAt = Date.now();
      await send('com.example/scheduler/s1', { op: 'schedule', tag: 'delayed', delayMs });
      await until(async () => (await notes('delayed')).length >= 1, 'the delayed note');
      const seenAt = Date.now();
      const delivered = await notes('delayed');
      expect(delivered).toEqual([delayedNote('delayed', 'com.example/scheduler/s1')]);
      const [note] = delivered as [NoteRecord];
      // The recorded times are clock readings taken between sending the command and seeing the
      // note, so a service that wrote some other number fails here rather than passing below.
      expect(note.scheduledAt).toBeGreaterThanOrEqual(sentAt);
      expect(note.deliveredAt).toBeLessThanOrEqual(seenAt);
      expectDelayHeld(note, delayMs);
    });

    it('never delivers a delayed message whose cancellation token was cancelled; the token can be reused', async () => {
      const target = 'com.example/scheduler/s2';
      await send(target, { op: 'schedule', tag: 'cancelled', delayMs: 200, token: 'tok-1' });
      await send(target, { op: 'cancel', token: 'tok-1' });
      // Due after the cancelled one: had the cancellation failed, that note would be there first.
      await send(target, { op: 'schedule', tag: 'later', delayMs: 500 });
      await until(async () => (await notes('later')).length >= 1, 'the later delayed note');
      const later = await notes('later');
      expect(later).toEqual([delayedNote('later', 'com.example/scheduler/s2')]);
      expectDelayHeld(later[0]!, 500);
      expect(await notes('cancelled')).toEqual([]);

      await send(target, { op: 'schedule', tag: 'reused', delayMs: 50, token: 'tok-1' });
      await until(
        async () => (await notes('reused')).length >= 1,
        'the note scheduled with the reused token',
      );
      const reused = await notes('reused');
      expect(reused).toEqual([delayedNote('reused', 'com.example/scheduler/s2')]);
      expectDelayHeld(reused[0]!, 50);
      expect(await notes('cancelled')).toEqual([]);
    });

    it('expires a value 1 s after its last write (expire-after-write)', async () => {
      const values = async (): Promise<string[]> =>
        (await keyedValues('expiring')).filter((r) => r.key === 'e1').map((r) => r.value);
      await send('com.example/expiring/e1', { op: 'add' });
      await send('com.example/expiring/e1', { op: 'add' });
      await until(async () => (await values()).length === 2, 'two records in expiring');
      expect(await values()).toEqual(['e1=1', 'e1=2']);
      // The second write happened before it was seen here: 1.3 s from now is more than 1 s after it.
      await sleep(1_300);
      await send('com.example/expiring/e1', { op: 'add' });
      await until(async () => (await values()).length === 3, 'a third record in expiring');
      expect(await values()).toEqual(['e1=1', 'e1=2', 'e1=1']);
    });

    it('dead-letters nothing', async () => {
      const deadLetters = (await readTopic(dev.log, 'continuum-dead-letters')).map((r) => ({
        key: r.key,
        headers: r.headers,
      }));
      expect(deadLetters).toEqual([]);
    });
  });
