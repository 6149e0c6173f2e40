// Structured logging on pino: JSON lines for machines, readable lines for people, with levels,
// child bindings and redaction of anything that looks like a secret (tokens, passwords, keys).

import { Writable } from 'node:stream';
import { pino, stdSerializers, type Logger as PinoLogger } from 'pino';
import { redactDeep, redactText } from './redact.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** The logging interface every part of the runtime writes through. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger that adds `fields` to every line (e.g. `{ partition: 3 }`). */
  child(fields: Record<string, unknown>): Logger;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Lines below this level are dropped. @defaultValue 'info' */
  level?: LogLevel | undefined;
  /**
   * `json`: one JSON object per line (`time`, `level`, `msg`, fields) for log shippers;
   * `pretty`: `HH:MM:SS.mmm LEVEL message  key=value` for a terminal.
   * @defaultValue 'pretty'
   */
  format?: 'pretty' | 'json' | undefined;
  /** Where lines go (without their newline). @defaultValue stderr */
  write?: ((line: string) => void) | undefined;
}

/**
 * Field names whose values never reach a log line, at the top level and one level down. Callers
 * pass ids and counts, not configuration; this is the net under that rule.
 */
const secretKeys = [
  'password',
  'passwd',
  'secret',
  'token',
  'adminToken',
  'authorization',
  'apiKey',
  'api_key',
  'sasl',
  'credentials',
  'privateKey',
  'redisPassword',
];
const redactPaths = secretKeys.flatMap((k) => [k, `*.${k}`]);

const levelNames: Record<number, string> = { 20: 'debug', 30: 'info', 40: 'warn', 50: 'error' };

/**
 * A structured logger.
 *
 * @example
 * ```ts
 * const log = createLogger({ format: 'json', level: 'debug' });
 * log.child({ partition: 3 }).warn('checkpoint slow', { durationMs: 812 });
 * ```
 */
export function createLogger(opts: LoggerOptions = {}, base: Record<string, unknown> = {}): Logger {
  const level = opts.level ?? 'info';
  if (level === 'silent') return silent;
  const format = opts.format ?? 'pretty';
  const write = opts.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const destination = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
      for (const line of text.split('\n')) {
        if (line === '') continue;
        write(format === 'json' ? line : prettyLine(line));
      }
      done();
    },
  });
  const root = pino(
    {
      level,
      base: undefined,
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }), log: scrubUrls },
      serializers: { err: errorSerializer, error: errorSerializer },
      redact: { paths: redactPaths, censor: '[redacted]' },
    },
    destination,
  );
  return wrap(Object.keys(base).length === 0 ? root : root.child(base));
}

function wrap(p: PinoLogger): Logger {
  return {
    debug: (msg, fields) => p.debug(fields ?? {}, redactText(msg)),
    info: (msg, fields) => p.info(fields ?? {}, redactText(msg)),
    warn: (msg, fields) => p.warn(fields ?? {}, redactText(msg)),
    error: (msg, fields) => p.error(fields ?? {}, redactText(msg)),
    child: (fields) => wrap(p.child(redactDeep(fields) as Record<string, unknown>)),
  };
}

/**
 * `redis://:password@host`, `user:password@broker:9092` and the like lose their credentials in
 * any string field, nested ones included.
 */
function scrubUrls(fields: Record<string, unknown>): Record<string, unknown> {
  return redactDeep(fields) as Record<string, unknown>;
}

/** Errors keep name, message, code and cause chain; stacks only for errors that are not ours. */
function errorSerializer(value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  const out: Record<string, unknown> = { name: value.name, message: redactText(value.message) };
  const code = (value as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  if (value.cause instanceof Error) out.cause = errorSerializer(value.cause);
  if (code === undefined) out.stack = redactText(stdSerializers.err(value).stack);
  return out;
}

function prettyLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const { time, level, msg, ...fields } = entry;
  const label = typeof level === 'string' ? level : (levelNames[Number(level)] ?? String(level));
  const clock = typeof time === 'string' ? time.slice(11, 23) : '';
  const extras = Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(pretty(v))}`)
    .join(' ');
  return `${clock} ${label.toUpperCase().padEnd(5)} ${String(msg)}${extras === '' ? '' : '  ' + extras}`;
}

/** Drops stacks from pretty lines: people read the message; JSON keeps everything. */
function pretty(v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
  const { stack: _stack, ...rest } = v as Record<string, unknown>;
  return rest;
}

const noop = (): void => undefined;
const silent: Logger = { debug: noop, info: noop, warn: noop, error: noop, child: () => silent };

/** A logger that drops everything (library default, tests). */
export const silentLogger: Logger = silent;
