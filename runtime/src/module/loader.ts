// Reads a module.yaml (StateFun 3.x component format, or the legacy v3.0 single document) into a
// deep-frozen ModuleConfig, collecting every problem of the file into one ModuleError.

import { readFile } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LineCounter, isScalar, parseAllDocuments, visit } from 'yaml';
import type { Document } from 'yaml';
import { checkModule } from './cross-checks.js';
import type { ComponentEntry } from './cross-checks.js';
import {
  ENDPOINT_V1_KIND,
  ENDPOINT_V2_KIND,
  isRecord,
  parseEndpointV1,
  parseEndpointV2,
} from './endpoint.js';
import { ModuleError } from './errors.js';
import { HTTP_INGRESS_KIND, parseHttpIngress } from './http-ingress.js';
import { KAFKA_EGRESS_KIND, KAFKA_INGRESS_KIND, parseKafkaEgress, parseKafkaIngress } from './kafka.js';
import { KINESIS_EGRESS_KIND, KINESIS_INGRESS_KIND, validateKinesis } from './kinesis.js';
import {
  PLAYGROUND_EGRESS_KIND,
  PLAYGROUND_INGRESS_KIND,
  parsePlaygroundEgress,
  parsePlaygroundIngress,
} from './playground.js';
import { describeValue, problem, unknownKeyMessage } from './schema.js';
import { ComponentScope, DocumentScope, IssueSink } from './scope.js';
import type { PathSegment } from './scope.js';
import type { ModuleConfig, ModuleIssue, UnsupportedComponent } from './types.js';

/** Options of {@link parseModule} and {@link loadModule}. */
export interface ModuleLoadOptions {
  /**
   * Skip recognised-but-unsupported components (Kinesis) instead of failing, as if each document
   * were marked `optional: true`. They are still validated and listed in `ModuleConfig.skipped`.
   * @example loadModule('module.yaml', { allowUnsupported: true })
   */
  allowUnsupported?: boolean;
  /**
   * Fail on warnings too (unknown keys that look like typos, ignored or deprecated settings).
   * @example parseModule(text, 'module.yaml', { strict: true })
   */
  strict?: boolean;
  /**
   * Called once per warning, in file order, before the module is returned.
   * @example loadModule('module.yaml', { onWarning: (w) => log.warn(formatIssue(w)) })
   */
  onWarning?: (warning: ModuleIssue) => void;
}

/** Every component kind this runtime runs. */
export const SUPPORTED_KINDS: readonly string[] = Object.freeze([
  ENDPOINT_V2_KIND,
  ENDPOINT_V1_KIND,
  KAFKA_INGRESS_KIND,
  KAFKA_EGRESS_KIND,
  PLAYGROUND_INGRESS_KIND,
  PLAYGROUND_EGRESS_KIND,
  HTTP_INGRESS_KIND,
]);

/** Kinds that are validated but cannot run here; fatal unless optional or `allowUnsupported`. */
export const UNSUPPORTED_KINDS: readonly string[] = Object.freeze([
  KINESIS_INGRESS_KIND,
  KINESIS_EGRESS_KIND,
]);

const KNOWN_KINDS = [...SUPPORTED_KINDS, ...UNSUPPORTED_KINDS];

// Legacy v3.0 kinds, converted as StateFun's LegacyRemoteModuleV30 does; others pass through.
const LEGACY_KINDS: Readonly<Record<string, string>> = {
  http: ENDPOINT_V1_KIND,
  'io.statefun.kafka/ingress': KAFKA_INGRESS_KIND,
  'io.statefun.kafka/egress': KAFKA_EGRESS_KIND,
  'io.statefun.kinesis/ingress': KINESIS_INGRESS_KIND,
  'io.statefun.kinesis/egress': KINESIS_EGRESS_KIND,
};

const COMPONENT_KEYS = ['kind', 'spec', 'optional'];

/**
 * Reads and validates a module file.
 *
 * @param file a path, or a `file:` URL.
 * @throws ModuleError `MODULE_UNREADABLE` when the file cannot be read, `MODULE_INVALID` with all
 *   issues when its content is wrong.
 * @example const module = await loadModule('module.yaml');
 */
