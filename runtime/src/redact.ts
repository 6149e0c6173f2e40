// Credentials out of text: user info in URLs (`redis://:pw@host`) and in broker addresses
// (`user:pw@host:9092`) becomes `[redacted]`, for log lines and error messages alike.

/** `scheme://user:password@` and schemeless `user:password@host`; the password part is removed. */
const userInfo = /((?:[a-z][a-z0-9+.-]*:\/\/)?)[^\s/@:,'"]*:[^\s/@,'"]*@(?=[^\s/@]+)/gi;
/** `scheme://password@host` (a URL whose user info is one token, as `redis://secret@host`). */
const urlToken = /([a-z][a-z0-9+.-]*:\/\/)[^\s/@:,'"]+@(?=[^\s/@]+)/gi;

export const REDACTED = '[redacted]';

/** `text` with every credential in a URL or broker address replaced by `[redacted]`. */
export function redactText(text: string): string {
  if (!text.includes('@')) return text;
  return text.replace(userInfo, `$1${REDACTED}@`).replace(urlToken, `$1${REDACTED}@`);
}

/**
 * A copy of `value` whose strings are passed through {@link redactText}, down to `depth` levels of
 * objects and arrays; values without credentials come back as the same object.
 */
export function redactDeep(value: unknown, depth = 4): unknown {
  if (typeof value === 'string') return redactText(value);
  if (depth <= 0 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return value;
  if (Array.isArray(value)) {
    const items = value as unknown[];
    let out: unknown[] | undefined;
    items.forEach((v, i) => {
      const r = redactDeep(v, depth - 1);
      if (r !== v) (out ??= [...items])[i] = r;
    });
    return out ?? items;
  }
  let out: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const r = redactDeep(v, depth - 1);
    if (r !== v) (out ??= { ...(value as Record<string, unknown>) })[k] = r;
  }
  return out ?? value;
}
