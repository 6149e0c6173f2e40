// A dead letter's replay is recorded in the dead-letter topic: after `statefun dev` restarts on
// the same data directory, a second replay is still refused with the time of the first.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevRuntime, type DevRuntime } from '../../src/dev-runtime.js';
import { silentLogger } from '../../src/logger.js';
import { parseModule } from '../../src/module/index.js';
import { adminCall, sendText, serveOpsFunctions, type OpsFunctions } from '../metrics/ops-fixture.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

interface Letter {
  id: string;
  target?: string;
  replayed: boolean;
  replayedAt?: string;
}

describe('dead-letter replay across a restart', () => {
  let fns: OpsFunctions;
  let dataDir: string;
  let dev: DevRuntime | undefined;

  const start = async (): Promise<string> => {
    dev = await startDevRuntime({
      module: parseModule(fns.moduleDocs.join('\n---\n'), 'ops-module.yaml'),
      partitions: 2,
      adminPort: 0,
      dataDir,
      logger: silentLogger,
      task: { checkpointIntervalMs: 20 },
    });
    return `http://127.0.0.1:${dev.servers.find((s) => s.name === 'admin')!.port}`;
  };

  beforeAll(async () => {
    fns = await serveOpsFunctions();
    dataDir = await mkdtemp(join(tmpdir(), 'continuum-replay-'));
  });

  afterAll(async () => {
    await dev?.stop();
    await fns?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('refuses a second replay after a restart on the same data directory, and force still works', async () => {
    let admin = await start();
    await sendText(admin, 'nobody/home/durable', 'once only');
    let letter: Letter | undefined;
    await waitUntil(
      async () => {
        const list = (await adminCall(admin, '/v1/dead-letters')).body as { items: Letter[] };
        letter = list.items.find((l) => l.target === 'nobody/home/durable');
        return letter !== undefined;
      },
      { timeoutMs: 10_000, what: 'the dead letter' },
    );
    const path = `/v1/dead-letters/${letter!.id}/replay`;
    const first = await adminCall(admin, path, { body: { target: 'ops/sink/durable' } });
    expect(first.status).toBe(200);
    const { replayedAt } = first.body as { replayedAt: string };
    await waitUntil(() => fns.sunk.includes('once only'), {
      timeoutMs: 10_000,
      what: 'the replayed message at the sink',
    });
    // Committed, not only seen by the sink: a stop while its call is in flight would have the
    // restarted runtime call the sink with it again (a function may run more than once).
    const sink = { namespace: 'ops', type: 'sink', id: 'durable' };
    await waitUntil(
      () => {
        const task = dev!.runtime.taskFor(sink);
        if (task === undefined) return false;
        const records = dev!.log.readRange(dev!.log.internalTopic, task.partition, 0, 1000);
        const replayed = records.find((r) => r.value !== null && Buffer.from(r.value).includes('once only'));
        return replayed !== undefined && task.committedOffset > replayed.offset;
      },
      { timeoutMs: 10_000, what: 'the replayed message to be committed' },
    );

    await dev!.stop();
    dev = undefined;
    admin = await start();

    const again = await adminCall(admin, path, { body: { target: 'ops/sink/durable' } });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: 'DEAD_LETTER_ALREADY_REPLAYED', replayedAt });
    const listed = ((await adminCall(admin, '/v1/dead-letters')).body as { items: Letter[] }).items.find(
      (l) => l.id === letter!.id,
    );
    expect(listed).toMatchObject({ replayed: true, replayedAt });
    // The replay record is not a letter of its own.
    const all = (await adminCall(admin, '/v1/dead-letters')).body as { total: number; items: Letter[] };
    expect(all.items.filter((l) => l.target === 'nobody/home/durable')).toHaveLength(1);

    const forced = await adminCall(admin, `${path}?force=true`, { body: { target: 'ops/sink/durable' } });
    expect(forced.status).toBe(200);
    await waitUntil(() => fns.sunk.filter((v) => v === 'once only').length === 2, {
      timeoutMs: 10_000,
      what: 'the forced replay at the sink',
    });
  });
});
