// The whole chart over each named value set: the pinned helm lints it strictly, renders it, and every
// rendered object is valid against the Kubernetes schemas, unknown fields included.
import { execFileSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { getHelm, HELM_VERSION } from '../scripts/get-helm.mjs';
import { lint, render, valueSets } from './support/helm.js';
import { describe as describeViolations, validateObjects } from './support/k8s-schema.js';

test('the test helm is the pinned, checksum-verified release and is cached after the first run', async () => {
  const binary = await getHelm();
  expect(execFileSync(binary, ['version', '--short'], { encoding: 'utf8' })).toContain(`v${HELM_VERSION}+`);
  const started = performance.now();
  expect(await getHelm()).toBe(binary);
  expect(performance.now() - started).toBeLessThan(2_000);
});

describe.each(valueSets)('value set "$name"', ({ files }) => {
  test('passes helm lint --strict', async () => {
    const result = await lint({ files });
    expect(result.stdout + result.stderr).toContain('0 chart(s) failed');
    expect(result.code).toBe(0);
  });

  test('renders only objects that are valid against their Kubernetes schema', async () => {
    const rendered = await render({ files });
    expect(rendered.length).toBeGreaterThan(0);
    const violations = validateObjects(rendered);
    expect(violations, describeViolations(violations)).toEqual([]);
  });
});
