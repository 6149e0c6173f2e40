// The structured logger: JSON lines with levels and bindings, readable lines, and no secrets.
import { describe, expect, it } from 'vitest';
import { ContinuumError } from '../src/errors.js';
import { createLogger, silentLogger } from '../src/logger.js';

function capture(opts: Parameters<typeof createLogger>[0]): {
  lines: string[];
  log: ReturnType<typeof createLogger>;
} {
  const lines: string[] = [];
  return { lines, log: createLogger({ ...opts, write: (l) => lines.push(l) }) };
}

describe('logger', () => {
  it('writes one JSON object per line with time, level, message, bindings and fields', () => {
    const { lines, log } = capture({ format: 'json', level: 'debug' });
    log.child({ partition: 3 }).warn('checkpoint slow', { durationMs: 812 });
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]!);
    expect(entry).toMatchObject({ level: 'warn', msg: 'checkpoint slow', partition: 3, durationMs: 812 });
    expect(new Date(entry.time as string).getTime()).toBeGreaterThan(Date.now() - 60_000);
  });

  it('drops lines below the configured level', () => {
    const { lines, log } = capture({ format: 'json', level: 'warn' });
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect(lines.map((l) => (JSON.parse(l) as { level: string }).level)).toEqual(['warn', 'error']);
  });

  it('never writes values of secret-looking fields, at the top level or one level down', () => {
    const { lines, log } = capture({ format: 'json' });
    log.info('connecting', {
      token: 'tok-123',
      kafka: { brokers: 'b:9092', password: 'hunter2', sasl: 'scram' },
      authorization: 'Bearer tok-123',
    });
    const text = lines.join('\n');
    expect(text).not.toContain('tok-123');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('scram');
    expect(JSON.parse(lines[0]!).kafka.brokers).toBe('b:9092');
  });

  it('strips credentials from URLs in string fields', () => {
    const { lines, log } = capture({ format: 'json' });
    log.warn('redis unreachable', {
      url: 'redis://:hunter2@redis:6379/0',
      kafka: 'b1:9092',
      who: 'me@example.com',
    });
    const entry = JSON.parse(lines[0]!);
    expect(entry.url).toBe('redis://[redacted]@redis:6379/0');
    expect(entry.who).toBe('me@example.com');
    expect(lines[0]).not.toContain('hunter2');
  });

  it('strips credentials from messages, nested fields, bindings, errors and broker addresses', () => {
    const { lines, log } = capture({ format: 'json' });
    log
      .child({ redis: 'rediss://app:s3cret@r:6380' })
      .warn('cannot reach bob:hunter2@kafka-0:9092 or redis://pw0rd@r:6379', {
        config: { brokers: ['alice:opensesame@k1:9092', 'k2:9092'] },
        err: new Error('connect ECONNREFUSED bob:hunter2@kafka-0:9092'),
      });
    const text = lines.join('\n');
    for (const secret of ['s3cret', 'hunter2', 'pw0rd', 'opensesame']) expect(text).not.toContain(secret);
    const entry = JSON.parse(lines[0]!);
    expect(entry.msg).toBe('cannot reach [redacted]@kafka-0:9092 or redis://[redacted]@r:6379');
    expect(entry.redis).toBe('rediss://[redacted]@r:6380');
    expect(entry.config.brokers).toEqual(['[redacted]@k1:9092', 'k2:9092']);
    expect(entry.err.message).toBe('connect ECONNREFUSED [redacted]@kafka-0:9092');
  });

  it('serialises errors with their code and cause', () => {
    const { lines, log } = capture({ format: 'json' });
    const err = new ContinuumError('STATE_STORE_UNAVAILABLE', 'redis is unreachable', {
      cause: new Error('ECONNREFUSED'),
    });
    log.error('partition task failed', { err });
    const entry = JSON.parse(lines[0]!);
    expect(entry.err).toMatchObject({
      name: 'ContinuumError',
      code: 'STATE_STORE_UNAVAILABLE',
      message: 'redis is unreachable',
      cause: { message: 'ECONNREFUSED' },
    });
  });

  it('writes readable lines in the pretty format', () => {
    const { lines, log } = capture({ format: 'pretty' });
    log.child({ partition: 1 }).info('partition recovered', { offset: 42, staged: 'none' });
    expect(lines[0]).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} INFO {2}partition recovered {2}partition=1 offset=42 staged=none$/,
    );
  });

  it('the silent level writes nothing, not even errors of children', () => {
    const { lines, log } = capture({ format: 'json', level: 'silent' });
    log.child({ a: 1 }).error('x');
    silentLogger.error('y');
    expect(lines).toEqual([]);
  });
});