export async function loadModule(file: string, opts: ModuleLoadOptions = {}): Promise<ModuleConfig> {
  let path: string;
  try {
    path = file.startsWith('file:') ? fileURLToPath(file) : file;
  } catch (cause) {
    throw unreadable(file, `${describeValue(file)} is not a valid file URL`, cause);
  }
  if (file.startsWith('classpath:')) {
    throw unreadable(file, 'classpath: resources exist only in the JVM; give a file path instead');
  }
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'unknown error';
    throw unreadable(file, `cannot read the file (${code}) at ${resolvePath(path)}; check the path`, cause);
  }
  return parseModule(text, file, opts);
}

function unreadable(file: string, message: string, cause?: unknown): ModuleError {
  return new ModuleError(file, [{ severity: 'error', file, path: '', message }], {
    code: 'MODULE_UNREADABLE',
    cause,
  });
}

/**
 * Validates module text. `file` names it in messages and in `ModuleConfig.file`. The result and
 * everything in it is deeply frozen.
 *
 * @throws ModuleError `MODULE_INVALID` listing every problem found.
 * @example parseModule('kind: io.statefun.playground.v1/ingress\nspec: {port: 8090}\n', 'inline.yaml')
 */
export function parseModule(text: string, file: string, opts: ModuleLoadOptions = {}): ModuleConfig {
  const sink = new IssueSink();
  const lineCounter = new LineCounter();
  // The parser's own unique-key check compares each key with every earlier one (n² for a mapping
  // of n keys); readDocument checks duplicates with one set per mapping instead.
  let documents: ReturnType<typeof parseAllDocuments>;
  try {
    documents = parseAllDocuments(text, { lineCounter, uniqueKeys: false, merge: true });
  } catch (cause) {
    // The parser recurses per nesting level; a file nested thousands deep exhausts the stack.
    throw new ModuleError(
      file,
      [{ severity: 'error', file, path: '', message: `cannot be read as YAML: ${errorText(cause)}` }],
      { cause },
    );
  }
  const loader = new Loader(opts);

  const parsed: Array<{ scope: DocumentScope; value: unknown }> = [];
  documents.forEach((doc, index) => {
    const scope = new DocumentScope(file, index + 1, doc, lineCounter, sink);
    const value = readDocument(scope, doc, lineCounter);
    if (value !== undefined && value !== null) parsed.push({ scope, value });
  });

  const first = parsed[0];
  const legacy =
    first !== undefined && isRecord(first.value) && 'version' in first.value && !('kind' in first.value);
  if (legacy) {
    loader.legacy(first.scope, first.value as Record<string, unknown>);
    for (const other of parsed.slice(1)) {
      other.scope.report(
        'error',
        [],
        `found another document after the legacy (version: ...) module in document ${first.scope.number}; ` +
          'expected the legacy format to be the only document: convert it to one {kind, spec} document per component',
      );
    }
  } else {
    for (const { scope, value } of parsed) loader.component(scope, value);
  }
  if (parsed.length === 0 && sink.count('error') === 0) {
    sink.issues.push({
      severity: 'warning',
      file,
      path: '',
      message: 'the module declares no components; expected at least one {kind, spec} document',
    });
  }

  checkModule(loader.entries, { endpointsComplete: !loader.uncertainEndpoints });

  const issues = sortIssues(sink.issues);
  const warnings = issues.filter((issue) => issue.severity === 'warning');
  const errors = issues.filter((issue) => issue.severity === 'error');
  if (opts.strict === true && warnings.length > 0) {
    const promoted = warnings.map((warning) => ({ ...warning, severity: 'error' as const }));
    throw new ModuleError(file, sortIssues([...errors, ...promoted]));
  }
  if (errors.length > 0) throw new ModuleError(file, errors, { warnings });
  for (const warning of warnings) opts.onWarning?.(warning);

  const module: ModuleConfig = {
    file,
    endpoints: loader.entries.flatMap((e) => (e.type === 'endpoint' ? [e.config] : [])),
    kafkaIngresses: loader.entries.flatMap((e) => (e.type === 'kafka-ingress' ? [e.config] : [])),
    kafkaEgresses: loader.entries.flatMap((e) => (e.type === 'kafka-egress' ? [e.config] : [])),
    playgroundIngresses: loader.entries.flatMap((e) => (e.type === 'playground-ingress' ? [e.config] : [])),
    playgroundEgresses: loader.entries.flatMap((e) => (e.type === 'playground-egress' ? [e.config] : [])),
    skipped: loader.skipped,
    warnings,
  };
  // Only modules that declare one carry the key (it is an extension of ours).
  const httpIngresses = loader.entries.flatMap((e) => (e.type === 'http-ingress' ? [e.config] : []));
  if (httpIngresses.length > 0) module.httpIngresses = httpIngresses;
  return deepFreeze(module);
}

