// module.yaml written by mistake or on purpose to break the loader: keys named like built-in
// object properties, thousands of unknown keys, alias bombs, huge scalars, random mutations of
// every module in the repository. The loader returns a module or throws a located ModuleError.

import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { MAX_LISTED_ISSUES, ModuleError, parseModule } from '../../src/module/index.js';
import type { ModuleConfig, ModuleIssue } from '../../src/module/index.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

const FIXTURES = [
  'module.yaml',
  'functions-examples/greeter/module.yaml',
  'functions-examples/greeter/module.playground.yaml',
  'functions-examples/shopping-cart/module.yaml',
  'functions-examples/windowed-counts/module.yaml',
  'functions-examples/windowed-counts/module.playground.yaml',
  'runtime/test/fixtures/dev/crash-module.yaml',
  ...[
    'valid/legacy-v3.0.yaml',
    'valid/statefun-example.yaml',
    'invalid/bad-duration.yaml',
    'invalid/duplicate-egress-ids.yaml',
    'invalid/duplicate-endpoints.yaml',
    'invalid/duplicate-topic.yaml',
    'invalid/exactly-once-without-timeout.yaml',
    'invalid/group-offsets-without-group.yaml',
    'invalid/ingress-target-without-endpoint.yaml',
    'invalid/kinesis-not-optional.yaml',
    'invalid/legacy-unknown-ingress-type.yaml',
    'invalid/legacy-version-2.0.yaml',
    'invalid/legacy-with-second-document.yaml',
    'invalid/missing-kind.yaml',
    'invalid/missing-spec.yaml',
    'invalid/okhttp-read-longer-than-call.yaml',
    'invalid/okhttp-zero-timeout.yaml',
    'invalid/playground-port-out-of-range.yaml',
    'invalid/playground-same-port.yaml',
    'invalid/property-list-multi-key-entry.yaml',
    'invalid/property-list-not-a-list.yaml',
    'invalid/several-problems.yaml',
    'invalid/spec-not-a-mapping.yaml',
    'invalid/specific-offsets-bad-key.yaml',
    'invalid/startup-date-bad-format.yaml',
    'invalid/transaction-timeout-millis-with-unit.yaml',
    'invalid/typename-two-slashes.yaml',
    'invalid/unix-socket-without-sock.yaml',
    'invalid/unknown-kind.yaml',
    'invalid/unknown-transport-type.yaml',
    'invalid/wildcard-in-middle.yaml',
    'invalid/wildcard-in-target.yaml',
    'invalid/yaml-syntax-error.yaml',
  ].map((name) => `runtime/test/fixtures/modules/${name}`),
].map((path) => ({ path, text: readFileSync(`${root}${path}`, 'utf8') }));

/** Every own property name of the prototypes a plain object or array inherits from. */
const PROTOTYPE_KEYS = [
  ...new Set([
    '__proto__',
    ...Object.getOwnPropertyNames(Object.prototype),
    ...Object.getOwnPropertyNames(Array.prototype),
    ...Object.getOwnPropertyNames(Function.prototype).filter((k) => !['caller', 'arguments'].includes(k)),
  ]),
];

const ENDPOINT = `kind: io.statefun.endpoints.v2/http
spec:
  functions: com.example/*
  urlPathTemplate: http://fns:8000/{function.name}
  transport:
    type: io.statefun.transports.v1/async
`;

const KAFKA_INGRESS = `kind: io.statefun.kafka.v1/ingress
spec:
  id: com.example/in
  address: kafka:9092
  consumerGroupId: g1
  topics:
    - topic: names
      valueType: com.example/Name
      targets: [com.example/greeter]
`;

type Outcome = { module: ModuleConfig; error?: undefined } | { module?: undefined; error: ModuleError };

/** Parses, failing the test on anything but a module or a ModuleError. */
function load(text: string): Outcome {
  try {
    return { module: parseModule(text, 'module.yaml') };
  } catch (error) {
    if (error instanceof ModuleError) return { error };
    throw new Error(`the loader crashed instead of reporting: ${String(error)}`, { cause: error });
  }
}

