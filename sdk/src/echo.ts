// Values from a request shown in error replies and log lines are cut to a fixed size, so a
// request with a 30 MB id or typename cannot make a 30 MB reply or log line.

/** Characters of a request value shown before it is cut. */
export const MAX_ECHOED_CHARS = 200;

/**
 * `value` when short; otherwise its first {@link MAX_ECHOED_CHARS} characters, then
 * `… (N bytes)` with its full UTF-8 size.
 * @example echo('x'.repeat(1000)) // 'xxx…x… (1000 bytes)'
 */
export function echo(value: string, max: number = MAX_ECHOED_CHARS): string {
  if (value.length <= max) return value;
  return `${value.slice(0, max)}… (${Buffer.byteLength(value, 'utf8')} bytes)`;
}