/** The plain value of a document, or undefined after reporting why it cannot be read. */
function readDocument(scope: DocumentScope, doc: Document, lines: LineCounter): unknown {
  for (const warning of doc.warnings) {
    scope.report('warning', [], `YAML: ${firstLine(warning.message)}`);
  }
  if (doc.errors.length > 0) {
    for (const error of doc.errors) {
      scope.sink.issues.push({
        severity: 'error',
        file: scope.file,
        document: scope.number,
        line: lines.linePos(error.pos[0]).line,
        path: '',
        message: `YAML syntax error: ${firstLine(error.message).replace(/ at line \d+, column \d+:?$/u, '')}`,
      });
    }
    return undefined;
  }
  let duplicates: Array<{ key: string; offset: number }>;
  try {
    duplicates = duplicateKeys(doc);
  } catch (cause) {
    scope.report('error', [], `cannot be read as data: ${errorText(cause)}`);
    return undefined;
  }
  if (duplicates.length > 0) {
    for (const { key, offset } of duplicates) {
      scope.sink.issues.push({
        severity: 'error',
        file: scope.file,
        document: scope.number,
        line: lines.linePos(offset).line,
        path: '',
        message: `YAML syntax error: Map keys must be unique; ${describeValue(key)} is given more than once in one mapping`,
      });
    }
    return undefined;
  }
  try {
    return doc.toJS({ maxAliasCount: 100 }) as unknown;
  } catch (cause) {
    scope.report('error', [], `cannot be read as data: ${errorText(cause)}`);
    return undefined;
  }
}

/** Keys given twice in one mapping (the second occurrence), found with one set per mapping. */
function duplicateKeys(doc: Document): Array<{ key: string; offset: number }> {
  const found: Array<{ key: string; offset: number }> = [];
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        const value: unknown = pair.key.value;
        if (seen.has(value)) found.push({ key: String(value), offset: pair.key.range?.[0] ?? 0 });
        else seen.add(value);
      }
    },
  });
  return found;
}

function errorText(cause: unknown): string {
  return firstLine(cause instanceof Error ? cause.message : String(cause));
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).trim();
}

/** Walks the documents of one file and collects their components. */
class Loader {
  readonly entries: ComponentEntry[] = [];
  readonly skipped: UnsupportedComponent[] = [];
  /** True when some document might have been an endpoint but could not be read as one. */
  uncertainEndpoints = false;

  constructor(private readonly opts: ModuleLoadOptions) {}

  /** One `{kind, spec, optional?}` document. */
  component(document: DocumentScope, value: unknown): void {
    if (!isRecord(value)) {
      this.uncertainEndpoints = true;
      document.report('error', [], problem(value, 'a component: a mapping with the keys kind and spec'));
      return;
    }
    for (const key of Object.keys(value)) {
      if (!COMPONENT_KEYS.includes(key))
        document.report('warning', [key], unknownKeyMessage(key, COMPONENT_KEYS));
    }
    let optional = false;
    if ('optional' in value && value['optional'] !== null) {
      if (typeof value['optional'] === 'boolean') optional = value['optional'];
      else document.report('error', ['optional'], problem(value['optional'], 'true or false'));
    }
    const kind = value['kind'];
    if (typeof kind !== 'string' || kind.trim() === '') {
      this.uncertainEndpoints = true;
      document.report(
        'error',
        ['kind'],
        problem(kind, `the component kind, one of ${KNOWN_KINDS.join(', ')}`),
      );
      return;
    }
    if (!('spec' in value)) {
      if (kind === ENDPOINT_V1_KIND || kind === ENDPOINT_V2_KIND) this.uncertainEndpoints = true;
      document.report(
        'error',
        ['spec'],
        problem(undefined, `the settings of the ${describeValue(kind)} component, as a mapping`),
        kind,
      );
      return;
    }
    const scope = new ComponentScope(document, kind, ['spec']);
    this.dispatch(scope, ['kind'], kind, value['spec'], optional);
  }

