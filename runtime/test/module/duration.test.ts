// Durations follow Flink's TimeUtils syntax: a whole number, an optional unit, bare numbers in ms.

import { describe, expect, test } from 'vitest';
import { ContinuumError } from '../../src/errors.js';
import { formatDuration, parseDuration, tryParseDuration } from '../../src/module/index.js';

describe('parseDuration reads Flink duration syntax into milliseconds', () => {
  test.each<[string | number, number]>([
    ['0', 0],
    ['250', 250],
    [250, 250],
    [0, 0],
    ['500ms', 500],
    ['500 ms', 500],
    ['500 millis', 500],
    ['1 millisecond', 1],
    ['10s', 10_000],
    ['10 s', 10_000],
    ['1sec', 1_000],
    ['5 secs', 5_000],
    ['10second', 10_000],
    ['30seconds', 30_000],
    ['2m', 120_000],
    ['2 min', 120_000],
    ['15min', 900_000],
    ['3 mins', 180_000],
    ['1minute', 60_000],
    ['1minutes', 60_000],
    ['1h', 3_600_000],
    ['2 hours', 7_200_000],
    ['1 hour', 3_600_000],
    ['1d', 86_400_000],
    ['2 days', 172_800_000],
    ['1500us', 1.5],
    ['1µs', 0.001],
    ['3 micros', 0.003],
    ['2000000ns', 2],
    ['5 nanos', 0.000005],
    ['  10S  ', 10_000],
    ['2 MIN', 120_000],
  ])('%j is %d ms', (input, ms) => {
    expect(parseDuration(input)).toBeCloseTo(ms, 9);
  });

  test.each<[string | number, string]>([
    ['', 'empty'],
    ['   ', 'empty'],
    ['-1s', 'does not start with a whole, non-negative number'],
    ['1.5s', '".5s" in "1.5s" is not a known time unit'],
    ['10 parsecs', '"parsecs"'],
    ['abc', 'does not start with a whole'],
    ['1 m in', '"m in"'],
    ['2 minutes and a half', 'not a known time unit'],
    [-5, 'not a whole, non-negative number'],
    [1.5, 'not a whole, non-negative number'],
    [Number.NaN, 'not a whole, non-negative number'],
    ['99999999999999999999d', 'too large'],
  ])('%j is rejected (%s)', (input, reason) => {
    const result = tryParseDuration(input);
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.reason).toContain(reason);
    expect(() => parseDuration(input)).toThrow(ContinuumError);
    expect(() => parseDuration(input)).toThrow(/expected a duration/u);
  });

  test('a rejected duration carries the stable code INVALID_DURATION', () => {
    let caught: unknown;
    try {
      parseDuration('soon');
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'INVALID_DURATION', retryable: false });
  });

  test('formatDuration renders whole units compactly for messages', () => {
    expect(formatDuration(120_000)).toBe('2min');
    expect(formatDuration(10_000)).toBe('10s');
    expect(formatDuration(1_500)).toBe('1500ms');
    expect(formatDuration(86_400_000)).toBe('1d');
  });
});
