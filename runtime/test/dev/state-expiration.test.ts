// State time-to-live as official-SDK functions declare it (expireAfterWrite / expireAfterCall),
// enforced by the dev runtime: an expired value is not sent to the next invocation; "after call"
// is refreshed by every invocation, "after write" only by writes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevRuntime, type DevRuntime } from '../../src/dev-runtime.js';
import { silentLogger } from '../../src/logger.js';
import { parseModule } from '../../src/module/index.js';
import {
  clockReaches,
  endpointDoc,
  freePorts,
  ingressJson,
  serveOfficial,
  sf,
  type LoopbackServer,
} from './support.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

const WRITE_TTL_MS = 400;
const CALL_TTL_MS = 1000;

interface Command {
  op: 'write' | 'read';
  state?: 'written' | 'called';
  seq: number;
}
/** What one invocation saw, stamped with the time the function ran. */
interface Report {
  id: string;
  seq: number;
  written: number | null;
  called: number | null;
  at: number;
}

const Cmd = sf.StateFun.jsonType<Command>('ttl/Command');

describe('state expiration on the dev runtime', () => {
  const reports: Report[] = [];
  let fns: LoopbackServer;
  let dev: DevRuntime;
  let ingressPort: number;
  let seq = 0;

  beforeAll(async () => {
    const statefun = new sf.StateFun();
    statefun.bind({
      typename: 'ttl/holder',
      specs: [
        { name: 'written', type: sf.StateFun.intType(), expireAfterWrite: WRITE_TTL_MS },
        { name: 'called', type: sf.StateFun.intType(), expireAfterCall: CALL_TTL_MS },
      ],
      fn(context, message) {
        const cmd = message.as(Cmd)!;
        const storage = context.storage as { written: number | null; called: number | null };
        reports.push({
          id: context.self.id,
          seq: cmd.seq,
          written: storage.written,
          called: storage.called,
          at: Date.now(),
        });
        if (cmd.op === 'write') storage[cmd.state!] = 1;
      },
    });
    fns = await serveOfficial(statefun);
    [ingressPort] = (await freePorts(1)) as [number];
    const text = `${endpointDoc('ttl/holder', fns.port)}\n---\nkind: io.statefun.playground.v1/ingress\nspec: {port: ${ingressPort}}`;
    dev = await startDevRuntime({
      module: parseModule(text, 'ttl-module.yaml'),
      logger: silentLogger,
      task: { checkpointIntervalMs: 20 },
    });
  });

  afterAll(async () => {
    await dev?.stop();
    await fns?.close();
  });

  /** Sends one command to ttl/holder/<id> and returns what the function saw when it ran it. */
  async function invoke(id: string, op: Command['op'], state?: Command['state']): Promise<Report> {
    const n = ++seq;
    await ingressJson(ingressPort, `ttl/holder/${id}`, 'ttl/Command', { op, state, seq: n });
    await waitUntil(() => reports.some((r) => r.seq === n), {
      timeoutMs: 10_000,
      what: `the function to run command ${n}`,
    });
    return reports.find((r) => r.seq === n)!;
  }

  it('a value written with expire-after-write is gone for the first invocation after its TTL, although reads came in between', async () => {
    const write = await invoke('a', 'write', 'written');
    const reads: Report[] = [];
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const r = await invoke('a', 'read');
      reads.push(r);
      if (r.written === null) break;
      await clockReaches(r.at + 40);
    }
    const expired = reads.findIndex((r) => r.written === null);
    expect(expired, 'the value never expired').toBeGreaterThan(0);
    // The runtime decides before the function runs and stamps the TTL after it returned, so a
    // function-side time below the TTL proves the value was still live, and the first miss
    // cannot come before the TTL elapsed.
    const early = reads.filter((r) => r.at - write.at < WRITE_TTL_MS);
    expect(early.length).toBeGreaterThan(0);
    expect(early.every((r) => r.written === 1)).toBe(true);
    expect(reads[expired]!.at - write.at).toBeGreaterThanOrEqual(WRITE_TTL_MS);
    expect((await invoke('a', 'read')).written).toBeNull();
  });

  it('a value with expire-after-call lives on while invocations keep coming, and expires once they stop', async () => {
    const write = await invoke('b', 'write', 'called');
    let last = write;
    // Invocations every ~100 ms for more than twice the TTL: without refreshes the value would
    // have expired half-way through.
    while (last.at - write.at < 2.5 * CALL_TTL_MS) {
      await clockReaches(last.at + 100);
      const r = await invoke('b', 'read');
      expect(r.at - last.at, 'gap between invocations (machine too slow for this test)').toBeLessThan(
        CALL_TTL_MS,
      );
      expect(r.called, `read at +${r.at - write.at} ms`).toBe(1);
      last = r;
    }
    // Quiet for longer than the TTL (with room for the runtime to apply the last response).
    await clockReaches(last.at + CALL_TTL_MS + 300);
    const after = await invoke('b', 'read');
    expect(after.called).toBeNull();
    expect(after.written).toBeNull();
  });

  it('an expired value does not come back: the address starts over from an empty state', async () => {
    const first = await invoke('c', 'write', 'written');
    await clockReaches(first.at + WRITE_TTL_MS + 200);
    expect((await invoke('c', 'read')).written).toBeNull();
    await invoke('c', 'write', 'written');
    expect((await invoke('c', 'read')).written).toBe(1);
  });
});
