// Every broken module under fixtures/modules/invalid fails with a ModuleError whose message names
// the document, its line, the key path and the problem.

import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { ModuleError, formatIssue, loadModule } from '../../src/module/index.js';
import type { ModuleIssue } from '../../src/module/index.js';

const dir = fileURLToPath(new URL('../fixtures/modules/invalid/', import.meta.url));

interface Expectation {
  file: string;
  document: number;
  line: number;
  path: string;
  /** Fragments the message must contain: what was found and what was expected. */
  says: string[];
}

const cases: Expectation[] = [
  {
    file: 'missing-kind.yaml',
    document: 2,
    line: 7,
    path: 'kind',
    says: ['missing', 'expected the component kind', 'io.statefun.endpoints.v2/http'],
  },
  {
    file: 'missing-spec.yaml',
    document: 1,
    line: 2,
    path: 'spec',
    says: ['missing', 'settings of the "io.statefun.endpoints.v2/http" component'],
  },
  {
    file: 'spec-not-a-mapping.yaml',
    document: 1,
    line: 3,
    path: 'spec',
    says: ['found "port 8090"', 'a mapping'],
  },
  {
    file: 'unknown-kind.yaml',
    document: 2,
    line: 7,
    path: 'kind',
    says: [
      'found "io.statefun.kafka.v2/ingress"',
      'unknown component kind',
      'did you mean io.statefun.kafka.v1/ingress',
      'io.statefun.playground.v1/egress',
      'optional: true',
    ],
  },
  {
    file: 'typename-two-slashes.yaml',
    document: 1,
    line: 4,
    path: 'spec.functions',
    says: ['found "com.example/fns/greeter"', '2 "/" characters', '"<namespace>/<name>"'],
  },
  {
    file: 'wildcard-in-middle.yaml',
    document: 1,
    line: 4,
    path: 'spec.functions',
    says: ['found "com.example/greet*"', '"*" must be the whole name', '"<namespace>/*"'],
  },
  {
    file: 'wildcard-in-target.yaml',
    document: 2,
    line: 15,
    path: 'spec.topics[0].targets[0]',
    says: ['found "com.example/*"', '"*" is only allowed', 'exactly one "/"'],
  },
  {
    file: 'bad-duration.yaml',
    document: 1,
    line: 7,
    path: 'spec.transport.call',
    says: ['found "2 minutes and a half"', 'not a known time unit', 'expected a duration'],
  },
  {
    file: 'okhttp-read-longer-than-call.yaml',
    document: 1,
    line: 10,
    path: 'spec.transport.timeouts.read',
    says: ['found 30s', 'longer than the call timeout (10s)', 'expected at most the call timeout'],
  },
  {
    file: 'okhttp-zero-timeout.yaml',
    document: 1,
    line: 7,
    path: 'spec.timeouts.connect',
    says: ['found 0', 'greater than 0'],
  },
  {
    file: 'exactly-once-without-timeout.yaml',
    document: 1,
    line: 6,
    path: 'spec.deliverySemantic.transactionTimeout',
    says: ['missing', 'exactly-once', 'transactionTimeout: 15min'],
  },
  {
    file: 'transaction-timeout-millis-with-unit.yaml',
    document: 1,
    line: 9,
    path: 'spec.deliverySemantic.transactionTimeoutMillis',
    says: ['found "15min"', 'whole number of milliseconds', 'use transactionTimeout: 15min'],
  },
  {
    file: 'duplicate-endpoints.yaml',
    document: 2,
    line: 9,
    path: 'spec.functions',
    says: ['com.example/*', 'already declared at spec.functions in document 1 (line 4)', 'one endpoint per'],
  },
  {
    file: 'duplicate-egress-ids.yaml',
    document: 2,
    line: 9,
    path: 'spec.id',
    says: ['egress id com.example/out again', 'document 1 (line 4)', 'each id once'],
  },
  {
    file: 'ingress-target-without-endpoint.yaml',
    document: 2,
    line: 16,
    path: 'spec.topics[0].targets[1]',
    says: ['found com.other/greeter', 'no endpoint serves', 'could never be delivered', 'com.other/*'],
  },
  {
    file: 'property-list-not-a-list.yaml',
    document: 1,
    line: 6,
    path: 'spec.properties',
    says: ['found a mapping with keys linger.ms, acks', 'a list of single-key mappings'],
  },
  {
    file: 'property-list-multi-key-entry.yaml',
    document: 1,
    line: 12,
    path: 'spec.properties[1]',
    says: ['fetch.min.bytes, fetch.max.wait.ms', '2 keys', 'single-key mapping'],
  },
  {
    file: 'legacy-version-2.0.yaml',
    document: 1,
    line: 2,
    path: 'version',
    says: ['found "2.0"', 'no longer supported', 'one YAML document {kind, spec}'],
  },
  {
    file: 'legacy-unknown-ingress-type.yaml',
    document: 1,
    line: 17,
    path: 'module.spec.ingresses[0].ingress.meta.type',
    says: ['found "statefun.kafka.io/protobuf-ingress"', 'unknown component kind'],
  },
  {
    file: 'legacy-with-second-document.yaml',
    document: 2,
    line: 15,
    path: '',
    says: ['another document after the legacy', 'only document'],
  },
  {
    file: 'kinesis-not-optional.yaml',
    document: 2,
    line: 7,
    path: 'kind',
    says: ['found io.statefun.kinesis.v1/ingress', 'cannot run', 'optional: true'],
  },
  {
    file: 'playground-port-out-of-range.yaml',
    document: 1,
    line: 4,
    path: 'spec.port',
    says: ['found 70000', 'a TCP port from 0 to 65535'],
  },
  {
    file: 'playground-same-port.yaml',
    document: 2,
    line: 8,
    path: 'spec.port',
    says: [
      'found port 8090',
      'io.statefun.playground.v1/ingress at spec.port in document 1',
      'a different port',
    ],
  },
  {
    file: 'startup-date-bad-format.yaml',
    document: 2,
    line: 13,
    path: 'spec.startupPosition.date',
    says: ['found "2024-05-01T13:45:00Z"', '"yyyy-MM-dd HH:mm:ss.SSS Z"'],
  },
  {
    file: 'specific-offsets-bad-key.yaml',
    document: 2,
    line: 15,
    path: 'spec.startupPosition.offsets[1]',
    says: ['the key "names" is not "<topic>/<partition>"'],
  },
  {
    file: 'group-offsets-without-group.yaml',
    document: 2,
    line: 12,
    path: 'spec.startupPosition.type',
    says: ['found group-offsets', 'no consumer group', 'consumerGroupId'],
  },
  {
    file: 'yaml-syntax-error.yaml',
    document: 2,
    line: 8,
    path: '',
    says: ['YAML syntax error', 'Flow map'],
  },
  {
    file: 'unix-socket-without-sock.yaml',
    document: 1,
    line: 5,
    path: 'spec.urlPathTemplate',
    says: ['found "http+unix:///var/run/fns/{function.name}"', 'ending in .sock'],
  },
  {
    file: 'unknown-transport-type.yaml',
    document: 1,
    line: 7,
    path: 'spec.transport.type',
    says: ['found "io.statefun.transports.v1/netty"', 'io.statefun.transports.v1/async (the default)'],
  },
  {
    file: 'duplicate-topic.yaml',
    document: 2,
    line: 15,
    path: 'spec.topics[1].topic',
    says: ['found "names" again (first at spec.topics[0].topic)', 'merge the targets'],
  },
];

