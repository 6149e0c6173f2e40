// The admin API of a dev runtime: the token guards everything but the probes and the dashboard's
// static files; state inspection shows what a function wrote and its pending delayed message;
// partitions list their owner; dead letters are listed with their reasons and can be replayed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevRuntime, type DevRuntime } from '../../src/dev-runtime.js';
import { silentLogger } from '../../src/logger.js';
import { parseModule } from '../../src/module/index.js';
import { adminCall, sendText, serveOpsFunctions, type OpsFunctions } from '../metrics/ops-fixture.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

const TOKEN = 's3cret-admin-token';

interface DeadLetterItem {
  id: string;
  code: string;
  reason: string;
  target?: string;
  caller?: string;
  typename?: string;
  value?: { value?: unknown; base64: string };
  replayable: boolean;
  replayed: boolean;
}
interface DeadLetterList {
  topic: string;
  total: number;
  byCode: Record<string, number>;
  items: DeadLetterItem[];
}

describe('admin API', () => {
  let fns: OpsFunctions;
  let dev: DevRuntime;
  let admin: string;
  const call = (path: string, opts: Parameters<typeof adminCall>[2] = {}): ReturnType<typeof adminCall> =>
    adminCall(admin, path, { token: TOKEN, ...opts });
  const letters = async (query = ''): Promise<DeadLetterList> =>
    (await call(`/v1/dead-letters${query}`)).body as DeadLetterList;

  beforeAll(async () => {
    fns = await serveOpsFunctions();
    dev = await startDevRuntime({
      module: parseModule(fns.moduleDocs.join('\n---\n'), 'ops-module.yaml'),
      partitions: 3,
      adminPort: 0,
      adminToken: TOKEN,
      logger: silentLogger,
      task: { checkpointIntervalMs: 20 },
    });
    admin = `http://127.0.0.1:${dev.servers.find((s) => s.name === 'admin')!.port}`;
  });

  afterAll(async () => {
    await dev?.stop();
    await fns?.close();
  });

  describe('auth', () => {
    const guarded: [string, string, unknown?][] = [
      ['GET', '/metrics'],
      ['GET', '/v1/overview'],
      ['GET', '/v1/partitions'],
      ['GET', '/v1/state/ops/profile/alice'],
      ['POST', '/v1/messages', { target: 'ops/sink/x', typename: 'ops/Text', value: '"x"' }],
      ['GET', '/v1/dead-letters'],
      ['POST', '/v1/dead-letters/0-0/replay', {}],
    ];

    it.each(guarded)(
      '%s %s answers 401 without the token and with a wrong one',
      async (method, path, body) => {
        const none = await adminCall(admin, path, { method, body });
        expect(none.status).toBe(401);
        expect(none.text).toContain('admin token');
        expect((await adminCall(admin, path, { method, body, token: 'wrong' })).status).toBe(401);
        expect((await adminCall(admin, path, { method, body, token: `${TOKEN}x` })).status).toBe(401);
      },
    );

    it('takes the right token', async () => {
      expect((await call('/metrics')).status).toBe(200);
      expect((await call('/v1/partitions')).status).toBe(200);
    });

    it('leaves the probes and the dashboard page open (they carry no data)', async () => {
      expect((await adminCall(admin, '/healthz')).status).toBe(200);
      expect((await adminCall(admin, '/readyz')).status).toBe(200);
      const page = await adminCall(admin, '/dashboard/');
      expect(page.status).toBe(200);
      expect(page.contentType).toContain('text/html');
      expect((await adminCall(admin, '/dashboard/dashboard.js')).status).toBe(200);
      // ...but not what the page loads.
      expect((await adminCall(admin, '/v1/overview')).status).toBe(401);
    });
  });

  it('state inspection returns what the function wrote and its pending delayed message', async () => {
    await sendText(admin, 'ops/profile/alice', 'Alice', TOKEN);
    await sendText(admin, 'ops/profile/alice', 'Alice L.', TOKEN);
    type StateBody = {
      address: string;
      partition: number;
      owner: string;
      watermark: string | null;
      states: Record<string, { typename: string; value?: unknown; base64: string }>;
      delayed: {
        direction: string;
        target: string;
        cancellationToken?: string;
        dueInMs: number;
        typename: string;
        value?: unknown;
      }[];
    };
    let body: StateBody | undefined;
    await waitUntil(
      async () => {
        const r = await call('/v1/state/ops/profile/alice');
        body = r.body as StateBody;
        return r.status === 200 && body.states.visits?.value === 2;
      },
      { timeoutMs: 10_000, what: 'the profile to have two visits' },
    );
    expect(body!.address).toBe('ops/profile/alice');
    expect(body!.owner).toMatch(/\/\d+$/);
    expect(body!.states.visits).toMatchObject({ typename: 'io.statefun.types/int', value: 2 });
    expect(body!.states.last).toMatchObject({ typename: 'ops/Profile', value: { name: 'Alice L.' } });
    expect(body!.delayed).toHaveLength(1);
    expect(body!.delayed[0]).toMatchObject({
      kind: 'processing-time',
      direction: 'self',
      target: 'ops/profile/alice',
      cancellationToken: 'reminder-alice',
      typename: 'ops/Text',
      value: 'reminder',
    });
    expect(body!.delayed[0]!.dueInMs).toBeGreaterThan(3_500_000);
    // No ingress announces event time in this module: the partition has no watermark.
    expect(body!.watermark).toBeNull();
    // An address nobody wrote has empty state and nothing pending.
    const empty = await call('/v1/state/ops/profile/nobody');
    expect(empty.body).toMatchObject({ states: {}, delayed: [] });
    expect((await call('/v1/state/not-an-address')).status).toBe(400);
  });

  it('lists the partitions of this process with their owner', async () => {
    const r = await call('/v1/partitions');
    const body = r.body as {
      instance: string;
      totalPartitions: number;
      partitions: { partition: number; owner: string; status: string; lag: number }[];
    };
    expect(body.totalPartitions).toBe(3);
    expect(body.partitions.map((p) => p.partition)).toEqual([0, 1, 2]);
    for (const p of body.partitions) expect(p).toMatchObject({ owner: body.instance, status: 'running' });
  });

  it('shows the cluster: in dev mode this one process, owning every partition', async () => {
    const body = (await call('/v1/cluster')).body as {
      totalPartitions: number;
      members: {
        instance: string;
        ready: boolean;
        partitions: { partition: number }[];
        reportAgeMs: number;
      }[];
      unowned: number[];
      contested: number[];
    };
    const self = ((await call('/v1/partitions')).body as { instance: string }).instance;
    expect(body).toMatchObject({ totalPartitions: 3, unowned: [], contested: [] });
    expect(body.members).toHaveLength(1);
    expect(body.members[0]).toMatchObject({ instance: self, ready: true });
    expect(body.members[0]!.partitions.map((p) => p.partition)).toEqual([0, 1, 2]);
    expect((await adminCall(admin, '/v1/cluster')).status).toBe(401);
  });

  it('rejects a malformed message with what is wrong', async () => {
    const r = await call('/v1/messages', { body: { target: 'ops/sink/x' } });
    expect(r.status).toBe(400);
    expect(r.text).toContain('typename');
    expect((await call('/v1/messages', { body: { target: 'no-slashes', typename: 'a/b' } })).status).toBe(
      400,
    );
  });

  it.each([
    ['not base64 at all!', 'at position 3'],
    ['abc', 'groups of 4'],
    ['CAE', 'groups of 4'],
    ['CA=E', 'groups of 4'],
  ])('rejects valueBase64 %j with 400 and sends nothing', async (valueBase64, says) => {
    const r = await call('/v1/messages', {
      body: { target: 'ops/sink/b64', typename: 'ops/Text', valueBase64 },
    });
    expect(r.status).toBe(400);
    expect(r.text).toContain('valueBase64 is not base64');
    expect(r.text).toContain(says);
  });

  it('rejects a message with both value and valueBase64', async () => {
    const r = await call('/v1/messages', {
      body: { target: 'ops/sink/b64', typename: 'ops/Text', value: '"x"', valueBase64: 'Ing=' },
    });
    expect(r.status).toBe(400);
    expect(r.text).toContain('not both');
  });

  it('takes valid base64 and delivers its bytes', async () => {
    const r = await call('/v1/messages', {
      body: {
        target: 'ops/sink/b64',
        typename: 'ops/Text',
        valueBase64: Buffer.from('"from base64"').toString('base64'),
      },
    });
    expect(r.status).toBe(200);
    await waitUntil(() => fns.sunk.includes('from base64'), {
      timeoutMs: 10_000,
      what: 'the base64 message at the sink',
    });
  });

  it('answers a second replay of a letter with 409 and the time of the first, unless force=true', async () => {
    await sendText(admin, 'nobody/home/twice', 'replayed twice', TOKEN);
    let letter: DeadLetterItem | undefined;
    await waitUntil(
      async () => {
        letter = (await letters('?code=FUNCTION_UNKNOWN')).items.find(
          (l) => l.target === 'nobody/home/twice',
        );
        return letter !== undefined;
      },
      { timeoutMs: 10_000, what: 'the dead letter to replay twice' },
    );
    const path = `/v1/dead-letters/${letter!.id}/replay`;
    const first = await call(path, { body: { target: 'ops/sink/twice' } });
    expect(first.status).toBe(200);
    const { replayedAt } = first.body as { replayedAt: string };
    expect(Date.parse(replayedAt)).toBeGreaterThan(Date.now() - 60_000);

    const second = await call(path, { body: { target: 'ops/sink/twice' } });
    expect(second.status).toBe(409);
    expect(second.body).toMatchObject({
      code: 'DEAD_LETTER_ALREADY_REPLAYED',
      replayedAt,
      replayedTo: 'ops/sink/twice',
    });
    expect((second.body as { error: string }).error).toContain(`already replayed at ${replayedAt}`);
    expect((second.body as { error: string }).error).toContain('?force=true');
    expect((await call(`${path}?force=maybe`, { method: 'POST' })).status).toBe(400);
    const listed = (await letters('?code=FUNCTION_UNKNOWN')).items.find((l) => l.id === letter!.id);
    expect(listed).toMatchObject({ replayed: true, replayedAt });

    const forced = await call(`${path}?force=true`, { body: { target: 'ops/sink/twice' } });
    expect(forced.status).toBe(200);
    expect(forced.body).toMatchObject({ previous: { at: replayedAt } });
    await waitUntil(() => fns.sunk.filter((v) => v === 'replayed twice').length === 2, {
      timeoutMs: 10_000,
      what: 'the first and the forced replay at the sink',
    });
  });

  it('lists a dead letter with its code and reason, and replays it to its target once the endpoint works', async () => {
    fns.flakyBroken.on = true;
    await sendText(admin, 'ops/flaky/order-17', 'order 17', TOKEN);
    let letter: DeadLetterItem | undefined;
    await waitUntil(
      async () => {
        letter = (await letters()).items.find((l) => l.target === 'ops/flaky/order-17');
        return letter !== undefined;
      },
      { timeoutMs: 10_000, what: 'the dead letter of order 17' },
    );
    expect(letter).toMatchObject({
      code: 'FUNCTION_CALL_FAILED',
      typename: 'ops/Text',
      value: { value: 'order 17' },
      replayable: true,
      replayed: false,
    });
    expect(letter!.reason).toContain('HTTP 500');
    expect(letter!.reason).toContain('flaky is down');
    const listed = await letters('?code=FUNCTION_CALL_FAILED&limit=5');
    expect(listed.byCode.FUNCTION_CALL_FAILED).toBeGreaterThanOrEqual(1);
    expect(listed.items.every((l) => l.code === 'FUNCTION_CALL_FAILED')).toBe(true);

    fns.flakyBroken.on = false;
    const replay = await call(`/v1/dead-letters/${letter!.id}/replay`, { method: 'POST' });
    expect(replay.status).toBe(200);
    expect(replay.body).toMatchObject({ replayed: true, target: 'ops/flaky/order-17', typename: 'ops/Text' });
    await waitUntil(() => fns.flakyReceived.includes('order 17'), {
      timeoutMs: 10_000,
      what: 'the replayed message to arrive',
    });
    const after = (await letters()).items.find((l) => l.id === letter!.id);
    expect(after?.replayed).toBe(true);
  });

  it('replays a letter to another address when asked', async () => {
    await sendText(admin, 'nobody/home/n1', 'misrouted', TOKEN);
    let letter: DeadLetterItem | undefined;
    await waitUntil(
      async () => {
        letter = (await letters('?code=FUNCTION_UNKNOWN')).items.find((l) => l.target === 'nobody/home/n1');
        return letter !== undefined;
      },
      { timeoutMs: 10_000, what: 'the dead letter of the unknown function' },
    );
    expect(letter!.reason).toContain('nobody/home');
    const r = await call(`/v1/dead-letters/${letter!.id}/replay`, { body: { target: 'ops/sink/rerouted' } });
    expect(r.status).toBe(200);
    await waitUntil(() => fns.sunk.includes('misrouted'), {
      timeoutMs: 10_000,
      what: 'the rerouted message at the sink',
    });
  });

  it('refuses to replay a letter without a target, and ids that name no letter', async () => {
    await sendText(admin, 'ops/lost/l1', 'anything', TOKEN);
    let letter: DeadLetterItem | undefined;
    await waitUntil(
      async () => {
        letter = (await letters('?code=EGRESS_UNKNOWN')).items[0];
        return letter !== undefined;
      },
      { timeoutMs: 10_000, what: 'the dead letter of the undeclared egress' },
    );
    expect(letter).toMatchObject({ caller: 'ops/lost/l1', replayable: false });
    expect(letter!.reason).toContain('ops/nowhere');
    const refused = await call(`/v1/dead-letters/${letter!.id}/replay`, { method: 'POST' });
    expect(refused.status).toBe(409);
    expect(refused.text).toContain('names no target');
    expect((await call('/v1/dead-letters/0-999999/replay', { method: 'POST' })).status).toBe(404);
    expect((await call('/v1/dead-letters/abc/replay', { method: 'POST' })).status).toBe(400);
    expect((await call('/v1/dead-letters?limit=0')).status).toBe(400);
  });

  it('refuses a filter code that is not a dead-letter code, naming it and the known codes', async () => {
    const typo = await call('/v1/dead-letters?code=FUNCTION_CAL_FAILED');
    expect(typo.status).toBe(400);
    const { error } = typo.body as { error: string };
    expect(error).toContain('code: "FUNCTION_CAL_FAILED" is not a dead-letter code');
    expect(error).toContain('FUNCTION_CALL_FAILED, ');
    expect((await call('/v1/dead-letters?code=')).status).toBe(400);
    expect((await call('/v1/dead-letters?code=REPLY_DUPLICATE')).status).toBe(200);
  });
});
