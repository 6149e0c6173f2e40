// Validation of the names the runtime parses: type names `<namespace>/<name>` and address ids.
import { SdkError } from './errors.js';

/** A parsed `<namespace>/<name>` type name. */
export interface ParsedTypename {
  namespace: string;
  name: string;
}

/**
 * Splits `<namespace>/<name>`. The runtime requires exactly one `/` with non-empty parts on both sides,
 * so the SDK rejects anything else where it is created rather than letting the runtime fail later.
 */
export function parseTypename(typename: unknown, what: string): ParsedTypename {
  if (typeof typename !== 'string') {
    throw new SdkError(
      'INVALID_ARGUMENT',
      `${what}: expected a type name string "<namespace>/<name>", got ${typeof typename}`,
    );
  }
  const slash = typename.indexOf('/');
  if (slash <= 0 || slash === typename.length - 1 || typename.indexOf('/', slash + 1) !== -1) {
    throw new SdkError(
      'INVALID_ARGUMENT',
      `${what}: "${typename}" is not a type name of the form "<namespace>/<name>" with exactly one "/" ` +
        '(for example "com.example/greeter")',
    );
  }
  return { namespace: typename.slice(0, slash), name: typename.slice(slash + 1) };
}

/** Checks that an address id is a non-empty string. */
export function checkId(id: unknown, what: string): string {
  if (typeof id !== 'string' || id === '') {
    throw new SdkError(
      'INVALID_ARGUMENT',
      `${what}: the id must be a non-empty string, got ${JSON.stringify(id)}`,
    );
  }
  return id;
}
