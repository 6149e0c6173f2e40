// zod building blocks for module.yaml specs: leaf validators whose messages say what was found
// and what was expected, and the bridge from zod issues to located module issues and warnings.

import { z } from 'zod';
import { DURATION_FORMAT, DURATION_SYNTAX, tryParseDuration } from './duration.js';
import type { ComponentScope, PathSegment } from './scope.js';

/** Result of a leaf conversion: the value, or why the input is wrong (rendered after "found …"). */
export type LeafResult<T> = { ok: true; value: T } | { ok: false; reason?: string };

const ok = <T>(value: T): LeafResult<T> => ({ ok: true, value });
const bad = (reason?: string): LeafResult<never> =>
  reason === undefined ? { ok: false } : { ok: false, reason };

const MAX_SHOWN_KEYS = 10;

/** Short description of a YAML value for messages: `"a/b/c"`, `42`, `a list of 3 entries`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null (an empty value)';
  if (typeof value === 'string') {
    const shown = value.length > 80 ? `${value.slice(0, 77)}...` : value;
    return JSON.stringify(shown);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (Array.isArray(value)) {
    return value.length === 0
      ? 'an empty list'
      : `a list of ${value.length} entr${value.length === 1 ? 'y' : 'ies'}`;
  }
  if (typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 0) return 'an empty mapping';
    const shown = keys
      .slice(0, MAX_SHOWN_KEYS)
      .map((key) => (key.length > 40 ? `${key.slice(0, 37)}...` : key));
    const more = keys.length > MAX_SHOWN_KEYS ? ` and ${keys.length - MAX_SHOWN_KEYS} more` : '';
    return `a mapping with keys ${shown.join(', ')}${more}`;
  }
  return typeof value;
}

/** `missing; expected …` or `found …; expected …`. */
export function problem(value: unknown, expected: string, reason?: string): string {
  if (value === undefined) return `missing; expected ${expected}`;
  return `found ${describeValue(value)}${reason === undefined ? '' : ` (${reason})`}; expected ${expected}`;
}

/**
 * A leaf validator: accepts anything, converts it with `convert`, and on failure reports
 * `found <value>; expected <expected>`. Wrap in `.optional()` for optional keys.
 */
export function leaf<T>(expected: string, convert: (input: unknown) => LeafResult<T>): z.ZodType<T> {
  return z.unknown().transform((input, ctx) => {
    const result = convert(input);
    if (result.ok) return result.value;
    ctx.addIssue({ code: 'custom', message: problem(input, expected, result.reason), input });
    return z.NEVER;
  });
}

/** A scalar read as text (numbers and booleans become their text, as Jackson's `asText`). */
export function text(expected = 'text'): z.ZodType<string> {
  return leaf(expected, (input) =>
    typeof input === 'string' || typeof input === 'number' || typeof input === 'boolean'
      ? ok(String(input))
      : bad(),
  );
}

/** Like {@link text}, but empty or blank text is rejected. */
export function nonEmptyText(expected = 'non-empty text'): z.ZodType<string> {
  return leaf(expected, (input) => {
    if (typeof input === 'number' || typeof input === 'boolean') return ok(String(input));
    if (typeof input !== 'string') return bad();
    return input.trim() === '' ? bad('blank') : ok(input);
  });
}

/** Why `text` is not a `<namespace>/<name>` type name with exactly one `/`, or undefined when it is. */
export function typeNameProblem(text: string): string | undefined {
  const parts = text.split('/');
  if (parts.length === 1) return 'no "/"';
  if (parts.length > 2) return `${parts.length - 1} "/" characters`;
  const [namespace = '', name = ''] = parts;
  if (namespace === '') return 'an empty namespace';
  if (name === '') return 'an empty name';
  return undefined;
}

/** A `<namespace>/<name>` type name (function types, ids, value types): exactly one `/`, no `*`. */
export function typeName(what: string): z.ZodType<string> {
  const expected = `${what}: a type name "<namespace>/<name>" with exactly one "/"`;
  return leaf(expected, (input) => {
    if (typeof input !== 'string') return bad();
    const reason = typeNameProblem(input);
    if (reason !== undefined) return bad(`it has ${reason}`);
    if (input.includes('*')) return bad('"*" is only allowed as the whole name in an endpoint\'s functions');
    return ok(input);
  });
}

/** What an endpoint's `functions` names: one type, or every type of a namespace. */
export type FunctionsMatch = { kind: 'exact'; typename: string } | { kind: 'namespace'; namespace: string };

/** `functions`: `<namespace>/<name>` or `<namespace>/*`; a `*` anywhere else is rejected. */
export const functionsPattern: z.ZodType<FunctionsMatch> = leaf<FunctionsMatch>(
  'a function type "<namespace>/<name>", or "<namespace>/*" for every function of a namespace',
  (input) => {
    if (typeof input !== 'string') return bad();
    const reason = typeNameProblem(input);
    if (reason !== undefined) return bad(`it has ${reason}`);
    const [namespace = '', name = ''] = input.split('/');
    if (namespace.includes('*')) return bad('"*" is not allowed in the namespace');
    if (name === '*') return ok({ kind: 'namespace', namespace });
    if (name.includes('*')) return bad('"*" must be the whole name, as in "<namespace>/*"');
    return ok({ kind: 'exact', typename: input });
  },
);