async function failure(file: string): Promise<ModuleError> {
  const error = await loadModule(`${dir}${file}`).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error, `${file} should be rejected`).toBeInstanceOf(ModuleError);
  return error as ModuleError;
}

function render(issue: ModuleIssue): string {
  return formatIssue(issue);
}

describe('a broken module.yaml is rejected with a message that locates and explains the problem', () => {
  test.each(cases)('$file: document $document, $path', async ({ file, document, line, path, says }) => {
    const error = await failure(file);
    expect(error.code).toBe('MODULE_INVALID');
    expect(error.retryable).toBe(false);
    expect(error.issues).toHaveLength(1);
    const [issue] = error.issues;
    expect(issue).toMatchObject({ severity: 'error', document, line, path });
    const text = render(issue!);
    expect(text.startsWith(`${dir}${file}, document ${document} (line ${line}`)).toBe(true);
    if (path !== '') expect(text).toContain(`, ${path}: `);
    for (const fragment of says) expect(text).toContain(fragment);
    expect(error.message).toContain(text);
  });

  test('every fixture in the invalid folder is covered by an expectation', () => {
    const files = readdirSync(dir).filter((name) => name.endsWith('.yaml'));
    const covered = new Set([...cases.map((c) => c.file), 'several-problems.yaml']);
    expect(files.filter((name) => !covered.has(name))).toEqual([]);
  });

  test('all problems of a file are reported at once, in document order', async () => {
    const error = await failure('several-problems.yaml');
    expect(error.issues.map((issue) => [issue.document, issue.path])).toEqual([
      [1, 'spec.maxNumBatchRequests'],
      [2, 'spec.id'],
      [3, 'spec.topics'],
    ]);
    expect(error.message).toContain('has 3 problems');
    expect(render(error.issues[0]!)).toContain('found "many"; expected a whole number');
    expect(render(error.issues[1]!)).toContain('found "out" (it has no "/")');
    expect(render(error.issues[2]!)).toContain(
      'found an empty list; expected a list of at least one topic name',
    );
  });
});