const STACK_LINE = /\n\s+at .+\(?.*:\d+:\d+\)?/u;

/** The checks every outcome must pass: findings are located lines without stack traces. */
function expectWellFormed(outcome: Outcome): void {
  const findings: ModuleIssue[] = outcome.error
    ? [...outcome.error.issues, ...outcome.error.warnings]
    : [...(outcome.module.warnings ?? [])];
  for (const finding of findings) {
    expect(finding.file).toBe('module.yaml');
    expect(finding.message).not.toMatch(STACK_LINE);
    expect(finding.message.length).toBeLessThan(2_000);
    expect(finding.path.length).toBeLessThan(2_000);
  }
  if (outcome.error) {
    expect(outcome.error.issues.length).toBeGreaterThan(0);
    expect(outcome.error.message).not.toMatch(STACK_LINE);
  }
}

function warningsOf(text: string): ModuleIssue[] {
  const outcome = load(text);
  expect(outcome.error?.message).toBeUndefined();
  return [...(outcome.module?.warnings ?? [])];
}

describe('keys named like built-in object properties', () => {
  test.each(['constructor', 'hasOwnProperty', '__proto__', 'toString', 'valueOf', 'isPrototypeOf'])(
    '%s is a located unknown-key warning at the top, in spec, in transport and in a topic entry',
    (key) => {
      const top = warningsOf(`${key}: 1\n${ENDPOINT}`);
      expect(top).toEqual([
        expect.objectContaining({ path: key, line: 1, message: expect.stringContaining('unknown key') }),
      ]);

      const spec = warningsOf(`${ENDPOINT}  ${key}: 1\n`);
      expect(spec).toEqual([
        expect.objectContaining({
          path: `spec.${key}`,
          line: 7,
          message: expect.stringContaining('unknown key'),
        }),
      ]);

      const transport = warningsOf(`${ENDPOINT}    ${key}: {call: 1s}\n`);
      expect(transport).toEqual([
        expect.objectContaining({
          path: `spec.transport.${key}`,
          line: 7,
          message: expect.stringContaining('unknown key'),
        }),
      ]);

      const topic = warningsOf(`${ENDPOINT}---\n${KAFKA_INGRESS}      ${key}: x\n`);
      expect(topic).toEqual([
        expect.objectContaining({
          document: 2,
          path: `spec.topics[0].${key}`,
          line: 17,
          message: expect.stringContaining('unknown key'),
        }),
      ]);
    },
  );

  test('a Kafka property named __proto__ stays a property', () => {
    const outcome = load(
      `${ENDPOINT}---\n${KAFKA_INGRESS}  properties:\n    - __proto__: polluted\n    - client.id: c1\n`,
    );
    const properties = outcome.module?.kafkaIngresses[0]?.properties;
    expect(Object.entries(properties ?? {})).toEqual([
      ['__proto__', 'polluted'],
      ['client.id', 'c1'],
    ]);
    expect(Object.getPrototypeOf(properties)).toBe(Object.prototype);
  });

  test('a legacy component kind named like a built-in property is an unknown kind', () => {
    const outcome = load(
      'version: "3.0"\nmodule:\n  meta: {type: remote}\n  spec:\n    ingresses:\n' +
        '      - ingress: {meta: {type: constructor, id: a/b}, spec: {}}\n',
    );
    expectWellFormed(outcome);
    expect(outcome.error?.issues).toEqual([
      expect.objectContaining({
        path: 'module.spec.ingresses[0].ingress.meta.type',
        message: expect.stringContaining('unknown component kind'),
      }),
    ]);
  });
});