/** A duration in Flink syntax, in milliseconds; `allowZero: false` rejects 0. */
export function duration(options: { allowZero: boolean }): z.ZodType<number> {
  const expected = options.allowZero ? DURATION_SYNTAX : `a duration greater than 0: ${DURATION_FORMAT}`;
  return leaf(expected, (input) => {
    if (typeof input !== 'string' && typeof input !== 'number') return bad();
    const parsed = tryParseDuration(input);
    if (!parsed.ok) return bad(parsed.reason);
    if (!options.allowZero && parsed.ms === 0) return bad('zero');
    return ok(parsed.ms);
  });
}

/** A whole number (a YAML integer or a text of digits, as Jackson coerces) within bounds. */
export function integer(options: { min?: number; max?: number; expected?: string } = {}): z.ZodType<number> {
  const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = options;
  const range =
    options.min !== undefined && options.max !== undefined
      ? ` from ${min} to ${max}`
      : options.min !== undefined
        ? ` of at least ${min}`
        : options.max !== undefined
          ? ` of at most ${max}`
          : '';
  const expected = options.expected ?? `a whole number${range}`;
  return leaf(expected, (input) => {
    let value: number;
    if (typeof input === 'number') value = input;
    else if (typeof input === 'string' && /^\s*[-+]?\d+\s*$/u.test(input)) value = Number(input);
    else return bad();
    if (!Number.isSafeInteger(value)) return bad();
    if (value < min || value > max) return bad('out of range');
    return ok(value);
  });
}

/** One of fixed words; `caseInsensitive` as the Kafka ingress reads `autoOffsetResetPosition`. */
export function oneOf<const T extends string>(
  values: readonly T[],
  options: { caseInsensitive?: boolean } = {},
): z.ZodType<T> {
  const expected = `one of ${values.join(', ')}`;
  return leaf(expected, (input) => {
    if (typeof input !== 'string') return bad();
    const wanted = options.caseInsensitive === true ? input.toLowerCase() : input;
    const match = values.find((value) => value === wanted);
    return match === undefined ? bad() : ok(match);
  });
}

/** `true` or `false`. */
export const bool: z.ZodType<boolean> = leaf('true or false', (input) =>
  typeof input === 'boolean' ? ok(input) : bad(),
);

/** A TCP port; 0 asks the operating system for a free one (useful in tests). */
export const port: z.ZodType<number> = integer({
  min: 0,
  max: 65535,
  expected: 'a TCP port from 0 to 65535',
});

const URL_SCHEMES = ['http:', 'https:', 'http+unix:', 'https+unix:'];

/** An endpoint URL template: http, https, http+unix or https+unix, may contain `{function.name}`. */
export const urlTemplate: z.ZodType<string> = leaf(
  'a URL with scheme http, https, http+unix or https+unix, optionally containing {function.name}',
  (input) => {
    if (typeof input !== 'string') return bad();
    let url: URL;
    try {
      url = new URL(input.replaceAll('{function.name}', 'name'));
    } catch {
      return bad('not a URL');
    }
    if (!URL_SCHEMES.includes(url.protocol)) return bad(`scheme ${url.protocol.replace(/:$/u, '')}`);
    if (url.protocol.endsWith('+unix:') && !url.pathname.split('/').some((s) => s.endsWith('.sock'))) {
      return bad('a unix-socket URL needs a path segment ending in .sock, the socket file');
    }
    return ok(input);
  },
);

/**
 * A mapping that names its keys; unknown keys are ignored (StateFun ignores them too) but
 * reported as warnings by {@link validate}.
 */
export function mapping<S extends z.ZodRawShape>(shape: S): z.ZodObject<S> {
  return z.object(shape, {
    error: (issue) => (issue.code === 'invalid_type' ? problem(issue.input, 'a mapping') : undefined),
  });
}

/** A list of at least one entry. */
export function list<T extends z.ZodType>(element: T, what: string): z.ZodArray<T> {
  return z
    .array(element, {
      error: (issue) =>
        issue.code === 'invalid_type' ? problem(issue.input, `a list of ${what}`) : undefined,
    })
    .min(1, { error: (issue) => problem(issue.input, `a list of at least one ${what}`) });
}

/**
 * Validates `value` (found at `at`, relative to the component's spec) against `schema`. Errors
 * go to the scope; unknown keys become warnings. Returns the output, or undefined when invalid.
 */
export function validate<S extends z.ZodType>(
  scope: ComponentScope,
  schema: S,
  value: unknown,
  at: readonly PathSegment[],
): z.output<S> | undefined {
  warnUnknownKeys(scope, schema, value, at);
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  for (const issue of result.error.issues) {
    const path = issue.path.filter((s): s is PathSegment => typeof s === 'string' || typeof s === 'number');
    scope.error([...at, ...path], messageOf(issue));
  }
  return undefined;
}

