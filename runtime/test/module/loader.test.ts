// What a valid module.yaml becomes: the spec example, every default, legacy v3.0 conversion,
// optional and unsupported components, warnings, and the frozen result.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, test } from 'vitest';
import {
  ModuleError,
  TRANSPORT_DEFAULTS,
  formatIssue,
  loadModule,
  parseModule,
  parseStartupDate,
} from '../../src/module/index.js';
import type { ModuleConfig, ModuleIssue, ModuleLoadOptions } from '../../src/module/index.js';

const validDir = fileURLToPath(new URL('../fixtures/modules/valid/', import.meta.url));

const ENDPOINT = `kind: io.statefun.endpoints.v2/http
spec:
  functions: com.example/*
  urlPathTemplate: http://fns:8000/{function.name}
`;

function parse(text: string, opts?: ModuleLoadOptions): ModuleConfig {
  return parseModule(text, 'module.yaml', opts);
}

function rejection(text: string, opts?: ModuleLoadOptions): ModuleError {
  try {
    parse(text, opts);
  } catch (err) {
    expect(err).toBeInstanceOf(ModuleError);
    return err as ModuleError;
  }
  throw new Error('expected the module to be rejected');
}

function messages(issues: readonly ModuleIssue[] | undefined): string[] {
  return (issues ?? []).map(formatIssue);
}

describe('the StateFun spec example', () => {
  test('parses to the expected config, with every default filled in', async () => {
    const file = join(validDir, 'statefun-example.yaml');
    const module = await loadModule(file);
    expect(module).toEqual({
      file,
      endpoints: [
        {
          kind: 'io.statefun.endpoints.v2/http',
          functions: 'com.example/*',
          match: { kind: 'namespace', namespace: 'com.example' },
          urlPathTemplate: 'http://fns:8000/{function.name}',
          maxNumBatchRequests: 500,
          transport: {
            type: 'async',
            callTimeoutMs: 120_000,
            connectTimeoutMs: 20_000,
            poolTtlMs: 15_000,
            poolSize: 1024,
            payloadMaxBytes: 33_554_432,
            tls: undefined,
          },
          source: { file, document: 1, line: 3 },
        },
      ],
      kafkaIngresses: [
        {
          kind: 'io.statefun.kafka.v1/ingress',
          id: 'com.example/in',
          brokers: ['kafka:9092'],
          consumerGroupId: 'g1',
          topics: [{ topic: 'names', valueType: 'com.example/Name', targets: ['com.example/greeter'] }],
          autoOffsetResetPosition: 'latest',
          startupPosition: { type: 'earliest' },
          properties: {},
          eventTime: {
            maxOutOfOrdernessMs: 0,
            idleTimeoutMs: 30_000,
            extractor: { type: 'record-timestamp' },
          },
          source: { file, document: 2, line: 7 },
        },
      ],
      kafkaEgresses: [
        {
          kind: 'io.statefun.kafka.v1/egress',
          id: 'com.example/out',
          brokers: ['kafka:9092'],
          deliverySemantic: { type: 'exactly-once', transactionTimeoutMs: 900_000 },
          properties: {},
          source: { file, document: 3, line: 11 },
        },
      ],
      playgroundIngresses: [],
      playgroundEgresses: [],
      skipped: [],
      warnings: [],
    });
  });

  test('the result is deeply frozen', async () => {
    const module = await loadModule(join(validDir, 'statefun-example.yaml'));
    expect(Object.isFrozen(module)).toBe(true);
    expect(Object.isFrozen(module.endpoints)).toBe(true);
    expect(Object.isFrozen(module.endpoints[0]!.transport)).toBe(true);
    expect(Object.isFrozen(module.kafkaIngresses[0]!.topics[0]!.targets)).toBe(true);
    expect(() => {
      (module.endpoints[0]!.transport as { callTimeoutMs: number }).callTimeoutMs = 1;
    }).toThrow(TypeError);
  });

  test('a file: URL is accepted as the module location', async () => {
    const url = pathToFileURL(join(validDir, 'statefun-example.yaml')).href;
    const module = await loadModule(url);
    expect(module.endpoints).toHaveLength(1);
    expect(module.file).toBe(url);
  });
});

