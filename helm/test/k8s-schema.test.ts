// The schema check used on the chart must itself catch what it is there to catch: unknown fields at any
// depth, wrong types, missing required fields and kinds it has no schema for.
import { beforeAll, expect, test } from 'vitest';
import { render, type Rendered } from './support/helm.js';
import { validateObjects } from './support/k8s-schema.js';

let defaults: Rendered[];

beforeAll(async () => {
  defaults = await render({ files: [] });
});

/** Sets (or with `undefined`, deletes) the field at a JSON path such as `/spec/replicas`. */
function setPath(root: object, path: string, value: unknown): void {
  const keys = path.split('/').slice(1);
  const last = keys.pop()!;
  let node = root as Record<string, unknown>;
  for (const key of keys) node = node[key] as Record<string, unknown>;
  if (value === undefined) delete node[last];
  else node[last] = value;
}

function deploymentCopy(): Rendered {
  const found = defaults.find(
    (r) => r.object.kind === 'Deployment' && r.object.metadata.name === 'demo-continuum',
  );
  if (!found) throw new Error('the runtime Deployment was not rendered');
  return structuredClone(found);
}

test('a misspelt field deep inside a pod template is reported with its path', () => {
  const deployment = deploymentCopy();
  setPath(deployment.object, '/spec/template/spec/containers/0/imagePullPolicyy', 'Always');
  const violations = validateObjects([deployment]);
  expect(violations).toHaveLength(1);
  expect(violations[0]).toMatchObject({
    object: 'Deployment/demo-continuum',
    source: 'continuum/templates/deployment.yaml',
    path: '/spec/template/spec/containers/0/imagePullPolicyy',
  });
  expect(violations[0]!.message).toContain('imagePullPolicyy');
});

test('every unknown field of an object is reported, not only the first', () => {
  const deployment = deploymentCopy();
  setPath(deployment.object, '/spec/replcas', 3);
  setPath(deployment.object, '/spec/template/spec/containers/0/resources/limit', { cpu: '1' });
  setPath(deployment.object, '/metadata/label', { a: 'b' });
  const paths = validateObjects([deployment]).map((v) => v.path);
  expect(paths.sort()).toEqual(
    ['/metadata/label', '/spec/replcas', '/spec/template/spec/containers/0/resources/limit'].sort(),
  );
});

test('a wrong type and a missing required field are reported', () => {
  const deployment = deploymentCopy();
  setPath(deployment.object, '/spec/template/spec/containers/0/ports/0/containerPort', 'nine-thousand');
  setPath(deployment.object, '/spec/selector', undefined);
  const messages = validateObjects([deployment])
    .map((v) => v.message)
    .join('\n');
  expect(messages).toMatch(/containerPort/);
  expect(messages).toMatch(/selector/);
});

test('an unknown field in a ServiceMonitor (a custom resource) is reported', () => {
  const serviceMonitor: Rendered = {
    source: 'continuum/templates/servicemonitor.yaml',
    object: {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: { name: 'demo' },
      spec: { selector: { matchLabels: { a: 'b' } }, endpoints: [{ port: 'admin', intervall: '30s' }] },
    },
  };
  const violations = validateObjects([serviceMonitor]);
  expect(violations.map((v) => v.path)).toEqual(['/spec/endpoints/0/intervall']);
});

test('a kind without a known schema is a violation, not silently accepted', () => {
  const unknown: Rendered = {
    source: 'continuum/templates/ingress.yaml',
    object: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'demo' } },
  };
  expect(validateObjects([unknown])[0]?.message).toMatch(/no schema known for networking.k8s.io\/v1 Ingress/);
});

test('objects that are valid produce no violation', () => {
  expect(validateObjects(defaults)).toEqual([]);
});