function messageOf(issue: z.core.$ZodIssue): string {
  if (issue.message.startsWith('found ') || issue.message.startsWith('missing;')) return issue.message;
  switch (issue.code) {
    case 'custom':
      return issue.message;
    case 'invalid_type':
      return problem(
        issue.input,
        Object.hasOwn(EXPECTED_NAMES, issue.expected)
          ? (EXPECTED_NAMES[issue.expected] ?? '')
          : issue.expected,
      );
    default:
      return `found ${describeValue(issue.input)}; ${issue.message}`;
  }
}

const EXPECTED_NAMES: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'text',
  number: 'a number',
  boolean: 'true or false',
};

interface IntrospectedDef {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
}

function warnUnknownKeys(
  scope: ComponentScope,
  schema: z.ZodType,
  value: unknown,
  at: readonly PathSegment[],
): void {
  const def = schema._zod.def as unknown as IntrospectedDef;
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
      if (def.innerType !== undefined) warnUnknownKeys(scope, def.innerType, value, at);
      return;
    case 'pipe':
      if (def.in !== undefined) warnUnknownKeys(scope, def.in, value, at);
      return;
    case 'array':
      if (Array.isArray(value) && def.element !== undefined) {
        const element = def.element;
        value.forEach((item, index) => warnUnknownKeys(scope, element, item, [...at, index]));
      }
      return;
    case 'object': {
      if (value === null || typeof value !== 'object' || Array.isArray(value) || def.shape === undefined)
        return;
      const shape = def.shape;
      const known = Object.keys(shape);
      for (const [key, child] of Object.entries(value)) {
        // Own keys only: `constructor` or `toString` in the file are unknown keys like any other.
        const childSchema = Object.hasOwn(shape, key) ? shape[key] : undefined;
        if (childSchema === undefined) scope.warning([...at, key], unknownKeyMessage(key, known));
        else warnUnknownKeys(scope, childSchema, child, [...at, key]);
      }
      return;
    }
    default:
      return;
  }
}

/** `unknown key, ignored; did you mean "transport"?` (or the list of known keys). */
export function unknownKeyMessage(key: string, known: readonly string[]): string {
  const suggestion = suggest(key, known);
  if (suggestion !== undefined) return `unknown key, ignored; did you mean "${suggestion}"?`;
  return `unknown key, ignored; the keys read here are ${known.join(', ')}`;
}

/** Keys longer than this get no suggestion: no key read here is near that long. */
const MAX_SUGGESTED_KEY = 64;

function suggest(key: string, known: readonly string[]): string | undefined {
  if (key.length > MAX_SUGGESTED_KEY) return undefined;
  const squash = (s: string): string => s.toLowerCase().replace(/[-_\s]/gu, '');
  const exactish = known.find((candidate) => squash(candidate) === squash(key));
  if (exactish !== undefined) return exactish;
  let best: { candidate: string; distance: number } | undefined;
  const lower = key.toLowerCase();
  for (const candidate of known) {
    // The distance is at least the difference in length; more than 2 is never suggested.
    if (Math.abs(candidate.length - key.length) > 2) continue;
    const distance = editDistance(lower, candidate.toLowerCase());
    if (best === undefined || distance < best.distance) best = { candidate, distance };
  }
  if (best === undefined) return undefined;
  const allowed = Math.min(2, Math.floor(best.candidate.length / 3));
  return best.distance <= allowed ? best.candidate : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * A property list (`properties`, `clientConfigProperties`): a YAML list of single-key mappings,
 * values read as text. Numbers keep their written form (`0.10` stays `0.10`).
 */
export function propertyList(
  scope: ComponentScope,
  value: unknown,
  at: readonly PathSegment[],
): Record<string, string> | undefined {
  const expected = 'a list of single-key mappings, e.g. "- bootstrap.servers: kafka:9092"';
  const entry = leaf<readonly [string, string | number | boolean]>(
    'a single-key mapping with a text value, e.g. "bootstrap.servers: kafka:9092"',
    (input) => {
      if (input === null || typeof input !== 'object' || Array.isArray(input)) return bad();
      const entries = Object.entries(input as Record<string, unknown>);
      if (entries.length !== 1) return bad(`${entries.length} keys`);
      const [key, val] = entries[0] ?? ['', undefined];
      if (typeof val === 'string' || typeof val === 'number' || typeof val === 'boolean')
        return ok([key, val]);
      return bad(`the value of ${key} is ${describeValue(val)}`);
    },
  );
  const schema = z.array(entry, {
    error: (issue) => (issue.code === 'invalid_type' ? problem(issue.input, expected) : undefined),
  });
  const parsed = validate(scope, schema, value, at);
  if (parsed === undefined) return undefined;
  const properties: Record<string, string> = {};
  parsed.forEach(([key, val], index) => {
    if (Object.hasOwn(properties, key)) {
      scope.warning([...at, index, key], `property ${key} is set more than once; the last value wins`);
    }
    const text = typeof val === 'string' ? val : (scope.sourceText([...at, index, key]) ?? String(val));
    // Defined, not assigned: a property named __proto__ must stay a property.
    Object.defineProperty(properties, key, {
      value: text,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  });
  return properties;
}