describe('endpoint defaults', () => {
  test('without transport, an endpoint uses the async transport with its defaults and batches of 1000', () => {
    const [endpoint] = parse(ENDPOINT).endpoints;
    expect(endpoint).toMatchObject({
      maxNumBatchRequests: 1000,
      transport: {
        type: 'async',
        callTimeoutMs: 120_000,
        connectTimeoutMs: 20_000,
        poolTtlMs: 15_000,
        poolSize: 1024,
        payloadMaxBytes: 33_554_432,
      },
    });
    expect(endpoint!.transport.readTimeoutMs).toBeUndefined();
    expect(endpoint!.transport.tls).toBeUndefined();
  });

  test('an async timeouts object without call means a 1 min call and a 10 s connect timeout', () => {
    const [endpoint] = parse(`${ENDPOINT}  transport:\n    timeouts: {}\n`).endpoints;
    expect(endpoint!.transport).toMatchObject({ callTimeoutMs: 60_000, connectTimeoutMs: 10_000 });
  });

  test('an async timeouts object wins over top-level call and connect, with a warning for each', () => {
    const module = parse(
      `${ENDPOINT}  transport:\n    call: 5m\n    connect: 3s\n    timeouts:\n      connect: 7s\n`,
    );
    expect(module.endpoints[0]!.transport).toMatchObject({ callTimeoutMs: 60_000, connectTimeoutMs: 7_000 });
    const warnings = messages(module.warnings);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('spec.transport.call: ignored because spec.transport.timeouts is given');
    expect(warnings[1]).toContain('spec.transport.connect: ignored');
  });

  test('async settings are read in their units: durations, pool size, payload bytes and TLS files', () => {
    const [endpoint] = parse(
      `${ENDPOINT}  transport:
    type: io.statefun.transports.v1/async
    call: 90s
    connect: 5 s
    pool_ttl: 0
    pool_size: 16
    payload_max_bytes: 1048576
    trust_cacerts: /etc/ca.pem
    client_cert: /etc/client.pem
    client_key: file:///etc/client.key
    client_key_password: secret
`,
    ).endpoints;
    expect(endpoint!.transport).toEqual({
      type: 'async',
      callTimeoutMs: 90_000,
      connectTimeoutMs: 5_000,
      poolTtlMs: 0,
      poolSize: 16,
      payloadMaxBytes: 1_048_576,
      tls: {
        trustCaCerts: '/etc/ca.pem',
        clientCert: '/etc/client.pem',
        clientKey: '/etc/client.key',
        clientKeyPassword: 'secret',
      },
    });
  });

  test('a client certificate without its key is rejected', () => {
    const error = rejection(`${ENDPOINT}  transport:\n    client_cert: /etc/client.pem\n`);
    expect(messages(error.issues)[0]).toContain(
      'spec.transport.client_key: missing; expected client_key too',
    );
  });

  test('the okhttp transport defaults to a 1 min call and 10 s connect, read and write', () => {
    const [endpoint] = parse(
      `${ENDPOINT}  transport:\n    type: io.statefun.transports.v1/okhttp\n`,
    ).endpoints;
    expect(endpoint!.transport).toEqual({
      type: 'okhttp',
      callTimeoutMs: 60_000,
      connectTimeoutMs: 10_000,
      readTimeoutMs: 10_000,
      writeTimeoutMs: 10_000,
      poolTtlMs: TRANSPORT_DEFAULTS.okhttp.poolTtlMs,
      poolSize: 1024,
      payloadMaxBytes: 33_554_432,
    });
  });

  test('a default okhttp read timeout longer than a short call is rejected as well', () => {
    const error = rejection(
      `${ENDPOINT}  transport:\n    type: io.statefun.transports.v1/okhttp\n    timeouts: {call: 5s}\n`,
    );
    expect(error.issues.map((issue) => issue.path)).toEqual([
      'spec.transport.timeouts.connect',
      'spec.transport.timeouts.read',
      'spec.transport.timeouts.write',
    ]);
    expect(messages(error.issues)[1]).toContain('found 10s (the default), longer than the call timeout (5s)');
  });

  test('a v1 endpoint always uses okhttp with its top-level timeouts', () => {
    const [endpoint] = parse(`kind: io.statefun.endpoints.v1/http
spec:
  functions: com.example/greeter
  urlPathTemplate: https://fns.example.com/greeter?x={function.name}
  maxNumBatchRequests: 0
  timeouts: {call: 2 min, read: 30s}
`).endpoints;
    expect(endpoint).toMatchObject({
      kind: 'io.statefun.endpoints.v1/http',
      functions: 'com.example/greeter',
      match: { kind: 'exact', typename: 'com.example/greeter' },
      maxNumBatchRequests: 0,
      transport: { type: 'okhttp', callTimeoutMs: 120_000, readTimeoutMs: 30_000, connectTimeoutMs: 10_000 },
    });
  });

  test('maxNumBatchRequests of 0 or less is accepted as unbounded, with a warning', () => {
    const module = parse(`${ENDPOINT}  maxNumBatchRequests: -1\n`);
    expect(module.endpoints[0]!.maxNumBatchRequests).toBe(-1);
    expect(messages(module.warnings)[0]).toContain(
      'spec.maxNumBatchRequests: -1 disables the per-address backlog bound',
    );
  });

  test('maxConcurrentCalls sets the bulkhead of an endpoint; it must be a whole number of at least 1', () => {
    expect(parse(ENDPOINT).endpoints[0]!.maxConcurrentCalls).toBeUndefined();
    expect(parse(`${ENDPOINT}  maxConcurrentCalls: 16\n`).endpoints[0]!.maxConcurrentCalls).toBe(16);
    expect(() => parse(`${ENDPOINT}  maxConcurrentCalls: 0\n`)).toThrow(/spec\.maxConcurrentCalls/);
  });

  test('unix-socket URLs with a .sock segment are accepted verbatim', () => {
    const [endpoint] = parse(`kind: io.statefun.endpoints.v2/http
spec:
  functions: com.example/*
  urlPathTemplate: http+unix:///var/run/fns.sock/{function.name}
`).endpoints;
    expect(endpoint!.urlPathTemplate).toBe('http+unix:///var/run/fns.sock/{function.name}');
  });
});

