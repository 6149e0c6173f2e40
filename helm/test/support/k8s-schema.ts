// Validates rendered objects against the Kubernetes API schemas shipped by kubernetes-models: the
// models' validate() checks types, required fields and formats; it ignores unknown fields, so a second
// check type-checks each object as an object literal of the model's TypeScript interface, where every
// unknown field is an excess-property error.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { ConfigMap, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import type { K8sObject, Rendered } from './helm.js';

interface Model {
  /** Builds the model and throws when the data breaks the schema. */
  check(data: K8sObject): void;
  /** The TypeScript type of the object, as an import type expression. */
  typeExpression: string;
}

function model<T extends { validate(): void }>(
  Ctor: new (data: never) => T,
  moduleName: string,
  interfaceName: string,
): Model {
  return {
    check: (data) => new Ctor(data as never).validate(),
    typeExpression: `import(${JSON.stringify(moduleName)}).${interfaceName}`,
  };
}

/** Every kind the chart may render, by `apiVersion/kind`. A kind missing here fails validation. */
const models: ReadonlyMap<string, Model> = new Map([
  ['v1/ConfigMap', model(ConfigMap, 'kubernetes-models/v1', 'IConfigMap')],
  ['v1/Secret', model(Secret, 'kubernetes-models/v1', 'ISecret')],
  ['v1/Service', model(Service, 'kubernetes-models/v1', 'IService')],
  ['v1/ServiceAccount', model(ServiceAccount, 'kubernetes-models/v1', 'IServiceAccount')],
  ['apps/v1/Deployment', model(Deployment, 'kubernetes-models/apps/v1', 'IDeployment')],
  ['apps/v1/StatefulSet', model(StatefulSet, 'kubernetes-models/apps/v1', 'IStatefulSet')],
  [
    'autoscaling/v2/HorizontalPodAutoscaler',
    model(HorizontalPodAutoscaler, 'kubernetes-models/autoscaling/v2', 'IHorizontalPodAutoscaler'),
  ],
  [
    'policy/v1/PodDisruptionBudget',
    model(PodDisruptionBudget, 'kubernetes-models/policy/v1', 'IPodDisruptionBudget'),
  ],
  [
    'networking.k8s.io/v1/NetworkPolicy',
    model(NetworkPolicy, 'kubernetes-models/networking.k8s.io/v1', 'INetworkPolicy'),
  ],
  [
    'monitoring.coreos.com/v1/ServiceMonitor',
    model(
      ServiceMonitor,
      '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1',
      'IServiceMonitor',
    ),
  ],
]);

/** One schema violation, located precisely enough to fix the template. */
export interface Violation {
  /** `Kind/name`. */
  object: string;
  /** Template file that rendered the object. */
  source: string;
  /** JSON path inside the object, when known. */
  path: string;
  message: string;
}

/** Formats violations one per line for a test failure message. */
export function describe(violations: readonly Violation[]): string {
  return violations.map((v) => `${v.object} (${v.source}) at ${v.path || '/'}: ${v.message}`).join('\n');
}

/** Checks every object against its Kubernetes schema, unknown fields included. */
export function validateObjects(rendered: readonly Rendered[]): Violation[] {
  const violations: Violation[] = [];
  const typed: { rendered: Rendered; model: Model }[] = [];
  for (const r of rendered) {
    const object = `${r.object.kind}/${r.object.metadata.name}`;
    const found = models.get(`${r.object.apiVersion}/${r.object.kind}`);
    if (!found) {
      violations.push({
        object,
        source: r.source,
        path: '/apiVersion',
        message: `no schema known for ${r.object.apiVersion} ${r.object.kind}: add its model to helm/test/support/k8s-schema.ts`,
      });
      continue;
    }
    try {
      found.check(r.object);
    } catch (error) {
      violations.push({ object, source: r.source, path: '', message: (error as Error).message });
    }
    typed.push({ rendered: r, model: found });
  }
  violations.push(...findUnknownFields(typed));
  return violations;
}

// The virtual file sits in the repository so that module resolution finds node_modules.
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const virtualFile = join(repoRoot, 'helm', 'test', 'support', '__rendered-objects__.ts');

const compilerOptions: ts.CompilerOptions = {
  // Not strict: `null` stands for "unset" in manifests, which the schema check above already judges.
  strict: false,
  noEmit: true,
  skipLibCheck: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  lib: ['lib.es2022.d.ts'],
  types: [],
};

// Declaration files do not change during a test run: parse each once.
const sourceFileCache = new Map<string, ts.SourceFile>();

