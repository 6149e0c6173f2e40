// The `eventTime` key of Kafka and playground ingresses: defaults, every setting, and errors that
// name the document, line and key path.

import { describe, expect, test } from 'vitest';
import { ModuleError, formatIssue, parseModule } from '../../src/module/index.js';
import type { ModuleConfig } from '../../src/module/index.js';

const ENDPOINT = `kind: io.statefun.endpoints.v2/http
spec:
  functions: com.example/*
  urlPathTemplate: http://fns:8000/{function.name}
---
`;

function kafkaIngress(eventTime: string): string {
  return `${ENDPOINT}kind: io.statefun.kafka.v1/ingress
spec:
  id: com.example/clicks
  address: kafka:9092
  topics:
    - topic: clicks
      valueType: com.example/Click
      targets: [com.example/windows]
${eventTime}`;
}

function parse(text: string): ModuleConfig {
  return parseModule(text, 'module.yaml');
}

function rejection(text: string): ModuleError {
  try {
    parse(text);
  } catch (err) {
    expect(err).toBeInstanceOf(ModuleError);
    return err as ModuleError;
  }
  throw new Error('expected the module to be rejected');
}

describe('eventTime of an ingress', () => {
  test('defaults: record timestamps (Kafka) or ingress time (playground), no disorder, idle after 30 s', () => {
    const module = parse(`${kafkaIngress('')}---
kind: io.statefun.playground.v1/ingress
spec: {port: 8090}
`);
    expect(module.kafkaIngresses[0]!.eventTime).toEqual({
      maxOutOfOrdernessMs: 0,
      idleTimeoutMs: 30_000,
      extractor: { type: 'record-timestamp' },
    });
    expect(module.playgroundIngresses[0]!.eventTime).toEqual({
      maxOutOfOrdernessMs: 0,
      idleTimeoutMs: 30_000,
      extractor: { type: 'ingress-time' },
    });
    expect(module.warnings).toEqual([]);
  });

  test('every setting: disorder bound and idle timeout as durations, a JSON field extractor', () => {
    const module = parse(
      kafkaIngress(`  eventTime:
    maxOutOfOrderness: 5s
    idleTimeout: 2 min
    extractor: {type: json-field, field: event.ts}
`),
    );
    expect(module.kafkaIngresses[0]!.eventTime).toEqual({
      maxOutOfOrdernessMs: 5_000,
      idleTimeoutMs: 120_000,
      extractor: { type: 'json-field', field: 'event.ts' },
    });
    expect(Object.isFrozen(module.kafkaIngresses[0]!.eventTime)).toBe(true);
  });

  test('idleTimeout 0 means a source is never idle', () => {
    const module = parse(kafkaIngress('  eventTime: {idleTimeout: 0}\n'));
    expect(module.kafkaIngresses[0]!.eventTime.idleTimeoutMs).toBe(0);
  });

  test('a json-field extractor without a field is rejected at its key path', () => {
    const error = rejection(kafkaIngress('  eventTime:\n    extractor: {type: json-field}\n'));
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]).toMatchObject({
      document: 2,
      line: 15, // the extractor's line: the missing field's nearest parent
      path: 'spec.eventTime.extractor.field',
    });
    expect(formatIssue(error.issues[0]!)).toContain(
      'missing; expected the JSON field holding the event time',
    );
  });

  test('an extractor a kind does not have, and a bad duration, are rejected with what is expected', () => {
    const error = rejection(
      kafkaIngress(`  eventTime:
    maxOutOfOrderness: five seconds
    extractor: {type: ingress-time}
`),
    );
    expect(error.issues.map((i) => i.path)).toEqual([
      'spec.eventTime.maxOutOfOrderness',
      'spec.eventTime.extractor.type',
    ]);
    expect(error.issues[1]!.message).toBe(
      'found "ingress-time"; expected one of record-timestamp, json-field',
    );
    const playground = rejection(`kind: io.statefun.playground.v1/ingress
spec:
  port: 8090
  eventTime: {extractor: {type: record-timestamp}}
`);
    expect(playground.issues[0]).toMatchObject({ document: 1, path: 'spec.eventTime.extractor.type' });
    expect(playground.issues[0]!.message).toContain('expected one of ingress-time, json-field');
  });

  test('a misspelt key inside eventTime is a warning that suggests the right one', () => {
    const module = parse(kafkaIngress('  eventTime: {maxOutOfOrdernes: 5s}\n'));
    expect(module.warnings!.map((w) => `${w.path}: ${w.message}`)).toEqual([
      'spec.eventTime.maxOutOfOrdernes: unknown key, ignored; did you mean "maxOutOfOrderness"?',
    ]);
  });
});
