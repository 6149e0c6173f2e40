// Every value of the chart is documented (values.yaml comment → README table) and declared in
// values.schema.json, so none can be added, renamed or removed silently.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { parse } from 'yaml';
import {
  documentedKeys,
  readmeFile,
  replaceTable,
  valuesFile,
  valuesTable,
} from '../scripts/values-table.mjs';
import { chartDir, lint } from './support/helm.js';

const valuesText = readFileSync(valuesFile, 'utf8');
const values = parse(valuesText) as Record<string, unknown>;

/** Dotted paths of the leaves of the values: scalars, lists and empty maps. */
function leafPaths(node: unknown, prefix = ''): string[] {
  if (typeof node !== 'object' || node === null || Array.isArray(node) || Object.keys(node).length === 0) {
    return [prefix];
  }
  return Object.entries(node).flatMap(([key, child]) => leafPaths(child, prefix ? `${prefix}.${key}` : key));
}

interface SchemaNode {
  $ref?: string;
  allOf?: SchemaNode[];
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
}

const schema = JSON.parse(readFileSync(join(chartDir, 'values.schema.json'), 'utf8')) as SchemaNode & {
  definitions: Record<string, SchemaNode>;
};

function resolveRef(node: SchemaNode): SchemaNode {
  if (node.$ref) return resolveRef(schema.definitions[node.$ref.replace('#/definitions/', '')]!);
  if (node.allOf?.length === 1) return resolveRef(node.allOf[0]!);
  return node;
}

/** Whether the schema declares the path; a free-form object (no `properties`) declares everything below it. */
function declared(path: string): boolean {
  let node: SchemaNode = schema;
  for (const key of path.split('.')) {
    node = resolveRef(node);
    if (!node.properties) return node.additionalProperties !== false;
    const child = node.properties[key];
    if (!child) return false;
    node = child;
  }
  return true;
}

test('every value has a description, on itself or on an enclosing key', () => {
  const documented = new Set(documentedKeys(valuesText).map((d) => d.key));
  const covered = (path: string) =>
    path.split('.').some((_, i, parts) => documented.has(parts.slice(0, i + 1).join('.')));
  expect(leafPaths(values).filter((path) => !covered(path))).toEqual([]);
});

test('every documented key exists in values.yaml', () => {
  const missing = documentedKeys(valuesText)
    .map((d) => d.key)
    .filter(
      (key) =>
        key.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown>)?.[part], values) ===
        undefined,
    );
  expect(missing).toEqual([]);
});

test('every value is declared in values.schema.json', () => {
  expect(leafPaths(values).filter((path) => !declared(path))).toEqual([]);
});

test('the schema declares nothing that values.yaml lacks (no stale keys)', () => {
  const stale: string[] = [];
  // Shared definitions (resources, probe timings, images) may declare optional keys; only the chart's
  // own sections are compared.
  const walk = (node: SchemaNode, valueNode: unknown, path: string) => {
    if (node.$ref || node.allOf || !node.properties || typeof valueNode !== 'object' || valueNode === null)
      return;
    for (const [key, child] of Object.entries(node.properties)) {
      const childPath = path ? `${path}.${key}` : key;
      if (!(key in valueNode)) stale.push(childPath);
      else walk(child, (valueNode as Record<string, unknown>)[key], childPath);
    }
  };
  walk(schema, values, '');
  // `global` belongs to parent charts; function entries' own keys live under `functions`, not in values.
  expect(stale.filter((path) => path !== 'global')).toEqual([]);
});

test('the README values table is the one generated from values.yaml', () => {
  const readme = readFileSync(readmeFile, 'utf8');
  expect(readme).toBe(replaceTable(readme, valuesTable(valuesText)));
});

test('every values example in the chart README and the deploy guide passes helm lint --strict', async () => {
  // The deploy guide is the "Deploy on Kubernetes" section of the repository README.
  const rootReadme = join(chartDir, '..', '..', 'README.md');
  const guide =
    /## Deploy on Kubernetes\n([\s\S]*?)(?=\n## )/.exec(readFileSync(rootReadme, 'utf8'))?.[1] ?? '';
  expect(guide, 'README.md has a "Deploy on Kubernetes" section').not.toBe('');
  const docs = [
    { file: readmeFile, text: readFileSync(readmeFile, 'utf8') },
    { file: rootReadme, text: guide },
  ];
  const examples = docs.flatMap(({ file, text }) =>
    [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => ({
      file,
      text: dedent(m[1]!),
    })),
  );
  expect(examples.length).toBeGreaterThanOrEqual(3);
  for (const example of examples) {
    const result = await lint({ values: parse(example.text) as Record<string, unknown> });
    expect(result.code, `${example.file}:\n${example.text}\n${result.stdout}${result.stderr}`).toBe(0);
  }
});

function dedent(text: string): string {
  const lines = text.split('\n');
  const indent = Math.min(
    ...lines.filter((l) => l.trim() !== '').map((l) => l.length - l.trimStart().length),
  );
  return lines.map((l) => l.slice(indent)).join('\n');
}