describe('Kafka defaults and settings', () => {
  const ingress = (extra: string): string => `${ENDPOINT}---
kind: io.statefun.kafka.v1/ingress
spec:
  id: com.example/in
  topics:
    - topic: names
      valueType: com.example/Name
      targets: [com.example/greeter, com.example/audit]
${extra}`;

  test('an ingress starts from latest, resets to latest, and takes brokers and group from properties', () => {
    const [config] = parse(
      ingress(`  properties:
    - bootstrap.servers: k1:9092, k2:9092
    - group.id: from-properties
    - max.poll.records: 100
    - fetch.ratio: 0.10
    - enable.auto.commit: false
`),
    ).kafkaIngresses;
    expect(config).toMatchObject({
      brokers: ['k1:9092', 'k2:9092'],
      consumerGroupId: 'from-properties',
      startupPosition: { type: 'latest' },
      autoOffsetResetPosition: 'latest',
      properties: {
        'bootstrap.servers': 'k1:9092, k2:9092',
        'group.id': 'from-properties',
        'max.poll.records': '100',
        'fetch.ratio': '0.10',
        'enable.auto.commit': 'false',
      },
    });
  });

  test('named keys override the same settings in properties', () => {
    const [config] = parse(
      ingress(`  address: kafka:9092
  consumerGroupId: named
  autoOffsetResetPosition: EARLIEST
  properties:
    - bootstrap.servers: ignored:9092
    - group.id: ignored
`),
    ).kafkaIngresses;
    expect(config).toMatchObject({
      brokers: ['kafka:9092'],
      consumerGroupId: 'named',
      autoOffsetResetPosition: 'earliest',
    });
  });

  test('an ingress without any brokers is valid: the command line supplies them', () => {
    const [config] = parse(ingress('')).kafkaIngresses;
    expect(config!.brokers).toEqual([]);
    expect(config!.consumerGroupId).toBeUndefined();
  });

  test('specific offsets are keyed "<topic>/<partition>"', () => {
    const [config] = parse(
      ingress(`  startupPosition:
    type: specific-offsets
    offsets:
      - names/0: 42
      - "names/1": 7
`),
    ).kafkaIngresses;
    expect(config!.startupPosition).toEqual({
      type: 'specific-offsets',
      offsets: { 'names/0': 42, 'names/1': 7 },
    });
  });

  test('a date start position is read as "yyyy-MM-dd HH:mm:ss.SSS Z"', () => {
    const [config] = parse(
      ingress(`  startupPosition:
    type: date
    date: "2024-05-01 13:45:00.250 +0200"
`),
    ).kafkaIngresses;
    expect(config!.startupPosition).toEqual({
      type: 'date',
      epochMs: Date.parse('2024-05-01T11:45:00.250Z'),
    });
  });

  test('impossible start dates are rejected', () => {
    expect(parseStartupDate('2023-02-29 00:00:00.000 +0000')).toBeUndefined();
    expect(parseStartupDate('2024-02-29 00:00:00.000 +0000')).toBe(Date.parse('2024-02-29T00:00:00Z'));
    expect(parseStartupDate('2024-13-01 00:00:00.000 +0000')).toBeUndefined();
    expect(parseStartupDate('2024-05-01 24:00:00.000 +0000')).toBeUndefined();
    expect(parseStartupDate('2024-05-01 12:00:00.000 -0530')).toBe(Date.parse('2024-05-01T17:30:00Z'));
  });

  const egress = (extra: string): string => `kind: io.statefun.kafka.v1/egress
spec:
  id: com.example/out
${extra}`;

  test('an egress delivers at-least-once by default', () => {
    const [config] = parse(egress('  address: kafka:9092\n')).kafkaEgresses;
    expect(config).toMatchObject({ brokers: ['kafka:9092'], deliverySemantic: { type: 'at-least-once' } });
    expect(config!.deliverySemantic.transactionTimeoutMs).toBeUndefined();
  });

  test('the deprecated transactionTimeoutMillis wins over transactionTimeout and is a number of ms', () => {
    const module = parse(
      egress(`  deliverySemantic:
    type: exactly-once
    transactionTimeout: 15min
    transactionTimeoutMillis: 100000
`),
    );
    expect(module.kafkaEgresses[0]!.deliverySemantic).toEqual({
      type: 'exactly-once',
      transactionTimeoutMs: 100_000,
    });
    expect(messages(module.warnings)[0]).toContain(
      'transactionTimeoutMillis: deprecated, and it takes priority',
    );
  });

  test('none needs no transaction timeout and brokers may come from properties', () => {
    const [config] = parse(
      egress(`  deliverySemantic: {type: none}
  properties:
    - bootstrap.servers: kafka:9092
`),
    ).kafkaEgresses;
    expect(config).toMatchObject({ brokers: ['kafka:9092'], deliverySemantic: { type: 'none' } });
  });
});