  /** The legacy v3.0 format: `version: "3.0"`, `module: {meta: {type: remote}, spec: {...}}`. */
  legacy(document: DocumentScope, root: Record<string, unknown>): void {
    const version = normaliseVersion(root['version']);
    if (version === '1.0' || version === '2.0') {
      this.uncertainEndpoints = true;
      document.report(
        'error',
        ['version'],
        `found ${describeValue(root['version'])}, a module format that is no longer supported (StateFun 3.0 removed it); ` +
          'expected the component format: one YAML document {kind, spec} per endpoint, ingress and egress ' +
          '(or the legacy version "3.0")',
      );
      return;
    }
    if (version !== '3.0') {
      this.uncertainEndpoints = true;
      document.report(
        'error',
        ['version'],
        problem(
          root['version'],
          'version "3.0" for the legacy single-document format; for the current format remove version and write one {kind, spec} document per component',
        ),
      );
      return;
    }
    document.report(
      'warning',
      ['version'],
      'the legacy v3.0 module format is deprecated; write one {kind, spec} document per component instead',
    );
    const module = root['module'];
    const meta = isRecord(module) ? module['meta'] : undefined;
    const type = isRecord(meta) ? meta['type'] : undefined;
    let valid = true;
    if (typeof type !== 'string' || type.toLowerCase() !== 'remote') {
      valid = false;
      document.report('error', ['module', 'meta', 'type'], problem(type, 'remote, the only module type'));
    }
    const spec = isRecord(module) ? module['spec'] : undefined;
    if (!isRecord(spec)) {
      valid = false;
      document.report(
        'error',
        ['module', 'spec'],
        problem(spec, 'a mapping with endpoints, ingresses and egresses'),
      );
    }
    if (!valid || !isRecord(spec)) {
      this.uncertainEndpoints = true;
      return;
    }
    this.legacyList(document, spec, 'endpoints', 'endpoint');
    this.legacyList(document, spec, 'ingresses', 'ingress');
    this.legacyList(document, spec, 'egresses', 'egress');
  }

  private legacyList(
    document: DocumentScope,
    spec: Record<string, unknown>,
    listKey: 'endpoints' | 'ingresses' | 'egresses',
    itemKey: 'endpoint' | 'ingress' | 'egress',
  ): void {
    const items = spec[listKey];
    const listPath: PathSegment[] = ['module', 'spec', listKey];
    if (items === undefined || items === null) return;
    if (!Array.isArray(items)) {
      if (listKey === 'endpoints') this.uncertainEndpoints = true;
      document.report('error', listPath, problem(items, `a list of {${itemKey}: {meta, spec}} entries`));
      return;
    }
    items.forEach((item: unknown, index) => {
      const entryPath = [...listPath, index];
      const component = isRecord(item) ? item[itemKey] : undefined;
      const meta = isRecord(component) ? component['meta'] : undefined;
      if (!isRecord(component) || !isRecord(meta)) {
        if (listKey === 'endpoints') this.uncertainEndpoints = true;
        const at = isRecord(component) ? [...entryPath, itemKey, 'meta'] : [...entryPath, itemKey];
        document.report(
          'error',
          at,
          problem(isRecord(component) ? meta : component, `a mapping with meta and spec`),
        );
        return;
      }
      const kindKey = itemKey === 'endpoint' ? 'kind' : 'type';
      const kindPath = [...entryPath, itemKey, 'meta', kindKey];
      const legacyKind = meta[kindKey];
      if (typeof legacyKind !== 'string' || legacyKind.trim() === '') {
        if (listKey === 'endpoints') this.uncertainEndpoints = true;
        document.report(
          'error',
          kindPath,
          problem(legacyKind, `the ${itemKey} kind, e.g. ${legacyExample(itemKey)}`),
        );
        return;
      }
      const kind = legacyKindOf(legacyKind) ?? legacyKind;
      const specPath = [...entryPath, itemKey, 'spec'];
      let componentSpec = component['spec'];
      let idPath: PathSegment[] | undefined;
      if (itemKey !== 'endpoint') {
        // StateFun moves `meta.id` into the spec; errors about it must still point at meta.id.
        idPath = [...entryPath, itemKey, 'meta', 'id'];
        componentSpec = isRecord(componentSpec) ? { ...componentSpec, id: meta['id'] } : componentSpec;
      }
      const scope = new ComponentScope(document, kind, specPath, entryPath, idPath);
      this.dispatch(scope, kindPath, kind, componentSpec, false);
    });
  }

