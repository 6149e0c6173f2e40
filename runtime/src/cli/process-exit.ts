// How a `statefun run` process ends on SIGTERM: the stop (last checkpoint, leaving the group,
// closing clients) is bounded by the shutdown timeout, and once it is over the process exits even
// when a client library still holds a socket or timer (kafkajs can re-open a heartbeat connection
// after a broker restart that its disconnect does not close).
import type { Logger } from '../logger.js';
import { DEFAULTS } from '../defaults.js';

/**
 * Longest graceful stop (ms) before the process exits without it (CONTINUUM_SHUTDOWN_TIMEOUT_MS):
 * with leaving the groups and the exit linger, inside Kubernetes' default grace period of 30 s.
 */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = DEFAULTS.run.shutdownTimeoutMs;

/** How long leaving the consumer groups may take after a stop that was given up. */
export const ABANDON_TIMEOUT_MS = 3000;

/** After a finished stop, how long handles left open may take to close before the exit. */
export const EXIT_LINGER_MS = 2000;

/**
 * Resolves true when `work` settled (fulfilled or rejected: the caller handles its error) within
 * `timeoutMs`, false otherwise (it keeps running).
 */
export async function settlesWithin(work: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([work.then(settled, settled), late]);
  } finally {
    clearTimeout(timer);
  }
}

const settled = (): true => true;

/**
 * Ends the process with `code`: by itself as soon as nothing keeps the event loop alive, else
 * after `lingerMs` through `exit`, logging (at debug) the kinds of resource still open then. The
 * promise settles only in the second case: do not await it on the way out (a top-level await still
 * pending when the event loop drains makes Node exit with code 13).
 */
export function exitOnceSettled(
  code: number,
  logger: Logger,
  exit: (code: number) => void,
  lingerMs = EXIT_LINGER_MS,
): Promise<void> {
  process.exitCode = code;
  return new Promise<void>((resolve) => {
    // Unreferenced: this timer alone does not keep the process alive.
    const timer = setTimeout(() => {
      logger.debug('exiting with resources still open', {
        open: openResources(),
        connections: openConnections(),
      });
      exit(code);
      resolve();
    }, lingerMs);
    timer.unref();
  });
}

/** What keeps the event loop alive, by kind (e.g. `{ TCPSocketWrap: 1, Timeout: 2 }`). */
export function openResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

/**
 * Peers of the sockets still open (`host:port`), from Node's internal handle list where it has
 * one (a diagnosis aid: it names the broker or server a client left connected).
 */
export function openConnections(): string[] {
  const list = (process as unknown as { _getActiveHandles?: () => unknown[] })._getActiveHandles;
  if (typeof list !== 'function') return [];
  const peers: string[] = [];
  for (const handle of list.call(process)) {
    const { remoteAddress, remotePort } = handle as { remoteAddress?: unknown; remotePort?: unknown };
    if (typeof remoteAddress === 'string') peers.push(`${remoteAddress}:${String(remotePort)}`);
  }
  return peers;
}
