// Backpressure through the dev runtime: with maxNumBatchRequests 5 and a slow function, the
// partition task pauses its input and holds a bounded number of records while 2,000 wait in the
// log, no mailbox ever holds more than 5, and every message is still delivered, in order, in
// batches of at most 5.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Address } from '@continuum/sdk/protocol';
import {
  decodeInt,
  decodeToFunction,
  encodeFromFunction,
  encodeInt,
  PrimitiveTypeName,
} from '@continuum/sdk/protocol';
import { startDevRuntime, type DevRuntime } from '../../src/dev-runtime.js';
import { silentLogger } from '../../src/logger.js';
import { parseModule } from '../../src/module/index.js';
import { endpointDoc, serveOnLoopback, type LoopbackServer } from './support.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

const MAX_BATCH = 5;
const KEYS = 4;
const PER_KEY = 500;
const TOTAL = KEYS * PER_KEY;
const FUNCTION_DELAY_MS = 10;
/**
 * What the task may hold at once: one delivery from the embedded log (up to 500 records, handed
 * over before the task can pause) plus, per address, a full mailbox and a batch in flight.
 */
const OUTSTANDING_BOUND = 500 + KEYS * 2 * MAX_BATCH;

describe('backpressure on the dev runtime', () => {
  const received = new Map<string, number[]>();
  const batchSizes: number[] = [];
  let fn: LoopbackServer;
  let dev: DevRuntime;

  beforeAll(async () => {
    // Written against the wire protocol to see each batch as it arrives.
    fn = await serveOnLoopback((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.once('end', () => {
        const invocation = decodeToFunction(Buffer.concat(chunks)).invocation!;
        batchSizes.push(invocation.invocations.length);
        const seen = received.get(invocation.target.id) ?? [];
        for (const i of invocation.invocations) seen.push(decodeInt(i.argument.value));
        received.set(invocation.target.id, seen);
        const body = encodeFromFunction({
          invocationResult: {
            stateMutations: [],
            outgoingMessages: [],
            delayedInvocations: [],
            outgoingEgresses: [],
          },
        });
        setTimeout(
          () => res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body),
          FUNCTION_DELAY_MS,
        );
      });
    });
    const text = endpointDoc('bp/slow', fn.port, `maxNumBatchRequests: ${MAX_BATCH}`);
    dev = await startDevRuntime({
      module: parseModule(text, 'backpressure-module.yaml'),
      partitions: 1,
      logger: silentLogger,
      task: { checkpointIntervalMs: 20 },
    });
  });

  afterAll(async () => {
    await dev?.stop();
    await fn?.close();
  });

  it('pauses input with 2,000 messages queued, keeps the backlog bounded, then delivers all in order', async () => {
    const task = dev.runtime.task(0)!;
    const target = (k: number): Address => ({ namespace: 'bp', type: 'slow', id: `k${k}` });
    // Interleaved over the keys, appended in chunks as an ingress would.
    for (let start = 0; start < TOTAL; start += 200) {
      const chunk = [];
      for (let i = start; i < start + 200; i++) {
        chunk.push({
          target: target(i % KEYS),
          argument: {
            typename: PrimitiveTypeName.int,
            hasValue: true,
            value: encodeInt(Math.floor(i / KEYS)),
          },
        });
      }
      await dev.runtime.send(chunk);
    }
    const appended = dev.log.endOffset(dev.log.internalTopic, 0);
    expect(appended).toBe(TOTAL);

    let maxOutstanding = 0;
    let largestMailbox = 0;
    let maxHeld = 0;
    let pausedWhileQueued = 0;
    const delivered = (): number => [...received.values()].reduce((n, s) => n + s.length, 0);
    await waitUntil(
      () => {
        const b = task.backlog;
        maxOutstanding = Math.max(maxOutstanding, b.outstanding);
        largestMailbox = Math.max(largestMailbox, task.largestMailbox());
        maxHeld = Math.max(maxHeld, b.held);
        // Paused while most of the 2,000 are still waiting in the log.
        if (b.paused && TOTAL - delivered() > OUTSTANDING_BOUND) pausedWhileQueued++;
        return delivered() >= TOTAL;
      },
      { timeoutMs: 60_000, what: 'every message to reach the function', intervalMs: 2 },
    );

    expect(pausedWhileQueued).toBeGreaterThan(0);
    expect(maxOutstanding).toBeGreaterThan(MAX_BATCH);
    expect(maxOutstanding).toBeLessThanOrEqual(OUTSTANDING_BOUND);
    // A delivery of many records for one address waits outside its mailbox, which never passes
    // maxNumBatchRequests.
    expect(largestMailbox).toBe(MAX_BATCH);
    expect(maxHeld).toBeGreaterThan(0);
    expect(maxHeld).toBeLessThanOrEqual(500);
    for (let k = 0; k < KEYS; k++) {
      expect(received.get(`k${k}`), `messages of k${k}`).toEqual(
        Array.from({ length: PER_KEY }, (_, i) => i),
      );
    }
    expect(Math.max(...batchSizes)).toBeLessThanOrEqual(MAX_BATCH);
    // The backlog went out as batches, not one call per message.
    expect(batchSizes.length).toBeLessThan(TOTAL / 2);
    await waitUntil(() => !task.backlog.paused && task.backlog.outstanding === 0, {
      timeoutMs: 10_000,
      what: 'the task to drain and resume',
    });
    expect(task.stats.deadLetters).toBe(0);
  });
});
