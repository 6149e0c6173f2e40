// Runs the pinned Helm binary against the chart: `helm lint --strict` and `helm template`, the latter
// parsed into Kubernetes objects (each tagged with the template it came from).
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IDeployment, IStatefulSet } from 'kubernetes-models/apps/v1';
import type { IContainer, IPodSpec } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { getHelm } from '../../scripts/get-helm.mjs';

/** The chart directory. */
export const chartDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'continuum');

/** A value file shipped in the chart's ci/ directory. */
export function ciValues(name: string): string {
  return join(chartDir, 'ci', name);
}

/** The named value sets every test of the whole chart runs over. */
export const valueSets: readonly { name: string; files: readonly string[] }[] = [
  { name: 'defaults', files: [] },
  { name: 'try-out with bundled Kafka and Redis', files: [ciValues('tryout-values.yaml')] },
  { name: 'all opt-ins on', files: [ciValues('all-optins-values.yaml')] },
  { name: 'existing secrets', files: [ciValues('existing-secrets-values.yaml')] },
];

/** A rendered Kubernetes object. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

/** A rendered object with the template file that produced it. */
export interface Rendered {
  source: string;
  object: K8sObject;
}

export interface RenderOptions {
  /** Value files, in order. */
  files?: readonly string[];
  /** `--set` assignments. */
  set?: readonly string[];
  /** `--set-string` assignments. */
  setString?: readonly string[];
  /** Values given as an object, read by helm from stdin (`-f -`) after `files`. */
  values?: Record<string, unknown>;
  releaseName?: string;
  namespace?: string;
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

const HELM_TIMEOUT_MS = 60_000;

/** Runs helm with the given arguments; never rejects on a non-zero exit (the result carries it). */
export async function helm(args: readonly string[], stdin?: string): Promise<HelmResult> {
  const binary = await getHelm();
  return new Promise((done, fail) => {
    const child = execFile(
      binary,
      [...args],
      { timeout: HELM_TIMEOUT_MS, maxBuffer: 32 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') {
          fail(new Error(`could not run ${binary}: ${error.message}`, { cause: error }));
          return;
        }
        done({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
      },
    );
    child.stdin?.end(stdin ?? '');
  });
}

function valueArgs(options: RenderOptions): string[] {
  const args: string[] = [];
  for (const file of options.files ?? []) args.push('-f', file);
  if (options.values) args.push('-f', '-');
  for (const assignment of options.set ?? []) args.push('--set', assignment);
  for (const assignment of options.setString ?? []) args.push('--set-string', assignment);
  return args;
}

/** `helm lint --strict` with the given values. */
export function lint(options: RenderOptions = {}): Promise<HelmResult> {
  return helm(['lint', '--strict', chartDir, ...valueArgs(options)], stdinOf(options));
}

function stdinOf(options: RenderOptions): string | undefined {
  // JSON is YAML, and keeps strings such as module.yaml byte for byte.
  return options.values ? JSON.stringify(options.values) : undefined;
}

/** `helm template`; resolves with the raw result (for tests of failures). */
export function template(options: RenderOptions = {}): Promise<HelmResult> {
  return helm(
    [
      'template',
      options.releaseName ?? 'demo',
      chartDir,
      '--namespace',
      options.namespace ?? 'streaming',
      ...valueArgs(options),
    ],
    stdinOf(options),
  );
}

/** `helm template`, parsed; throws with helm's message when rendering fails. */
export async function render(options: RenderOptions = {}): Promise<Rendered[]> {
  const result = await template(options);
  if (result.code !== 0) throw new Error(`helm template failed (exit ${result.code}):\n${result.stderr}`);
  return parseManifests(result.stdout);
}

/** Splits `helm template` output into objects, keeping each one's `# Source:` template. */
export function parseManifests(manifests: string): Rendered[] {
  const rendered: Rendered[] = [];
  // Split on document markers by hand: the YAML parser attaches `# Source:` comments inconsistently.
  for (const chunk of manifests.split(/^---[ \t]*$/m)) {
    const source = /^# Source: (\S+)/m.exec(chunk)?.[1] ?? '(unknown template)';
    for (const doc of parseAllDocuments(chunk)) {
      if (doc.errors.length > 0)
        throw new Error(`${source} rendered invalid YAML: ${doc.errors[0]?.message}`);
      const object: unknown = doc.toJS();
      if (object === null || object === undefined) continue;
      if (!isK8sObject(object)) {
        throw new Error(
          `${source} rendered a document that is not a Kubernetes object: ${JSON.stringify(object)}`,
        );
      }
      rendered.push({ source, object });
    }
  }
  return rendered;
}

function isK8sObject(value: unknown): value is K8sObject {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<K8sObject>;
  return (
    typeof candidate.apiVersion === 'string' &&
    typeof candidate.kind === 'string' &&
    typeof candidate.metadata === 'object' &&
    typeof candidate.metadata.name === 'string'
  );
}

/**
 * Renders NOTES.txt, which `helm template` leaves out and `helm install --dry-run` cannot render without
 * a cluster: a copy of the chart gets a template that includes the notes as a ConfigMap value.
 */
export async function renderNotes(options: RenderOptions = {}): Promise<string> {
  const copy = mkdtempSync(join(tmpdir(), 'continuum-chart-'));
  try {
    cpSync(chartDir, copy, { recursive: true });
    const notes = readFileSync(join(copy, 'templates', 'NOTES.txt'), 'utf8');
    writeFileSync(
      join(copy, 'templates', '_notes-under-test.tpl'),
      `{{- define "test.notes" -}}\n${notes}{{- end -}}\n`,
    );
    writeFileSync(
      join(copy, 'templates', 'notes-under-test.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: {{ include "test.notes" . | toJson }}\n',
    );
    const result = await helm(
      [
        'template',
        options.releaseName ?? 'demo',
        copy,
        '--namespace',
        options.namespace ?? 'streaming',
        '--show-only',
        'templates/notes-under-test.yaml',
        ...valueArgs(options),
      ],
      stdinOf(options),
    );
    if (result.code !== 0)
      throw new Error(`rendering NOTES.txt failed (exit ${result.code}):\n${result.stderr}`);
    const notesMap = parseManifests(result.stdout)[0]?.object as { data?: { notes?: string } } | undefined;
    return notesMap?.data?.notes ?? '';
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

/**
 * The one object of a kind and name, typed as the caller's model interface (e.g. `IDeployment`);
 * throws listing what was rendered otherwise.
 */
export function find<T = K8sObject>(rendered: readonly Rendered[], kind: string, name: string): T {
  const hit = rendered.find((r) => r.object.kind === kind && r.object.metadata.name === name);
  if (!hit) {
    const all = rendered.map((r) => `${r.object.kind}/${r.object.metadata.name}`).join(', ');
    throw new Error(`no ${kind}/${name} rendered; got: ${all}`);
  }
  return hit.object as T;
}

/** All objects of a kind, typed as the caller's model interface. */
export function ofKind<T = K8sObject>(rendered: readonly Rendered[], kind: string): T[] {
  return rendered.filter((r) => r.object.kind === kind).map((r) => r.object as T);
}

/** The pod spec of a Deployment or StatefulSet. */
export function podSpec(
  rendered: readonly Rendered[],
  kind: 'Deployment' | 'StatefulSet',
  name: string,
): IPodSpec {
  const workload = find<IDeployment | IStatefulSet>(rendered, kind, name);
  const spec = workload.spec?.template.spec;
  if (!spec) throw new Error(`${kind}/${name} has no pod spec`);
  return spec;
}

/** The first container of a Deployment or StatefulSet. */
export function firstContainer(
  rendered: readonly Rendered[],
  kind: 'Deployment' | 'StatefulSet',
  name: string,
): IContainer {
  const container = podSpec(rendered, kind, name).containers[0];
  if (!container) throw new Error(`${kind}/${name} has no container`);
  return container;
}
