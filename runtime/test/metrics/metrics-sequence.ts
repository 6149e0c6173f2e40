// A fixed sequence of everything that feeds RuntimeMetrics (batches and their outcomes, state
// lookups, dead letters, checkpoints, sends, function-client callbacks, ingress counts, scrape-time
// gauges), driven through combineObservers as the runtime assembles them. The exposition it leads
// to was recorded in fixtures/metrics-sequence.prom; any change to how updates are recorded must
// leave it byte for byte the same.
import type { FromFunction } from '@continuum/sdk/protocol';
import type { ContinuumError } from '../../src/errors.js';
import type { RuntimeMetrics } from '../../src/metrics/runtime-metrics.js';
import type { combineObservers as combine } from '../../src/metrics/combine-observers.js';
import type { OutRecord } from '../../src/log/log.js';
import { FunctionAttemptError, FunctionCallError } from '../../src/transport/function-client.js';

export interface SequenceModules {
  RuntimeMetrics: new (...args: ConstructorParameters<typeof RuntimeMetrics>) => RuntimeMetrics;
  combineObservers: typeof combine;
  /** The error class the metrics module checks batches' errors against (`instanceof`). */
  ContinuumError: typeof ContinuumError;
}

const INTERNAL = 'continuum-internal';
const DEAD = 'continuum-dead-letters';

/** Deterministic pseudo-random numbers (a linear congruential generator), the same on every run. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

function response(rnd: () => number, size: number, incomplete: boolean): FromFunction {
  if (incomplete) return { incompleteInvocationContext: { missingValues: [] } };
  const n = (k: number): number => Math.floor(rnd() * k);
  const outgoingMessages = Array.from({ length: n(3) }, () => ({}));
  const delayedInvocations = Array.from({ length: n(3) }, (_, i) => ({ isCancellationRequest: i === 1 }));
  const outgoingEgresses = Array.from({ length: n(size + 1) }, () => ({}));
  const stateMutations = Array.from({ length: n(2) }, () => ({}));
  return {
    invocationResult: { outgoingMessages, delayedInvocations, outgoingEgresses, stateMutations },
  } as unknown as FromFunction;
}

/**
 * Feeds `modules`' RuntimeMetrics the sequence and returns its `/metrics` text, scraped twice on
 * the way (the second scrape must show what came after the first).
 */
