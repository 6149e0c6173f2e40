// The one way tests wait for a condition: polls it with a timeout whose error names what was
// awaited. Its own module (no Kafka or Redis imports), so in-process unit tests load it cheaply.
import { InfraError } from './errors.js';

/** Options of {@link waitUntil}. */
export interface WaitUntilOptions {
  /** Give up after this long. */
  timeoutMs: number;
  /** What is awaited, as the timeout error names it ("the sink to receive every message"). */
  what: string;
  /** Pause between checks (default 10 ms; slower for conditions that query a server). */
  intervalMs?: number;
}

/**
 * The one way tests wait: polls `condition` until it returns a value other than `undefined`,
 * `null` or `false`, and returns that value. A throwing condition counts as not yet; its last
 * error becomes the timeout's cause. The timeout error says how long it waited and for `what`.
 * @example await waitUntil(() => sink.length === 3, { timeoutMs: 10_000, what: 'three records at the sink' })
 */
export async function waitUntil<T>(
  condition: () => T | Promise<T>,
  options: WaitUntilOptions,
): Promise<Exclude<T, undefined | null | false>> {
  const { timeoutMs, what } = options;
  const intervalMs = options.intervalMs ?? 10;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value !== undefined && value !== null && value !== false) {
        return value as Exclude<T, undefined | null | false>;
      }
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const detail = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new InfraError(
        'TIMEOUT',
        `timed out after ${timeoutMs} ms waiting for ${what}${detail}`,
        lastError === undefined ? undefined : { cause: lastError },
      );
    }
    await new Promise((resolve) =>
      setTimeout(resolve, Math.min(intervalMs, Math.max(0, deadline - Date.now()))),
    );
  }
}