/** Source text with one property or element per line, and the JSON path of every line. */
class LiteralWriter {
  readonly lines: string[] = [];
  readonly paths: string[] = [];

  line(text: string, path: string): void {
    this.lines.push(text);
    this.paths.push(path);
  }

  value(value: unknown, path: string, prefix: string, terminator: string): void {
    if (Array.isArray(value)) {
      this.line(`${prefix}[`, path);
      value.forEach((item, index) => this.value(item, `${path}/${index}`, '', ','));
      this.line(`]${terminator}`, path);
    } else if (typeof value === 'object' && value !== null) {
      this.line(`${prefix}{`, path);
      for (const [key, item] of Object.entries(value)) {
        this.value(item, `${path}/${key}`, `${JSON.stringify(key)}: `, ',');
      }
      this.line(`}${terminator}`, path);
    } else {
      this.line(`${prefix}${JSON.stringify(value ?? null)}${terminator}`, path);
    }
  }
}

interface TypeDiagnostic {
  index: number;
  path: string;
  code: number;
  message: string;
}

/** TypeScript codes of "Object literal may only specify known properties" (with and without a suggestion). */
const EXCESS_PROPERTY_CODES = new Set([2353, 2561]);
/** TypeScript reports one excess property per object per pass; each pass removes the ones found. */
const MAX_PASSES = 20;

function findUnknownFields(typed: readonly { rendered: Rendered; model: Model }[]): Violation[] {
  if (typed.length === 0) return [];
  const objects = typed.map((t) => structuredClone(t.rendered.object));
  const violations: Violation[] = [];
  const seen = new Set<string>();
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const diagnostics = typeCheck(
      objects,
      typed.map((t) => t.model.typeExpression),
    );
    let removed = false;
    for (const d of diagnostics) {
      const key = `${d.index}\0${d.path}\0${d.message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const owner = typed[d.index]!.rendered;
      violations.push({
        object: `${owner.object.kind}/${owner.object.metadata.name}`,
        source: owner.source,
        path: d.path,
        message: d.message,
      });
      if (EXCESS_PROPERTY_CODES.has(d.code) && deletePath(objects[d.index], d.path)) removed = true;
    }
    if (!removed) break;
  }
  return violations;
}

function deletePath(root: unknown, path: string): boolean {
  const keys = path.split('/').slice(1);
  const last = keys.pop();
  let node = root;
  for (const key of keys) {
    if (typeof node !== 'object' || node === null) return false;
    node = (node as Record<string, unknown>)[key];
  }
  if (last === undefined || typeof node !== 'object' || node === null || !(last in node)) return false;
  delete (node as Record<string, unknown>)[last];
  return true;
}

function typeCheck(objects: readonly unknown[], typeExpressions: readonly string[]): TypeDiagnostic[] {
  const writer = new LiteralWriter();
  const startLines: number[] = [];
  objects.forEach((object, index) => {
    startLines.push(writer.lines.length);
    writer.value(object, '', `export const object${index}: ${typeExpressions[index]} = `, ';');
  });
  const text = writer.lines.join('\n');

  const host = ts.createCompilerHost(compilerOptions, true);
  const readFile = host.readFile.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.fileExists = (fileName) => fileName === virtualFile || ts.sys.fileExists(fileName);
  host.readFile = (fileName) => (fileName === virtualFile ? text : readFile(fileName));
  host.getSourceFile = (fileName, languageVersion, onError) => {
    if (fileName === virtualFile) return ts.createSourceFile(fileName, text, languageVersion, true);
    let cached = sourceFileCache.get(fileName);
    if (!cached) {
      cached = getSourceFile(fileName, languageVersion, onError);
      if (cached) sourceFileCache.set(fileName, cached);
    }
    return cached;
  };
  const program = ts.createProgram({ rootNames: [virtualFile], options: compilerOptions, host });
  const file = program.getSourceFile(virtualFile);
  if (!file) throw new Error('TypeScript did not load the rendered objects');
  const diagnostics = [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)];
  return diagnostics.map((diagnostic) => {
    const line =
      diagnostic.start === undefined ? 0 : file.getLineAndCharacterOfPosition(diagnostic.start).line;
    let index = 0;
    while (index + 1 < startLines.length && startLines[index + 1]! <= line) index++;
    return {
      index,
      path: writer.paths[line] ?? '',
      code: diagnostic.code,
      message: ts.flattenDiagnosticMessageText(diagnostic.messageText, ' '),
    };
  });
}
