import { describe, expect, it } from 'vitest';
import { ContinuumError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { startPatiently, unreachable } from '../../src/cli/startup.js';

const refused = (): Error =>
  new ContinuumError('KAFKA_UNAVAILABLE', 'connecting to Kafka at 127.0.0.1:9', {
    cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }),
  });

/** Fake time: sleeping moves the clock; `patiently` starts on it. */
function clock() {
  let t = 0;
  const slept: number[] = [];
  const now = (): number => t;
  const sleep = (ms: number): Promise<void> => {
    slept.push(ms);
    t += ms;
    return Promise.resolve();
  };
  const patiently = <T>(start: () => Promise<T>, timeoutMs: number): Promise<T> =>
    startPatiently(start, { timeoutMs, logger: silentLogger, now, sleep });
  return { slept, patiently };
}

/** A start that always fails with `error()`, counting its calls. */
function failing(error: () => Error): { start: () => Promise<never>; calls: () => number } {
  let calls = 0;
  return {
    start: () => {
      calls++;
      return Promise.reject(error());
    },
    calls: () => calls,
  };
}

describe('start-up while Kafka or Redis cannot be reached', () => {
  it('tells an unreachable dependency from an error retrying would not change', () => {
    expect(unreachable(refused())).toBe(true);
    expect(unreachable(Object.assign(new Error('x'), { name: 'KafkaJSConnectionError' }))).toBe(true);
    expect(unreachable(Object.assign(new Error('no coordinator'), { retriable: true }))).toBe(true);
    expect(unreachable(new ContinuumError('PARTITIONING_MISMATCH', 'recorded id, configured address'))).toBe(
      false,
    );
    expect(unreachable(new Error('module.yaml: document 1, key spec.endpoints: required'))).toBe(false);
    expect(unreachable('text')).toBe(false);
  });

  it('retries with growing waits until the start succeeds', async () => {
    const c = clock();
    let calls = 0;
    const started = await c.patiently(
      () => (++calls < 4 ? Promise.reject(refused()) : Promise.resolve('up')),
      60_000,
    );
    expect(started).toBe('up');
    expect(calls).toBe(4);
    expect(c.slept).toEqual([500, 1000, 2000]);
  });

  it('gives up with the last error once the start-up timeout would pass', async () => {
    const c = clock();
    const start = failing(refused);
    await expect(c.patiently(start.start, 10_000)).rejects.toThrow(/ECONNREFUSED|connecting to Kafka/u);
    expect(c.slept.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(10_000);
    expect(start.calls()).toBe(c.slept.length + 1);
  });

  it('does not retry an error of the configuration, and a timeout of 0 never retries', async () => {
    const c = clock();
    const start = failing(() => new ContinuumError('PARTITIONING_MISMATCH', 'recorded id'));
    await expect(c.patiently(start.start, 60_000)).rejects.toThrow(/recorded id/u);
    expect(start.calls()).toBe(1);
    await expect(c.patiently(failing(refused).start, 0)).rejects.toThrow(/connecting to Kafka/u);
    expect(c.slept).toEqual([]);
  });
});
