import { describe, expect, it } from 'vitest';
import { EndpointHealth } from '../../src/metrics/endpoint-health.js';
import type { Logger } from '../../src/logger.js';
import { FunctionAttemptError } from '../../src/transport/function-client.js';
import type { AttemptEvent } from '../../src/observers.js';

interface Line {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

function capture(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at =
    (level: string) =>
    (msg: string, fields: Record<string, unknown> = {}): void => {
      lines.push({ level, msg, fields });
    };
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  };
  return { logger, lines };
}

const url = 'http://functions:8000/shop';

function attempt(failure: FunctionAttemptError | undefined, n = 1): AttemptEvent {
  return {
    address: { namespace: 'shop', type: 'cart', id: 'c1' },
    url,
    attempt: n,
    durationMs: 3,
    status: failure?.status,
    failure,
    willRetry: failure !== undefined,
    backoffMs: 0,
  };
}

const http500 = (): FunctionAttemptError =>
  new FunctionAttemptError('status', 'HTTP 500 "database is on fire"', { status: 500, retryable: true });

describe('EndpointHealth', () => {
  it('logs the first failure at once, then at most one line per 10 s with the count, and recovers', () => {
    let now = 1_000_000;
    const { logger, lines } = capture();
    const health = new EndpointHealth(logger, { now: () => now });

    for (let i = 1; i <= 50; i++) {
      health.attempted(attempt(http500(), i));
      now += 100; // 5 s of retries
    }
    let warns = lines.filter((l) => l.level === 'warn');
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatchObject({
      msg: 'calls to a function endpoint fail',
      fields: { endpoint: url, function: 'shop/cart', status: 500, failedAttempts: 1 },
    });
    expect(health.problems()).toEqual([
      expect.stringMatching(
        /^calls to http:\/\/functions:8000\/shop fail: 50 failed attempts since .* \(last: HTTP 500: HTTP 500 "database is on fire"\)$/,
      ),
    ]);

    for (let i = 0; i < 60; i++) {
      health.attempted(attempt(http500()));
      now += 100;
    }
    warns = lines.filter((l) => l.level === 'warn');
    expect(warns).toHaveLength(2);
    expect(warns[1]).toMatchObject({
      msg: 'calls to a function endpoint still fail',
      fields: { failedAttempts: 101, sinceLastLine: 100 },
    });

    health.attempted(attempt(undefined));
    expect(health.problems()).toEqual([]);
    expect(lines.at(-1)).toMatchObject({
      level: 'info',
      msg: 'calls to a function endpoint succeed again',
      fields: { endpoint: url, failedAttempts: 110 },
    });

    // A new failure after recovery is news again: logged at once.
    health.attempted(attempt(http500()));
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(3);
    expect(lines.at(-1)?.msg).toBe('calls to a function endpoint fail');
  });

  it('forgets a failure once the window passes without another', () => {
    let now = 0;
    const health = new EndpointHealth(capture().logger, { now: () => now, windowMs: 30_000 });
    health.attempted(attempt(http500()));
    expect(health.failing()).toHaveLength(1);
    now += 30_001;
    expect(health.failing()).toEqual([]);
  });

  it('reports calls waiting behind a bulkhead or unanswered past the stall time, and logs the wait once per interval', () => {
    let now = 0;
    const { logger, lines } = capture();
    const health = new EndpointHealth(logger, { now: () => now, stallMs: 5000 });
    const load = { url, inFlight: 8, queued: 20, maxInFlight: 8, oldestWaitMs: 4000, noAnswerMs: 4000 };
    expect(health.problems([load])).toEqual([]);
    health.queued(load);
    expect(lines).toEqual([]);

    const stalled = { ...load, oldestWaitMs: 6000, noAnswerMs: 6000 };
    expect(health.problems([stalled])).toEqual([
      `calls to ${url} wait behind its bulkhead: 20 queued, 8/8 in flight, the oldest waiting 6.0 s`,
    ]);
    health.queued(stalled);
    health.queued({ ...stalled, oldestWaitMs: 7000 });
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(1);
    now += 10_000;
    health.queued({ ...stalled, oldestWaitMs: 17_000 });
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(2);

    expect(health.problems([{ ...load, queued: 0, oldestWaitMs: 0, noAnswerMs: 12_000 }])).toEqual([
      `calls to ${url} get no answer: 8 in flight, none answered for 12 s`,
    ]);
  });

  it('tracks a bounded number of endpoints', () => {
    const health = new EndpointHealth(capture().logger, { maxEndpoints: 3 });
    for (let i = 0; i < 10; i++) health.attempted({ ...attempt(http500()), url: `http://f/${i}` });
    expect(health.failing().map((f) => f.url)).toEqual(['http://f/7', 'http://f/8', 'http://f/9']);
  });
});
