// Durations in module.yaml, written in Flink `TimeUtils` syntax (`10s`, `2 min`, `15min`, bare
// number = milliseconds), resolved to milliseconds exactly as StateFun reads them.

import { ContinuumError } from '../errors.js';

const NS_PER_MS = 1_000_000;

// Flink's labels (singular and plural forms, case-insensitive), plus `us`/`mins`, which people write
// by analogy and which carry no ambiguity.
const UNIT_LABELS: ReadonlyArray<readonly [labels: readonly string[], nanos: number]> = [
  [['ns', 'nano', 'nanos', 'nanosecond', 'nanoseconds'], 1],
  [['us', 'µs', 'micro', 'micros', 'microsecond', 'microseconds'], 1_000],
  [['ms', 'milli', 'millis', 'millisecond', 'milliseconds'], NS_PER_MS],
  [['s', 'sec', 'secs', 'second', 'seconds'], 1_000 * NS_PER_MS],
  [['m', 'min', 'mins', 'minute', 'minutes'], 60_000 * NS_PER_MS],
  [['h', 'hour', 'hours'], 3_600_000 * NS_PER_MS],
  [['d', 'day', 'days'], 86_400_000 * NS_PER_MS],
];

const NANOS_BY_LABEL: ReadonlyMap<string, number> = new Map(
  UNIT_LABELS.flatMap(([labels, nanos]) => labels.map((label) => [label, nanos] as const)),
);

/** How a duration is written, for error messages. */
export const DURATION_FORMAT =
  'a whole number with an optional unit (ns, us, ms, s/sec, m/min, h, d), e.g. 500ms, 10s, 2 min; a bare number means milliseconds';

/** Human-readable summary of the accepted syntax, for error messages. */
export const DURATION_SYNTAX = `a duration: ${DURATION_FORMAT}`;

/** Outcome of {@link tryParseDuration}: milliseconds, or why the input is not a duration. */
export type DurationResult = { ok: true; ms: number } | { ok: false; reason: string };

/**
 * Parses a duration without throwing.
 *
 * @example tryParseDuration('2 min') // { ok: true, ms: 120000 }
 */
export function tryParseDuration(input: string | number): DurationResult {
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input) || input < 0) {
      return { ok: false, reason: `${String(input)} is not a whole, non-negative number of milliseconds` };
    }
    return { ok: true, ms: input };
  }
  const text = input.trim().toLowerCase();
  if (text === '') return { ok: false, reason: 'the text is empty' };
  const match = /^(\d+)(.*)$/su.exec(text);
  if (match === null) {
    return { ok: false, reason: `"${shorten(input)}" does not start with a whole, non-negative number` };
  }
  const [, digits = '', rest = ''] = match;
  const unit = rest.trim();
  const nanosPerUnit = unit === '' ? NS_PER_MS : NANOS_BY_LABEL.get(unit);
  if (nanosPerUnit === undefined) {
    return { ok: false, reason: `"${shorten(unit)}" in "${shorten(input)}" is not a known time unit` };
  }
  const amount = Number(digits);
  const ms = (amount * nanosPerUnit) / NS_PER_MS;
  if (!Number.isSafeInteger(Math.ceil(ms))) {
    return { ok: false, reason: `"${shorten(input)}" is too large to represent` };
  }
  return { ok: true, ms };
}

/** Input echoed in a reason is cut, so a huge value cannot make a huge message. */
function shorten(text: string): string {
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/**
 * Parses a duration in Flink `TimeUtils` syntax into milliseconds: a whole number, optional
 * whitespace, then an optional unit (`ns`, `us`/`µs`, `ms`, `s`/`sec`/`secs`/`second(s)`,
 * `m`/`min`/`mins`/`minute(s)`, `h`/`hour(s)`, `d`/`day(s)`; case-insensitive). A bare number, or a
 * YAML number, means milliseconds. Sub-millisecond units may yield fractional milliseconds.
 *
 * @throws ContinuumError with code `INVALID_DURATION` when the input is not a duration.
 * @example parseDuration('15min') // 900000
 * @example parseDuration(250) // 250
 */
export function parseDuration(input: string | number): number {
  const result = tryParseDuration(input);
  if (!result.ok) {
    throw new ContinuumError(
      'INVALID_DURATION',
      `Invalid duration: ${result.reason}; expected ${DURATION_SYNTAX}.`,
    );
  }
  return result.ms;
}

/** Renders milliseconds compactly for messages (`120000` → `2min`, `1500` → `1500ms`). */
export function formatDuration(ms: number): string {
  const units: ReadonlyArray<readonly [string, number]> = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['min', 60_000],
    ['s', 1_000],
  ];
  for (const [label, size] of units) {
    if (ms >= size && ms % size === 0) return `${ms / size}${label}`;
  }
  return `${ms}ms`;
}