describe('many unknown keys', () => {
  const withUnknownKeys = (count: number): string => {
    const lines = [ENDPOINT];
    for (let i = 0; i < count; i++) lines.push(`  unknown${i}: ${i}\n`);
    return lines.join('');
  };

  /** CPU seconds of this process (not wall time, which other processes on the machine inflate). */
  function secondsFor(text: string): number {
    const started = process.cpuUsage();
    const warnings = warningsOf(text);
    const { user, system } = process.cpuUsage(started);
    expect(warnings.length).toBe(text.split('\n').length - 7);
    return (user + system) / 1e6;
  }

  test('validation time grows linearly with the number of unknown keys, and each is located', () => {
    const small = withUnknownKeys(12_500);
    const large = withUnknownKeys(50_000);
    // CPU time, the best of two runs each: garbage collection and JIT warm-up vary between runs.
    const times = { small: Infinity, large: Infinity };
    for (let round = 0; round < 2; round++) {
      times.small = Math.min(times.small, secondsFor(small));
      times.large = Math.min(times.large, secondsFor(large));
    }
    // Four times the keys: linear work takes about 4x, quadratic work 16x (before, the YAML
    // duplicate-key check and each warning's line lookup scanned every earlier key).
    expect(times.large / times.small).toBeLessThan(9);
    expect(times.large).toBeLessThan(60);

    const last = warningsOf(withUnknownKeys(3)).at(-1);
    expect(last).toMatchObject({ path: 'spec.unknown2', line: 9 });
  }, 240_000);

  test('printed findings stop after the cap with how many more there are', () => {
    const outcome = load(withUnknownKeys(500).replace('functions: com.example/*', 'functions: 42'));
    const message = outcome.error?.message ?? '';
    expect(outcome.error?.warnings.length).toBe(500);
    expect(message.split('\n').filter((line) => line.includes('unknown key'))).toHaveLength(
      MAX_LISTED_ISSUES,
    );
    expect(message).toContain(`... and ${500 - MAX_LISTED_ISSUES} more`);
  });

  test('a duplicate key is still found, on its own line, among many keys', () => {
    const text = `${withUnknownKeys(2_000)}  unknown1500: again\n`;
    const outcome = load(text);
    expect(outcome.error?.issues).toEqual([
      expect.objectContaining({
        line: 2_007,
        message: expect.stringContaining('Map keys must be unique; "unknown1500" is given more than once'),
      }),
    ]);
  });
});

describe('hostile documents', () => {
  test('an alias bomb is refused without expanding it', () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 10; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      levels.push(`${name}: &${name} [${Array.from({ length: 10 }, () => `*${prev}`).join(', ')}]`);
    }
    const outcome = load(
      `kind: io.statefun.playground.v1/ingress\nspec:\n  port: 1\n${levels.map((l) => `  ${l}`).join('\n')}\n`,
    );
    expectWellFormed(outcome);
    expect(outcome.error?.issues[0]?.message).toContain('cannot be read as data');
  });

  test('a deeply nested document is a located error, not a stack overflow', () => {
    const depth = 100_000;
    const outcome = load(`kind: x\nspec: ${'['.repeat(depth)}${']'.repeat(depth)}\n`);
    expectWellFormed(outcome);
  });

  test('huge scalars are shown shortened in paths and messages', () => {
    const huge = 'k'.repeat(1_000_000);
    const outcome = load(`${ENDPOINT}    call: ${huge}\n  ? ${huge}\n  : 1\n`);
    expectWellFormed(outcome);
    expect(outcome.error?.issues.some((i) => i.path === 'spec.transport.call')).toBe(true);
    expect(outcome.error?.warnings[0]?.path).toContain('(1000000 characters)');
  });
});

// Random values a module might carry, including the awkward ones.
const hostileScalar = fc.oneof(
  fc.constantFrom(...PROTOTYPE_KEYS),
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom('1s', '0', '-1', 'com.example/*', 'http+unix:///x.sock', '{function.name}', '*/*'),
  fc.nat({ max: 200_000 }).map((n) => 'x'.repeat(n)),
);
const hostileValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    hostileScalar,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.constantFrom(...PROTOTYPE_KEYS), fc.string({ maxLength: 12 })), tie('value'), {
      maxKeys: 4,
    }),
  ),
})).value;

/** Paths into a plain value, so a mutation can land anywhere in it. */
function pathsOf(value: unknown, at: Array<string | number> = [], out: Array<Array<string | number>> = []) {
  out.push(at);
  if (Array.isArray(value)) value.forEach((v, i) => pathsOf(v, [...at, i], out));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) pathsOf(v, [...at, k], out);
  }
  return out;
}

