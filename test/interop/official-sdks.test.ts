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

    /** Polls `cond`; on timeout fails with the service's output, which usually says why. */
    async function until(cond: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!(await cond())) {
        if (Date.now() > deadline)
          throw withServiceOutput(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await sleep(10);
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
      const c1 = { tag: 'counter:c1', caller: 'com.example/counter/c1' };
      expect(await notes('counter:c1')).toEqual([
        { ...c1, count: 1 },
        { ...c1, count: 2 },
        { ...c1, count: 3 },
      ]);
      expect(await notes('counter:c2')).toEqual([
        { tag: 'counter:c2', count: 1, caller: 'com.example/counter/c2' },
      ]);
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
      const sentAt = Date.now();
      await send('com.example/scheduler/s1', { op: 'schedule', tag: 'delayed', delayMs: 300 });
      // Shortly before the delay is up the note must not be there yet. The runtime starts the delay
      // only once the scheduler has run, after sentAt; the check is skipped when this process was
      // too busy to look in time.
      await sleep(sentAt + 270 - Date.now());
      const early = await notes('delayed');
      if (Date.now() < sentAt + 300) expect(early, 'the delayed note before its delay was up').toEqual([]);
      await until(async () => (await notes('delayed')).length === 1, 'the delayed note');
      expect(Date.now() - sentAt).toBeGreaterThanOrEqual(300);
      expect(await notes('delayed')).toEqual([
        { tag: 'delayed', count: null, caller: 'com.example/scheduler/s1' },
      ]);
    });

    it('never delivers a delayed message whose cancellation token was cancelled; the token can be reused', async () => {
      const target = 'com.example/scheduler/s2';
      await send(target, { op: 'schedule', tag: 'cancelled', delayMs: 200, token: 'tok-1' });
      await send(target, { op: 'cancel', token: 'tok-1' });
      // Due after the cancelled one: had the cancellation failed, that note would be there first.
      await send(target, { op: 'schedule', tag: 'later', delayMs: 500 });
      await until(async () => (await notes('later')).length === 1, 'the later delayed note');
      expect(await notes('later')).toEqual([
        { tag: 'later', count: null, caller: 'com.example/scheduler/s2' },
      ]);
      expect(await notes('cancelled')).toEqual([]);

      await send(target, { op: 'schedule', tag: 'reused', delayMs: 50, token: 'tok-1' });
      await until(
        async () => (await notes('reused')).length === 1,
        'the note scheduled with the reused token',
      );
      expect(await notes('reused')).toEqual([
        { tag: 'reused', count: null, caller: 'com.example/scheduler/s2' },
      ]);
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