describe('playground components', () => {
  test('the playground egress has the fixed id io.statefun.playground/egress', () => {
    const module = parse(`kind: io.statefun.playground.v1/ingress
spec: {port: 8090}
---
kind: io.statefun.playground.v1/egress
spec: {port: 0, topics: [greetings, greetings, audit]}
`);
    expect(module.playgroundIngresses).toEqual([
      {
        kind: 'io.statefun.playground.v1/ingress',
        port: 8090,
        eventTime: { maxOutOfOrdernessMs: 0, idleTimeoutMs: 30_000, extractor: { type: 'ingress-time' } },
        source: { file: 'module.yaml', document: 1, line: 1 },
      },
    ]);
    expect(module.playgroundEgresses[0]).toMatchObject({
      id: 'io.statefun.playground/egress',
      port: 0,
      topics: ['greetings', 'audit'],
    });
  });

  test('two playground egresses clash on their fixed id', () => {
    const error = rejection(`kind: io.statefun.playground.v1/egress
spec: {port: 8091, topics: [a]}
---
kind: io.statefun.playground.v1/egress
spec: {port: 8092, topics: [b]}
`);
    expect(messages(error.issues)).toEqual([
      expect.stringContaining(
        'module.yaml, document 2 (line 5, kind io.statefun.playground.v1/egress), spec: found a playground egress (fixed id io.statefun.playground/egress) again',
      ),
    ]);
  });
});

