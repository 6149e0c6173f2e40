// Start-up that waits for its dependencies: a runtime process started while Kafka or Redis cannot
// be reached yet (a broker restarting, a pod scheduled before the broker is up) retries for
// `CONTINUUM_STARTUP_TIMEOUT_MS` instead of exiting at the first refused connection. A failed start
// has cleaned up after itself (prod-runtime.ts), so starting again is a fresh start.
import { causeChain } from '../errors.js';
import type { Logger } from '../logger.js';

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * True for the errors of a dependency that cannot be reached right now: a connection refused or
 * reset (anywhere in the cause chain), a kafkajs error it marks retriable (no coordinator yet, a
 * leader moving), or an error of the runtime's own marked retryable. A configuration error (a bad
 * module, a partitioning mismatch, a refused login) is not: retrying would not change it.
 */
export function unreachable(err: unknown): boolean {
  for (const e of causeChain(err)) {
    const o = e as { code?: unknown; retriable?: unknown; retryable?: unknown; name?: unknown };
    if (typeof o.code === 'string' && NETWORK_CODES.has(o.code)) return true;
    if (o.retriable === true || o.retryable === true) return true;
    if (
      typeof o.name === 'string' &&
      /^KafkaJS(Connection|NumberOfRetriesExceeded|RequestTimeout)/u.test(o.name)
    )
      return true;
  }
  return false;
}

/** Runs `start` until it succeeds, retrying while `unreachable` says so, for `timeoutMs` at most. */
export async function startPatiently<T>(
  start: () => Promise<T>,
  opts: {
    timeoutMs: number;
    logger: Logger;
    now?: () => number;
    sleep?: (ms: number) => Promise<void>;
  },
): Promise<T> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const deadline = now() + opts.timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      const wait = Math.min(5000, 250 * 2 ** attempt);
      if (!unreachable(err) || now() + wait > deadline) throw err;
      opts.logger.warn('starting failed: Kafka or Redis cannot be reached yet; retrying', {
        attempt,
        retryInMs: wait,
        leftMs: deadline - now(),
        error: err instanceof Error ? err.message : String(err),
      });
      await sleep(wait);
    }
  }
}