  private dispatch(
    scope: ComponentScope,
    kindPath: readonly PathSegment[],
    kind: string,
    spec: unknown,
    optional: boolean,
  ): void {
    switch (kind) {
      case ENDPOINT_V2_KIND:
      case ENDPOINT_V1_KIND: {
        const config =
          kind === ENDPOINT_V2_KIND ? parseEndpointV2(scope, spec) : parseEndpointV1(scope, spec);
        if (config === undefined) this.uncertainEndpoints = true;
        else this.entries.push({ type: 'endpoint', config, scope });
        return;
      }
      case KAFKA_INGRESS_KIND: {
        const config = parseKafkaIngress(scope, spec);
        if (config !== undefined) this.entries.push({ type: 'kafka-ingress', config, scope });
        return;
      }
      case KAFKA_EGRESS_KIND: {
        const config = parseKafkaEgress(scope, spec);
        if (config !== undefined) this.entries.push({ type: 'kafka-egress', config, scope });
        return;
      }
      case PLAYGROUND_INGRESS_KIND: {
        const config = parsePlaygroundIngress(scope, spec);
        if (config !== undefined) this.entries.push({ type: 'playground-ingress', config, scope });
        return;
      }
      case PLAYGROUND_EGRESS_KIND: {
        const config = parsePlaygroundEgress(scope, spec);
        if (config !== undefined) this.entries.push({ type: 'playground-egress', config, scope });
        return;
      }
      case HTTP_INGRESS_KIND: {
        const config = parseHttpIngress(scope, spec);
        if (config !== undefined) this.entries.push({ type: 'http-ingress', config, scope });
        return;
      }
      case KINESIS_INGRESS_KIND:
      case KINESIS_EGRESS_KIND: {
        const valid = validateKinesis(scope, kind, spec);
        if (valid === undefined) return;
        if (optional || this.opts.allowUnsupported === true) {
          this.skipped.push({ kind, id: valid.id, source: scope.source });
          return;
        }
        scope.document.report(
          'error',
          kindPath,
          `found ${kind}, which this runtime recognises but cannot run (it has no Kinesis connector); ` +
            'expected a supported kind: remove the document, or mark it optional: true to skip it',
          kind,
        );
        return;
      }
      default: {
        if (optional) {
          const id = isRecord(spec) && typeof spec['id'] === 'string' ? spec['id'] : undefined;
          this.skipped.push({ kind, id, source: scope.source });
          return;
        }
        this.uncertainEndpoints = true;
        const hint = suggestKind(kind);
        scope.document.report(
          'error',
          kindPath,
          `found ${describeValue(kind)}, an unknown component kind${hint}; expected one of ${KNOWN_KINDS.join(', ')} ` +
            '(or mark the document optional: true to skip it)',
          kind,
        );
      }
    }
  }
}

function suggestKind(kind: string): string {
  const message = unknownKeyMessage(kind, KNOWN_KINDS);
  const match = /did you mean "([^"]+)"/u.exec(message);
  if (match !== null) return ` (did you mean ${match[1]}?)`;
  const current = legacyKindOf(kind);
  if (current !== undefined) return ` (a legacy v3.0 kind; in the component format it is ${current})`;
  return '';
}

function legacyKindOf(kind: string): string | undefined {
  return Object.hasOwn(LEGACY_KINDS, kind) ? LEGACY_KINDS[kind] : undefined;
}

function legacyExample(itemKey: 'endpoint' | 'ingress' | 'egress'): string {
  if (itemKey === 'endpoint') return 'http';
  return `io.statefun.kafka/${itemKey}`;
}

function normaliseVersion(version: unknown): string | undefined {
  if (typeof version === 'string') return version.trim();
  if (typeof version === 'number' && Number.isFinite(version)) {
    return Number.isInteger(version) ? version.toFixed(1) : String(version);
  }
  return undefined;
}

function sortIssues(issues: readonly ModuleIssue[]): ModuleIssue[] {
  return issues
    .map((issue, index) => ({ issue, index }))
    .sort(
      (a, b) =>
        (a.issue.document ?? 0) - (b.issue.document ?? 0) ||
        (a.issue.line ?? 0) - (b.issue.line ?? 0) ||
        a.index - b.index,
    )
    .map(({ issue }) => issue);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
