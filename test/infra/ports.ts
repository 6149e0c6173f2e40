// Free loopback ports for the servers the harness starts, and a clear error when one is taken.
import { createServer } from 'node:net';
import { InfraError } from './errors.js';

/** Asks the kernel for a free 127.0.0.1 port (free now; the caller binds it soon after). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('the kernel gave no port'))));
    });
  });
}

/** `count` distinct free ports. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  // Bounded: the kernel hands out distinct ephemeral ports, so a few extra tries always suffice.
  for (let attempt = 0; ports.size < count && attempt < count * 10; attempt++) ports.add(await freePort());
  if (ports.size < count)
    throw new InfraError('PORT_BUSY', `could not find ${count} free ports on 127.0.0.1`);
  return [...ports];
}

/** Throws PORT_BUSY when 127.0.0.1:`port` cannot be bound, naming `what` wanted it. */
export async function assertPortFree(port: number, what: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') {
        reject(
          new InfraError(
            'PORT_BUSY',
            `${what} needs 127.0.0.1:${port}, but that port is in use by another process. ` +
              `Stop that process (see \`ss -ltnp 'sport = :${port}'\`) or let the harness pick a free port.`,
            { cause: err },
          ),
        );
      } else reject(err);
    });
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve()));
  });
}
