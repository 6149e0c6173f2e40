// Closing an HTTP server without hanging on a client: requests in flight get `graceMs` to finish,
// then every connection still open is destroyed. A browser or client that holds a connection with
// a half-sent request would otherwise keep the server (and the shutdown after it) waiting forever.
import type { FastifyInstance } from 'fastify';

export const DEFAULT_CLOSE_GRACE_MS = 3000;

export async function closeWithin(app: FastifyInstance, graceMs = DEFAULT_CLOSE_GRACE_MS): Promise<void> {
  const timer = setTimeout(() => app.server.closeAllConnections(), graceMs);
  try {
    await app.close();
  } finally {
    clearTimeout(timer);
  }
}