describe('legacy v3.0 format', () => {
  test('is converted to components of the current kinds, ids taken from meta', async () => {
    const file = join(validDir, 'legacy-v3.0.yaml');
    const module = await loadModule(file);
    expect(module.endpoints).toEqual([
      {
        kind: 'io.statefun.endpoints.v1/http',
        functions: 'com.example/*',
        match: { kind: 'namespace', namespace: 'com.example' },
        urlPathTemplate: 'http://fns:8000/statefun',
        maxNumBatchRequests: 10_000,
        transport: {
          type: 'okhttp',
          callTimeoutMs: 120_000,
          connectTimeoutMs: 10_000,
          readTimeoutMs: 10_000,
          writeTimeoutMs: 10_000,
          poolTtlMs: 60_000,
          poolSize: 1024,
          payloadMaxBytes: 33_554_432,
        },
        source: { file, document: 1, line: 10 },
      },
    ]);
    expect(module.kafkaIngresses[0]).toMatchObject({
      kind: 'io.statefun.kafka.v1/ingress',
      id: 'com.example/names',
      brokers: ['kafka-broker:9092'],
      consumerGroupId: 'greeter',
      topics: [{ topic: 'names', valueType: 'com.example/Name', targets: ['com.example/greeter'] }],
      source: { file, document: 1, line: 23 },
    });
    expect(module.kafkaEgresses[0]).toMatchObject({
      id: 'com.example/greets',
      deliverySemantic: { type: 'exactly-once', transactionTimeoutMs: 100_000 },
      properties: { 'linger.ms': '5' },
    });
    expect(messages(module.warnings)).toEqual([
      expect.stringContaining('version: the legacy v3.0 module format is deprecated'),
      expect.stringContaining(
        'module.spec.egresses[0].egress.spec.deliverySemantic.transactionTimeoutMillis: deprecated',
      ),
    ]);
  });

  test('an unquoted version 3.0 is read as "3.0"', () => {
    const module = parse(`version: 3.0
module:
  meta: {type: remote}
  spec:
    endpoints:
      - endpoint:
          meta: {kind: http}
          spec: {functions: com.example/greeter, urlPathTemplate: "http://fns/greeter"}
`);
    expect(module.endpoints[0]!.functions).toBe('com.example/greeter');
  });

  test('an invalid legacy id is reported where it is written: meta.id', () => {
    const error = rejection(`version: "3.0"
module:
  meta: {type: remote}
  spec:
    egresses:
      - egress:
          meta: {type: io.statefun.kafka/egress, id: no-slash}
          spec: {address: kafka:9092}
`);
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]).toMatchObject({ path: 'module.spec.egresses[0].egress.meta.id', line: 7 });
  });

  test('version 1.0 is rejected like 2.0', () => {
    const error = rejection('version: "1.0"\nmodule: {meta: {type: remote}, spec: {}}\n');
    expect(messages(error.issues)[0]).toContain(
      'version: found "1.0", a module format that is no longer supported',
    );
  });

  test('a legacy module must be of type remote', () => {
    const error = rejection('version: "3.0"\nmodule: {meta: {type: embedded}, spec: {}}\n');
    expect(messages(error.issues)[0]).toContain('module.meta.type: found "embedded"; expected remote');
  });
});

