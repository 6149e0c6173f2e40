// `statefun dev` as a child process, SIGKILLed again and again while 300 messages over 20 keys
// arrive through the playground ingress: every acknowledged message takes effect exactly once in
// state and in the Kafka egress, nothing is applied twice, and per-key order holds; delayed
// messages pending across kills arrive once, cancelled ones never.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDevRuntime, type DevRuntime } from '../../src/dev-runtime.js';
import { silentLogger } from '../../src/logger.js';
import { loadModule } from '../../src/module/index.js';
import { freePorts, readTopic, serveOfficial, sf, utf8, type LoopbackServer } from './support.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const fixture = fileURLToPath(new URL('../fixtures/dev/crash-module.yaml', import.meta.url));
const bin = join(root, 'runtime', 'bin', 'statefun.js');

const KEYS = 20;
const PER_KEY = 15;
const MIN_KILLS = 5;
const PARTITIONS = 2;
const EGRESS_TOPIC = 'crash-out';

/** One send attempt: a fresh id per attempt, so a reply lost to a kill is told apart from a retry. */
interface Attempt {
  key: string;
  seq: number;
  id: string;
  acked: boolean;
}

const Ids = sf.StateFun.jsonType<string[]>('crash/Ids');
const Msg = sf.StateFun.jsonType<{ attempt: string }>('crash/Message');
const Schedule = sf.StateFun.jsonType<{
  op: 'schedule' | 'cancel';
  to?: string;
  attempt?: string;
  delayMs?: number;
  token?: string;
}>('crash/Message');

/** The `statefun dev` child process, restarted after every kill, with a bounded output tail. */
class DevProcess {
  child: ChildProcess | undefined;
  readonly tail: string[] = [];

  constructor(private readonly args: string[]) {}

  start(): void {
    const child = spawn(process.execPath, [bin, ...this.args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line.trim() !== '') this.tail.push(`[${child.pid}] ${line}`);
      if (this.tail.length > 200) this.tail.splice(0, this.tail.length - 200);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    this.child = child;
  }

  async stop(signal: NodeJS.Signals): Promise<number | null> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null)
      return child?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill(signal);
    const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
    try {
      return await exited;
    } finally {
      clearTimeout(force);
    }
  }
}

/** One `statefun dev` set-up: its own ports, data directory and module file. */
interface Launch {
  proc: DevProcess;
  dataDir: string;
  moduleFile: string;
  ingressPort: number;
  /** Starts the process and waits until its admin API reports ready. */
  startAndWait(): Promise<void>;
}

