// Where a finding is: ties key paths inside one YAML document to its number, its lines and the
// collected issues, so every message can say file, document, line and key path.

import { isMap, isScalar, isSeq } from 'yaml';
import type { Document, LineCounter, Node, Pair, YAMLMap } from 'yaml';
import type { ComponentSource, ModuleIssue } from './types.js';

/** A key (mapping) or an index (list) in a path from the document root. */
export type PathSegment = string | number;

/** Keys longer than this are shortened in paths, so a huge key cannot make a huge message. */
const MAX_SHOWN_KEY = 80;

/** `['spec', 'topics', 0, 'targets']` → `spec.topics[0].targets`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else {
      const key =
        segment.length > MAX_SHOWN_KEY
          ? `${segment.slice(0, MAX_SHOWN_KEY - 3)}... (${segment.length} characters)`
          : segment;
      out += out === '' ? key : `.${key}`;
    }
  }
  return out;
}

/** Collects the findings of one file, in the order they are found. */
export class IssueSink {
  readonly issues: ModuleIssue[] = [];

  /** How many issues of `severity` have been recorded so far. */
  count(severity: ModuleIssue['severity']): number {
    return this.issues.filter((issue) => issue.severity === severity).length;
  }
}

/** One YAML document of a module file. */
export class DocumentScope {
  readonly line: number | undefined;

  constructor(
    readonly file: string,
    /** 1-based position among the documents of the file. */
    readonly number: number,
    private readonly doc: Document,
    private readonly lines: LineCounter,
    readonly sink: IssueSink,
  ) {
    const start = doc.contents?.range?.[0] ?? doc.range?.[0];
    this.line = start === undefined ? undefined : lines.linePos(start).line;
  }

  /**
   * Line of the node at `path`, or of its nearest existing ancestor. A mapping key's own line is
   * used (not its value's), so `spec.topics: []` and a nested block both point at `topics:`.
   */
  lineOf(path: readonly PathSegment[]): number | undefined {
    let node: unknown = this.doc.contents;
    let line = this.nodeLine(node) ?? this.line;
    for (const segment of path) {
      if (typeof segment === 'string') {
        const pair = isMap(node) ? pairOf(node, segment) : undefined;
        if (pair === undefined) break;
        line = this.nodeLine(pair.key) ?? line;
        node = pair.value;
      } else {
        node = childOf(node, segment);
        if (node === undefined) break;
        line = this.nodeLine(node) ?? line;
      }
    }
    return line;
  }

  /** The verbatim source text of a plain scalar at `path` (`0.10` stays `0.10`), if there is one. */
  sourceText(path: readonly PathSegment[]): string | undefined {
    let node: unknown = this.doc.contents;
    for (const segment of path) {
      node = childOf(node, segment);
      if (node === undefined) return undefined;
    }
    return isScalar(node) && node.type === 'PLAIN' && typeof node.source === 'string'
      ? node.source
      : undefined;
  }

  report(
    severity: ModuleIssue['severity'],
    path: readonly PathSegment[],
    message: string,
    kind?: string,
  ): void {
    this.sink.issues.push({
      severity,
      file: this.file,
      document: this.number,
      line: this.lineOf(path),
      kind,
      path: formatPath(path),
      message,
    });
  }

  private nodeLine(node: unknown): number | undefined {
    if (node === null || typeof node !== 'object' || !('range' in node)) return undefined;
    const range = (node as Node).range;
    return range === undefined || range === null ? undefined : this.lines.linePos(range[0]).line;
  }
}

function childOf(node: unknown, segment: PathSegment): unknown {
  if (typeof segment === 'number') {
    return isSeq(node) ? (node.get(segment, true) ?? undefined) : undefined;
  }
  return isMap(node) ? (pairOf(node, segment)?.value ?? undefined) : undefined;
}

// A finding's location is looked up by key; searching a mapping's pairs each time made a file
// with n unknown keys take n² steps, so each mapping gets an index on its first lookup.
const pairIndexes = new WeakMap<YAMLMap, Map<unknown, Pair>>();

function pairOf(map: YAMLMap, key: string): Pair | undefined {
  let index = pairIndexes.get(map);
  if (index === undefined) {
    index = new Map();
    for (const pair of map.items) {
      // The first pair of a key wins, as YAMLMap.get does.
      if (isScalar(pair.key) && !index.has(pair.key.value)) index.set(pair.key.value, pair);
    }
    // Plain data names a key `1:` or `true:` by its text.
    for (const pair of map.items) {
      if (isScalar(pair.key) && typeof pair.key.value !== 'string') {
        const text = String(pair.key.value);
        if (!index.has(text)) index.set(text, pair);
      }
    }
    pairIndexes.set(map, index);
  }
  return index.get(key);
}

/**
 * The part of a document that holds one component. Paths given to it are relative to the
 * component's `spec`; it maps them to document paths (legacy v3.0 components live deeper, and
 * their `id` sits outside their spec).
 */
export class ComponentScope {
  constructor(
    readonly document: DocumentScope,
    readonly kind: string,
    /** Path of `spec` from the document root. */
    readonly specPath: readonly PathSegment[],
    /** Path of the whole component: the document root, or its entry in a legacy v3.0 list. */
    private readonly entryPath: readonly PathSegment[] = [],
    /** Legacy v3.0 only: where the component's `id` really is. */
    private readonly idPath?: readonly PathSegment[],
  ) {}

  /** Where the component came from, for the validated config. */
  get source(): ComponentSource {
    return {
      file: this.document.file,
      document: this.document.number,
      line: this.document.lineOf(this.entryPath),
    };
  }

  /** Document path of a path relative to the spec. */
  pathOf(relative: readonly PathSegment[]): PathSegment[] {
    if (this.idPath !== undefined && relative[0] === 'id') return [...this.idPath, ...relative.slice(1)];
    return [...this.specPath, ...relative];
  }

  error(relative: readonly PathSegment[], message: string): void {
    this.document.report('error', this.pathOf(relative), message, this.kind);
  }

  warning(relative: readonly PathSegment[], message: string): void {
    this.document.report('warning', this.pathOf(relative), message, this.kind);
  }

  lineOf(relative: readonly PathSegment[]): number | undefined {
    return this.document.lineOf(this.pathOf(relative));
  }

  sourceText(relative: readonly PathSegment[]): string | undefined {
    return this.document.sourceText(this.pathOf(relative));
  }

  /** `spec.transport.call` (or its legacy equivalent) for messages that refer to another key. */
  describe(relative: readonly PathSegment[]): string {
    return formatPath(this.pathOf(relative));
  }
}