export async function exposeSequence(modules: SequenceModules): Promise<string[]> {
  const rnd = lcg(13);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const metrics = new modules.RuntimeMetrics({
    internalTopic: INTERNAL,
    deadLetterTopic: DEAD,
    processMetrics: false,
    // Small, so the sequence also passes the label-value cap (`_other`).
    maxLabelValues: 5,
  });
  const ingress = { moved: 0, deadLetters: 0, handedOver: 0, handOverRestarts: 0 };
  const fakeTask = (partition: number) => ({
    partition,
    isRunning: true,
    committedOffset: 10 * partition,
    // No watermark: its lag gauge reads the clock.
    watermark: undefined,
    backlog: {
      outstanding: partition,
      inFlight: 1,
      paused: partition === 1,
      timers: 2,
      eventTimers: 3,
      addresses: 4,
    },
    stats: { checkpoints: 1, lastCheckpointMs: 2, deadLetters: 0 },
  });
  metrics.attach({
    tasks: () => [fakeTask(0), fakeTask(1)] as never,
    recovering: () => [2],
    ready: () => false,
    clientLoad: () => ({ inFlight: 3, queued: 1 }),
    endOffsets: (ps) => Promise.resolve(new Map(ps.map((p) => [p, 100 + p]))),
    ingresses: () => [{ id: 'example/clicks', stats: { ...ingress } }],
  });
  metrics.close();
  // The runtime's assembly: metrics first, then an observer with only `committed` (the reply feed).
  const observer = modules.combineObservers(metrics.observer, undefined, { committed: () => undefined });
  const client = metrics.clientCallbacks();

  const types = ['ex/counter', 'ex/greeter', 'ex/a', 'ex/b', 'ex/c', 'ex/d', 'ex/e', 'ex/f'];
  const urls = [
    'http://127.0.0.1:8000/statefun?key=1',
    'http://127.0.0.1:8001/fns',
    'http://127.0.0.1:8002/x#y',
  ];
  const topics = ['out-a', 'out-b', 'out-c', 'out-d', 'out-e', 'out-f', 'out-g'];
  const codes = ['FUNCTION_CALL_FAILED', 'STATE_TOO_LARGE', 'INGRESS_KEY_MISSING', 'X1', 'X2', 'X3', 'X4'];
  const scrapes: string[] = [];

  for (let step = 0; step < 600; step++) {
    const fn = step < 300 ? pick(types.slice(0, 3)) : pick(types);
    const [namespace, type] = fn.split('/') as [string, string];
    const address = { namespace, type, id: `k${step % 7}` };
    const size = 1 + Math.floor(rnd() * 12);
    for (let i = 0; i < size; i++) observer.stateLookup?.(step % 4, rnd() < 0.8);
    const round = rnd() < 0.1 ? 1 : 0;
    const observation = observer.batchStarted?.({
      partition: step % 4,
      functionType: fn,
      address,
      size,
      round,
      headers: [],
    });
    const latencyMs = rnd() * 40_000 * (rnd() < 0.9 ? 0.001 : 1);
    const url = pick(urls);
    const outcome = rnd();
    if (outcome < 0.05) {
      observation?.ended?.({
        latencyMs,
        response: undefined,
        error: new modules.ContinuumError('FUNCTION_OVERLOADED' as never, 'no slot', { retryable: true }),
      });
    } else if (outcome < 0.12) {
      const code = pick(codes);
      const error = rnd() < 0.5 ? new modules.ContinuumError(code as never, 'failed') : new Error('plain');
      observation?.ended?.({ latencyMs, response: undefined, error });
      observer.deadLettered?.(step % 4, code);
      const failure = new FunctionAttemptError(
        pick(['status', 'connection', 'timeout'] as const),
        'HTTP 500',
        {
          status: 500,
          retryable: true,
        },
      );
      client.onAttempt({
        address,
        url,
        attempt: 1,
        durationMs: 3,
        status: 500,
        failure,
        willRetry: rnd() < 0.5,
        backoffMs: 10,
      });
      client.onCall({
        address,
        url,
        attempts: 2,
        queuedMs: 0,
        durationMs: 5,
        error: new FunctionCallError('FUNCTION_CALL_FAILED', 'gave up', {
          address,
          url,
          attempts: 2,
          elapsedMs: 5,
          lastFailure: failure,
          retryable: false,
        }),
      });
    } else {
      observation?.ended?.({ latencyMs, response: response(rnd, size, rnd() < 0.05), error: undefined });
      client.onAttempt({
        address,
        url,
        attempt: 1,
        durationMs: 3,
        status: 200,
        failure: undefined,
        willRetry: false,
        backoffMs: 0,
      });
      client.onCall({ address, url, attempts: 1, queuedMs: 0, durationMs: 3, error: undefined });
    }

    if (step % 9 === 0) {
      const records: OutRecord[] = [];
      const n = Math.floor(rnd() * 30);
      for (let i = 0; i < n; i++) {
        const r = rnd();
        // Runs of one topic, interleaved topics, internal messages, dead letters and the marker.
        const topic =
          r < 0.2 ? INTERNAL : r < 0.3 ? DEAD : step < 300 ? pick(topics.slice(0, 2)) : pick(topics);
        const repeat = 1 + Math.floor(rnd() * 4);
        for (let j = 0; j < repeat; j++)
          records.push({ topic, key: `k${i}`, value: text(`v${i}-${j}`), headers: {} });
      }
      records.push({ topic: INTERNAL, key: null, value: text('marker'), headers: {} });
      const checkpoint = { partition: step % 4, durationMs: rnd() * 3000, records, changes: records.length };
      observer.committed?.(checkpoint);
      observer.checkpointed?.(checkpoint);
    }
    if (step % 25 === 0) {
      const messages = Array.from({ length: 1 + (step % 3) }, () => ({
        target: address,
        argument: { typename: 't/t', hasValue: true, value: text('x') },
      }));
      const sent = observer.sending?.(pick(['admin', 'playground', 'replay']), messages);
      sent?.ended?.(step % 50 === 0 ? new Error('append failed') : undefined);
    }
    if (step % 40 === 0) {
      ingress.moved += 17;
      ingress.deadLetters += step % 80 === 0 ? 1 : 0;
      ingress.handedOver += 5;
      ingress.handOverRestarts += step % 120 === 0 ? 1 : 0;
    }
    if (step === 299) scrapes.push(await metrics.text());
  }
  scrapes.push(await metrics.text());
  return scrapes;
}