describe('statefun dev under repeated SIGKILL', () => {
  /** Attempt ids in the order the function ran them (at-least-once, so repeats are expected). */
  const applied: { id: string; key: string; at: number }[] = [];
  const launches: Launch[] = [];
  const dirs: string[] = [];
  let fns: LoopbackServer;
  let verifier: DevRuntime | undefined;

  async function launch(onStart: () => void = () => undefined): Promise<Launch> {
    const [ingressPort, adminPort] = (await freePorts(2)) as [number, number];
    const dir = mkdtempSync(join(tmpdir(), 'continuum-dev-crash-'));
    dirs.push(dir);
    const moduleFile = join(dir, 'module.yaml');
    writeFileSync(
      moduleFile,
      readFileSync(fixture, 'utf8')
        .replaceAll('${FUNCTION_PORT}', String(fns.port))
        .replaceAll('${INGRESS_PORT}', String(ingressPort)),
    );
    const dataDir = join(dir, 'data');
    const proc = new DevProcess([
      'dev',
      '-m',
      moduleFile,
      '--data-dir',
      dataDir,
      '--partitions',
      String(PARTITIONS),
      '--admin-port',
      String(adminPort),
      '--no-companions',
      '--log-level',
      'warn',
    ]);
    const ready = async (): Promise<boolean> => {
      try {
        const res = await fetch(`http://127.0.0.1:${adminPort}/readyz`, {
          signal: AbortSignal.timeout(1000),
        });
        return res.status === 200;
      } catch {
        return false;
      }
    };
    const l: Launch = {
      proc,
      dataDir,
      moduleFile,
      ingressPort,
      async startAndWait() {
        onStart();
        proc.start();
        try {
          await waitUntil(ready, { timeoutMs: 30_000, what: 'statefun dev to be ready', intervalMs: 20 });
        } catch (err) {
          throw new Error(`${(err as Error).message}; its output:\n${proc.tail.join('\n')}`);
        }
      },
    };
    launches.push(l);
    return l;
  }

  /**
   * Stops the child cleanly, then recovers its data directory in-process and lets it complete
   * and commit every message, so state and egress can be read consistently.
   */
  async function recover(l: Launch): Promise<DevRuntime> {
    expect(await l.proc.stop('SIGTERM'), l.proc.tail.join('\n')).toBe(0);
    const dev = await startDevRuntime({
      module: await loadModule(l.moduleFile),
      dataDir: l.dataDir,
      partitions: PARTITIONS,
      logger: silentLogger,
    });
    verifier = dev;
    await waitUntil(
      async () => {
        await dev.runtime.flush();
        for (let p = 0; p < PARTITIONS; p++) {
          if (dev.log.position(p).offset !== dev.log.endOffset(dev.log.internalTopic, p)) return false;
        }
        return true;
      },
      {
        timeoutMs: 30_000,
        what: 'the recovered runtime to complete and commit every message',
        intervalMs: 50,
      },
    );
    return dev;
  }

  async function idsOf(dev: DevRuntime, id: string): Promise<string[]> {
    const stored = (await dev.runtime.state({ namespace: 'crash', type: 'ids', id }))?.get('ids');
    return stored === undefined ? [] : (JSON.parse(utf8(stored.value)) as string[]);
  }

  async function put(l: Launch, target: string, body: unknown): Promise<Response> {
    return fetch(`http://127.0.0.1:${l.ingressPort}/${target}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.crash/Message' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
  }

  beforeAll(async () => {
    // The child runs the built CLI; tsc -b is a no-op when dist is current.
    try {
      execFileSync(
        process.execPath,
        [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'runtime'],
        {
          cwd: root,
          stdio: 'pipe',
          timeout: 170_000,
        },
      );
    } catch (err) {
      // Type errors elsewhere still emit JavaScript; only a missing entry point stops the test.
      if (!existsSync(join(root, 'runtime', 'dist', 'cli', 'main.js'))) throw err;
    }
    const statefun = new sf.StateFun();
    statefun.bind({
      typename: 'crash/ids',
      specs: [{ name: 'ids', type: Ids }],
      async fn(context, message) {
        const { attempt } = message.as(Msg)!;
        // Uneven latency makes addresses of one partition finish out of offset order, so
        // checkpoints carry completed offsets beyond their position for a replay to skip.
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 60));
        // Appends blindly: a message applied twice would show up twice.
        context.storage.ids = [...((context.storage.ids as string[] | null) ?? []), attempt];
        context.send(
          sf.kafkaEgressMessage({
            typename: 'crash/out',
            topic: EGRESS_TOPIC,
            key: context.self.id,
            value: attempt,
          }),
        );
        applied.push({ id: attempt, key: context.self.id, at: Date.now() });
      },
    });
    statefun.bind({
      typename: 'crash/scheduler',
      fn(context, message) {
        const cmd = message.as(Schedule)!;
        if (cmd.op === 'cancel') return context.cancelDelayedMessage(cmd.token!);
        const note = sf.messageBuilder({
          typename: 'crash/ids',
          id: cmd.to!,
          value: { attempt: cmd.attempt! },
          valueType: Msg,
        });
        context.sendAfter(cmd.delayMs!, note, cmd.token);
      },
    });
    fns = await serveOfficial(statefun);
  }, 180_000);

  afterEach(async () => {
    for (const l of launches.splice(0)) await l.proc.stop('SIGKILL');
    await verifier?.stop();
    verifier = undefined;
  });

  afterAll(async () => {
    await fns?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('every acknowledged message affects state and egress exactly once across at least five kills', async () => {
    let ackedSinceStart = 0;
    const l = await launch(() => (ackedSinceStart = 0));
    let kills = 0;
    let killsUnderTraffic = 0;
    await l.startAndWait();

    const deadline = Date.now() + 120_000;
    const attempts: Attempt[] = [];
    let sendersDone = false;
    const sender = async (k: number): Promise<void> => {
      const key = `k${k}`;
      for (let seq = 0; seq < PER_KEY; seq++) {
        for (let n = 0; ; n++) {
          if (Date.now() > deadline)
            throw new Error(`${key} could not deliver message ${seq} before the deadline`);
          const attempt: Attempt = { key, seq, id: `${key}.${seq}.${n}`, acked: false };
          attempts.push(attempt);
          try {
            const res = await put(l, `crash/ids/${key}`, { attempt: attempt.id });
            await res.arrayBuffer();
            attempt.acked = res.status === 200;
          } catch {
            // Connection refused or reset by a kill: unknown whether it was accepted; retry anew.
          }
          if (attempt.acked) {
            ackedSinceStart++;
            break;
          }
          await new Promise((r) => setTimeout(r, 100));
        }
        // Steady traffic: 0.1-0.3 s between a key's messages.
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
      }
    };
    const senders = Promise.all(Array.from({ length: KEYS }, (_, k) => sender(k))).finally(
      () => (sendersDone = true),
    );

    while ((!sendersDone || kills < MIN_KILLS) && Date.now() < deadline) {
      // Kill in the middle of the traffic, after 20-50 acknowledgements of this process (at most
      // 50 per process: at least five kills under load for 300 messages), when invocations and
      // uncommitted effects are in flight.
      const threshold = 20 + Math.floor(Math.random() * 31);
      const since = Date.now();
      await waitUntil(() => ackedSinceStart >= threshold || (sendersDone && Date.now() - since >= 500), {
        timeoutMs: 60_000,
        what: 'traffic before the next kill',
        intervalMs: 5,
      });
      if (sendersDone && kills >= MIN_KILLS) break;
      if (!sendersDone) killsUnderTraffic++;
      await l.proc.stop('SIGKILL');
      kills++;
      await l.startAndWait();
    }
    await senders;
    expect(killsUnderTraffic).toBeGreaterThanOrEqual(MIN_KILLS);
    const dev = await recover(l);
    const lists = new Map<string, string[]>();
    for (let k = 0; k < KEYS; k++) {
      lists.set(`k${k}`, await idsOf(dev, `k${k}`));
    }
    const egress = await readTopic(dev.log, EGRESS_TOPIC);

    const tried = new Map(attempts.map((a) => [a.id, a]));
    const acked = attempts.filter((a) => a.acked);
    let appliedCount = 0;
    for (const [key, list] of lists) {
      appliedCount += list.length;
      // Nothing applied twice.
      expect(new Set(list).size, `duplicates in ${key}: ${list.join(' ')}`).toBe(list.length);
      // Only attempts that were made, to this key, in the order the key's sender made them.
      const seqs = list.map((id) => {
        const a = tried.get(id);
        expect(a?.key, `${id} in the state of ${key}`).toBe(key);
        return a!.seq;
      });
      expect(seqs, `order of ${key}`).toEqual([...seqs].sort((a, b) => a - b));
      // Every logical message got through (its acknowledged attempt at least).
      expect(new Set(seqs).size, `messages of ${key}`).toBe(PER_KEY);
    }
    // Every acknowledged attempt exactly once, in the state of its own key.
    for (const a of acked)
      expect(
        lists.get(a.key)!.filter((id) => id === a.id),
        a.id,
      ).toHaveLength(1);
    // The egress holds exactly what the state holds, each record once, keyed by address.
    const egressIds = egress.map((r) => utf8(r.value));
    expect(new Set(egressIds).size, 'duplicates in the egress topic').toBe(egressIds.length);
    expect([...egressIds].sort()).toEqual([...lists.values()].flat().sort());
    for (const r of egress) expect(r.key).toBe(tried.get(utf8(r.value))?.key);

    console.log(
      `dev crash test: ${kills} kills (${killsUnderTraffic} while messages were arriving); ${attempts.length} attempts, ${acked.length} acknowledged, ` +
        `${appliedCount} applied exactly once (${appliedCount - acked.length} accepted without a reply), ` +
        `${egress.length} egress records; the function ran ${applied.length} invocations (at-least-once)`,
    );
  }, 170_000);

  it('delayed messages survive kills of the dev process: each due one arrives once, a cancelled one never', async () => {
    const l = await launch();
    await l.startAndWait();
    const scheduledAt = Date.now();
    const schedule = [
      { op: 'schedule', to: 'late', attempt: 'due-1', delayMs: 1500 },
      { op: 'schedule', to: 'late', attempt: 'cancelled', delayMs: 1200, token: 'tok' },
      { op: 'cancel', token: 'tok' },
      { op: 'schedule', to: 'late', attempt: 'due-2', delayMs: 3000 },
    ];
    for (const cmd of schedule) expect((await put(l, 'crash/scheduler/s', cmd)).status).toBe(200);
    // Kill twice while the messages are pending: once soon after scheduling (a checkpoint may or
    // may not hold the timers yet) and once after the first one is due.
    const firstKillAt = Date.now() + 300 + Math.random() * 300;
    await waitUntil(() => Date.now() >= firstKillAt, {
      timeoutMs: 5000,
      what: 'the first kill time',
      intervalMs: 20,
    });
    await l.proc.stop('SIGKILL');
    await l.startAndWait();
    await waitUntil(() => applied.some((a) => a.id === 'due-1'), {
      timeoutMs: 20_000,
      what: 'due-1 to arrive',
    });
    await l.proc.stop('SIGKILL');
    await l.startAndWait();
    await waitUntil(() => applied.some((a) => a.id === 'due-2'), {
      timeoutMs: 20_000,
      what: 'due-2 to arrive',
    });
    // The cancelled message was due before due-2 from the same sender: it would have come first.
    expect(applied.filter((a) => a.id === 'cancelled')).toEqual([]);
    expect(applied.find((a) => a.id === 'due-1')!.at - scheduledAt).toBeGreaterThanOrEqual(1500);
    expect(applied.find((a) => a.id === 'due-2')!.at - scheduledAt).toBeGreaterThanOrEqual(3000);

    const dev = await recover(l);
    expect(await idsOf(dev, 'late')).toEqual(['due-1', 'due-2']);
    const egress = (await readTopic(dev.log, EGRESS_TOPIC)).map((r) => `${r.key}:${utf8(r.value)}`);
    expect(egress).toEqual(['late:due-1', 'late:due-2']);
    expect(dev.runtime.ownedPartitions.reduce((n, p) => n + dev.runtime.task(p)!.pendingTimers(), 0)).toBe(0);
  }, 90_000);
});
