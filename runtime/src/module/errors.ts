// The error a module file fails with, carrying every problem found in it, and the one place
// that renders a finding as text.

import { ContinuumError } from '../errors.js';
import type { ModuleIssue } from './types.js';

/** Codes a {@link ModuleError} may carry. */
export type ModuleErrorCode = 'MODULE_INVALID' | 'MODULE_UNREADABLE';

/**
 * A module file that cannot be used: `MODULE_INVALID` when its content is wrong (see `issues`),
 * `MODULE_UNREADABLE` when the file itself could not be read. Never retryable: the file must change.
 */
export class ModuleError extends ContinuumError {
  /** Every error found in the file, in document order. */
  readonly issues: readonly ModuleIssue[];
  /** Warnings found alongside (likely typos often explain an error), also listed in the message. */
  readonly warnings: readonly ModuleIssue[];
  readonly file: string;

  constructor(
    file: string,
    issues: readonly ModuleIssue[],
    options: { code?: ModuleErrorCode; cause?: unknown; warnings?: readonly ModuleIssue[] } = {},
  ) {
    const warnings = options.warnings ?? [];
    super(options.code ?? 'MODULE_INVALID', renderMessage(file, issues, warnings), {
      cause: options.cause,
      retryable: false,
    });
    this.file = file;
    this.issues = Object.freeze([...issues]);
    this.warnings = Object.freeze([...warnings]);
  }
}

/**
 * Renders one finding on one line:
 * `module.yaml, document 2 (line 7, kind io.statefun.kafka.v1/ingress), spec.topics[0].targets[0]: found …; expected …`.
 */
export function formatIssue(issue: ModuleIssue): string {
  const where: string[] = [];
  if (issue.document !== undefined) {
    const details: string[] = [];
    if (issue.line !== undefined) details.push(`line ${issue.line}`);
    if (issue.kind !== undefined) details.push(`kind ${issue.kind}`);
    where.push(`document ${issue.document}${details.length > 0 ? ` (${details.join(', ')})` : ''}`);
  } else if (issue.line !== undefined) {
    where.push(`line ${issue.line}`);
  }
  if (issue.path !== '') where.push(issue.path);
  const location = [issue.file, ...where].join(', ');
  return `${location}: ${issue.message}`;
}

/** How many findings of one kind a message lists before "... and N more". */
export const MAX_LISTED_ISSUES = 50;

/**
 * One `  - <finding>` line per issue, at most `limit` of them, then `  ... and N more`: a file
 * with thousands of unknown keys must not print thousands of lines.
 * @example formatIssueList(module.warnings).forEach((line) => console.log(line))
 */
export function formatIssueList(
  issues: readonly ModuleIssue[],
  limit: number = MAX_LISTED_ISSUES,
  indent = '  - ',
): string[] {
  const lines = issues.slice(0, limit).map((issue) => `${indent}${formatIssue(issue)}`);
  if (issues.length > limit) lines.push(`${' '.repeat(indent.length)}... and ${issues.length - limit} more`);
  return lines;
}

function renderMessage(
  file: string,
  issues: readonly ModuleIssue[],
  warnings: readonly ModuleIssue[],
): string {
  const first = issues[0];
  let message =
    issues.length === 1 && first !== undefined
      ? formatIssue(first)
      : `Module ${file} has ${issues.length} problems:\n${formatIssueList(issues).join('\n')}`;
  if (warnings.length > 0) message += `\nWarnings:\n${formatIssueList(warnings).join('\n')}`;
  return message;
}
