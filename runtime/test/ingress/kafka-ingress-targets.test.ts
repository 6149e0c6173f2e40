// An ingress record routed to several targets reaches every one of them exactly once, also when
// the targets share an internal partition and when the ingress moves the record twice.
import { afterEach, describe, expect, it } from 'vitest';
import { encodeString } from '@continuum/sdk/protocol';
import { routeIngressRecord } from '../../src/core/ingress-routing.js';
import { EmbeddedLog } from '../../src/log/embedded-log.js';
import type { LogRecord } from '../../src/log/log.js';
import { Runtime } from '../../src/runtime.js';
import { EmbeddedStateStore } from '../../src/state/embedded-state-store.js';
import { emptyResult, InProcessClient, routers, type Handler } from '../core/harness.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

const running: Runtime[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
});

describe('ingress routing to several targets', () => {
  it('every target of a record is invoked once, in one internal partition, though the record was moved twice', async () => {
    const calls: string[] = [];
    const record: Handler = (req) => {
      const inv = req.invocation!;
      for (const _ of inv.invocations) calls.push(`${inv.target.type}/${inv.target.id}`);
      return emptyResult();
    };
    // One internal partition: both targets of every record share it.
    const log = await EmbeddedLog.open({ partitions: 1 });
    const runtime = new Runtime({
      log,
      store: new EmbeddedStateStore({}),
      client: new InProcessClient({ 'ex/a': record, 'ex/b': record }),
      ...routers(),
      task: { checkpointIntervalMs: 20 },
    });
    running.push(runtime);
    await runtime.start();
    const route = { topic: 'clicks', valueType: 'io.statefun.types/string', targets: ['ex/a', 'ex/b'] };
    const opts = {
      internalTopic: log.internalTopic,
      partitions: 1,
      partitioning: 'address' as const,
      deadLetterTopic: 'dlq',
      ingressId: 'ex/in',
    };
    const input = (offset: number): LogRecord => ({
      topic: 'clicks',
      partition: 0,
      offset,
      key: 'k',
      value: encodeString(`e${offset}`),
      headers: {},
      timestamp: 1_000 + offset,
    });
    const move = (offsets: number[]) =>
      log.append(offsets.flatMap((o) => routeIngressRecord(input(o), route, opts, 0).records));
    await move([0, 1, 2]);
    await move([1, 2, 3]); // a new ingress owner started a little before the committed offset
    await waitUntil(() => calls.length >= 8, { timeoutMs: 5_000, what: 'every target of every record' });
    await runtime.flush();
    expect(calls.filter((c) => c === 'a/k')).toHaveLength(4);
    expect(calls.filter((c) => c === 'b/k')).toHaveLength(4);
  });
});