describe('documents, optional components and unsupported kinds', () => {
  test('null and empty documents are skipped but still counted in document numbers', () => {
    const error = rejection(`---
# only a comment
---
---
kind: io.statefun.playground.v1/ingress
spec: {port: -1}
`);
    expect(error.issues[0]).toMatchObject({ document: 3, line: 6, path: 'spec.port' });
  });

  test('an optional Kinesis component is validated, then skipped', () => {
    const module = parse(`${ENDPOINT}---
kind: io.statefun.kinesis.v1/egress
optional: true
spec:
  id: com.example/kinesis-out
  awsRegion: {type: specific, id: eu-west-1}
  maxOutstandingRecords: 100
`);
    expect(module.skipped).toEqual([
      {
        kind: 'io.statefun.kinesis.v1/egress',
        id: 'com.example/kinesis-out',
        source: { file: 'module.yaml', document: 2, line: 6 },
      },
    ]);
  });

  test('an optional Kinesis component with an invalid spec is still an error', () => {
    const error = rejection(`kind: io.statefun.kinesis.v1/ingress
optional: true
spec:
  id: com.example/in
  streams: []
`);
    expect(messages(error.issues)[0]).toContain('spec.streams: found an empty list');
  });

  test('allowUnsupported skips Kinesis components that are not marked optional', () => {
    const module = parse(
      `kind: io.statefun.kinesis.v1/egress
spec: {id: com.example/kinesis-out}
`,
      { allowUnsupported: true },
    );
    expect(module.skipped.map((skipped) => skipped.kind)).toEqual(['io.statefun.kinesis.v1/egress']);
  });

  test('allowUnsupported does not accept unknown kinds', () => {
    const error = rejection('kind: com.example/custom\nspec: {}\n', { allowUnsupported: true });
    expect(error.issues[0]).toMatchObject({ path: 'kind', document: 1 });
  });

  test('an unknown kind marked optional is skipped', () => {
    const module = parse(`kind: com.example.v1/custom-ingress
optional: true
spec: {id: com.example/custom}
`);
    expect(module.skipped).toEqual([
      { kind: 'com.example.v1/custom-ingress', id: 'com.example/custom', source: expect.anything() },
    ]);
  });

  test('optional must be true or false', () => {
    const error = rejection(`${ENDPOINT}optional: yes please\n`);
    expect(messages(error.issues)[0]).toContain('optional: found "yes please"; expected true or false');
  });

  test('a document that is not a mapping is rejected', () => {
    const error = rejection('- kind: io.statefun.playground.v1/ingress\n');
    expect(messages(error.issues)[0]).toContain(
      'document 1 (line 1): found a list of 1 entry; expected a component: a mapping with the keys kind and spec',
    );
  });

  test('anchors, aliases and merge keys (<<) are honoured within a document', () => {
    const module = parse(`kind: io.statefun.endpoints.v2/http
spec:
  functions: com.example/*
  urlPathTemplate: http://fns:8000/{function.name}
  transport:
    <<: {call: 45s, pool_size: 4}
    connect: 2s
---
kind: io.statefun.kafka.v1/ingress
spec:
  id: com.example/in
  topics:
    - topic: names
      valueType: com.example/Name
      targets: &both [com.example/greeter, com.example/audit]
    - topic: renames
      valueType: com.example/Name
      targets: *both
`);
    expect(module.endpoints[0]!.transport).toMatchObject({
      callTimeoutMs: 45_000,
      poolSize: 4,
      connectTimeoutMs: 2_000,
    });
    expect(module.kafkaIngresses[0]!.topics[1]!.targets).toEqual([
      'com.example/greeter',
      'com.example/audit',
    ]);
  });

  test('a duplicate key in one mapping is a YAML error', () => {
    const error = rejection(`${ENDPOINT}  functions: com.example/greeter\n`);
    expect(error.issues[0]).toMatchObject({ document: 1, line: 5 });
    expect(error.issues[0]!.message).toContain('YAML syntax error: Map keys must be unique');
  });

  test('an empty file is a valid module without components, with a warning', () => {
    const module = parse('# nothing yet\n');
    expect(module.endpoints).toEqual([]);
    expect(messages(module.warnings)).toEqual([expect.stringContaining('the module declares no components')]);
  });
});