function mutate(
  doc: unknown,
  pathIndex: number,
  action: 'set' | 'add-key' | 'delete',
  key: string,
  value: unknown,
): unknown {
  const copy = structuredClone(doc);
  const paths = pathsOf(copy);
  const path = paths[pathIndex % paths.length] ?? [];
  if (path.length === 0) return action === 'set' ? value : copy;
  let parent: unknown = copy;
  for (const segment of path.slice(0, -1)) parent = (parent as Record<string | number, unknown>)[segment];
  const last = path.at(-1)!;
  const target = parent as Record<string | number, unknown>;
  if (action === 'delete') {
    if (Array.isArray(target)) target.splice(Number(last), 1);
    else Reflect.deleteProperty(target, last);
  } else if (action === 'set') {
    Object.defineProperty(target, last, { value, enumerable: true, writable: true, configurable: true });
  } else {
    const child = target[last];
    if (child !== null && typeof child === 'object' && !Array.isArray(child)) {
      Object.defineProperty(child, key, { value, enumerable: true, writable: true, configurable: true });
    }
  }
  return copy;
}

/**
 * The suite fuzzes with a fixed seed, so a run is reproducible and CI does not turn red on a case no
 * commit introduced; `CONTINUUM_FUZZ_SEED=random` (or another number) explores further.
 */
const fuzzSeed: { seed?: number } =
  process.env.CONTINUUM_FUZZ_SEED === 'random'
    ? {}
    : { seed: Number(process.env.CONTINUUM_FUZZ_SEED ?? 20_261_207) };

/** Each case must finish well within this on a loaded machine; a hang or blow-up fails it. */
const CASE_BOUND_MS = 10_000;

function loadWithinBound(text: string): void {
  const started = performance.now();
  const outcome = load(text);
  expect(performance.now() - started).toBeLessThan(CASE_BOUND_MS);
  expectWellFormed(outcome);
}

describe('fuzzing the loader', () => {
  test.each(FIXTURES.map((f) => [f.path, f.text] as const))(
    'structural mutations of %s load or fail with located findings',
    (_, text) => {
      const documents = text.split(/^---$/mu).map((part) => {
        try {
          return parseYaml(part, { maxAliasCount: 100 }) as unknown;
        } catch {
          return part;
        }
      });
      fc.assert(
        fc.property(
          fc.nat(),
          fc.nat(),
          fc.constantFrom('set', 'add-key', 'delete'),
          fc.oneof(fc.constantFrom(...PROTOTYPE_KEYS), fc.string({ maxLength: 12 })),
          hostileValue,
          (docIndex, pathIndex, action, key, value) => {
            const mutated = documents.map((doc, i) =>
              i === docIndex % documents.length && typeof doc !== 'string'
                ? mutate(doc, pathIndex, action, key, value)
                : doc,
            );
            const rendered = mutated
              .map((doc) => (typeof doc === 'string' ? doc : stringifyYaml(doc)))
              .join('\n---\n');
            loadWithinBound(rendered);
          },
        ),
        { numRuns: 40, ...fuzzSeed },
      );
    },
    120_000,
  );

  test.each(FIXTURES.map((f) => [f.path, f.text] as const))(
    'text mutations of %s load or fail with located findings',
    (_, text) => {
      fc.assert(
        fc.property(
          fc.array(
            fc.record({
              at: fc.nat(),
              remove: fc.nat({ max: 8 }),
              insert: fc.oneof(
                fc.string({ maxLength: 8 }),
                fc.constantFrom(...PROTOTYPE_KEYS.map((k) => `\n${k}: `)),
                fc.constantFrom('&a ', '*a', '<<: *a', '\n---\n', ': ', '- ', '{', '[', '"', '\t', '\0'),
              ),
            }),
            { minLength: 1, maxLength: 5 },
          ),
          (edits) => {
            let mutated = text;
            for (const { at, remove, insert } of edits) {
              const position = at % (mutated.length + 1);
              mutated = mutated.slice(0, position) + insert + mutated.slice(position + remove);
            }
            loadWithinBound(mutated);
          },
        ),
        { numRuns: 40, ...fuzzSeed },
      );
    },
    120_000,
  );
});