describe('warnings', () => {
  test('a likely typo in a key is reported with a suggestion, and the key is ignored', () => {
    const warnings: ModuleIssue[] = [];
    const module = parse(`${ENDPOINT}  transports:\n    type: io.statefun.transports.v1/okhttp\n`, {
      onWarning: (warning) => warnings.push(warning),
    });
    expect(module.endpoints[0]!.transport.type).toBe('async');
    expect(warnings).toEqual(module.warnings);
    expect(messages(warnings)).toEqual([
      'module.yaml, document 1 (line 5, kind io.statefun.endpoints.v2/http), spec.transports: unknown key, ignored; did you mean "transport"?',
    ]);
  });

  test('unknown keys deep inside a spec are found too', () => {
    const module = parse(`${ENDPOINT}---
kind: io.statefun.kafka.v1/ingress
spec:
  id: com.example/in
  topics:
    - topic: names
      valuetype: com.example/Name
      valueType: com.example/Name
      targets: [com.example/greeter]
kinds: oops
`);
    expect(messages(module.warnings)).toEqual([
      expect.stringContaining(
        'line 11, kind io.statefun.kafka.v1/ingress), spec.topics[0].valuetype: unknown key',
      ),
      expect.stringContaining('document 2 (line 14), kinds: unknown key, ignored; did you mean "kind"?'),
    ]);
  });

  test('strict mode turns warnings into errors', () => {
    const error = rejection(`${ENDPOINT}  maxNumBatchReqests: 10\n`, { strict: true });
    expect(error.issues).toEqual([
      expect.objectContaining({ severity: 'error', path: 'spec.maxNumBatchReqests', line: 5 }),
    ]);
    expect(error.message).toContain('did you mean "maxNumBatchRequests"?');
  });

  test('warnings are listed in the error message when the module also has errors', () => {
    const error = rejection(`${ENDPOINT}  transports: {}\n  maxNumBatchRequests: lots\n`);
    expect(error.issues).toHaveLength(1);
    expect(error.warnings).toHaveLength(1);
    expect(error.message).toMatch(
      /spec\.maxNumBatchRequests: found "lots"[\s\S]*Warnings:[\s\S]*spec\.transports/u,
    );
  });
});

describe('reading the file', () => {
  test('a missing file fails with MODULE_UNREADABLE and the resolved path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'continuum-module-'));
    try {
      const file = join(dir, 'missing.yaml');
      const error = await loadModule(file).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(ModuleError);
      expect(error).toMatchObject({ code: 'MODULE_UNREADABLE', retryable: false });
      expect((error as ModuleError).message).toContain(`cannot read the file (ENOENT) at ${file}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('classpath: locations are explained, not attempted', async () => {
    const error = await loadModule('classpath:module.yaml').catch((err: unknown) => err);
    expect(error).toMatchObject({ code: 'MODULE_UNREADABLE' });
    expect((error as Error).message).toContain('classpath: resources exist only in the JVM');
  });

  test('a written file is read with its own name in every message', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'continuum-module-'));
    try {
      const file = join(dir, 'module.yaml');
      await writeFile(file, 'kind: io.statefun.playground.v1/ingress\nspec: {port: 99999}\n');
      const error = (await loadModule(file).catch((err: unknown) => err)) as ModuleError;
      expect(error.message.startsWith(`${file}, document 1 (line 2`)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
