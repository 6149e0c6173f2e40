// Stopping the dev runtime does not wait on clients: a browser or client holding a connection with
// a half-sent request to the admin port or a playground server would otherwise hold the shutdown
// (and the last checkpoint after it) forever.
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startDevRuntime, type DevRuntime } from '../../src/dev-runtime.js';
import { silentLogger } from '../../src/logger.js';
import { parseModule } from '../../src/module/index.js';
import { DEFAULT_CLOSE_GRACE_MS } from '../../src/playground/bounded-close.js';
import { freePorts } from './support.js';

/** Opens a connection and sends the start of a request that never completes. */
async function halfRequest(port: number, path: string): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => undefined); // reset by the server when it closes
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: `);
  return socket;
}

describe('stopping the dev runtime', () => {
  const sockets: Socket[] = [];
  let dev: DevRuntime | undefined;
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await dev?.stop();
  });

  it('cuts connections with half-sent requests instead of waiting for them', async () => {
    const [ingressPort, egressPort] = (await freePorts(2)) as [number, number];
    const module = [
      'kind: io.statefun.endpoints.v2/http',
      'spec: {functions: ops/*, urlPathTemplate: "http://127.0.0.1:9/{function.name}"}',
      '---',
      `kind: io.statefun.playground.v1/ingress\nspec: {port: ${ingressPort}}`,
      '---',
      `kind: io.statefun.playground.v1/egress\nspec: {port: ${egressPort}, topics: [out]}`,
    ].join('\n');
    const started = await startDevRuntime({
      module: parseModule(module, 'shutdown.yaml'),
      partitions: 1,
      adminPort: 0,
      logger: silentLogger,
    });
    const adminPort = started.servers.find((s) => s.name === 'admin')!.port;
    sockets.push(
      await halfRequest(adminPort, '/v1/overview'),
      await halfRequest(ingressPort, '/ops/f/a'),
      await halfRequest(egressPort, '/out'),
    );
    const closed = sockets.map((s) => new Promise<void>((resolve) => s.once('close', () => resolve())));
    const begun = Date.now();
    await started.stop();
    const took = Date.now() - begun;
    // The admin port closes at once; the playground servers give requests in flight a grace period.
    expect(took).toBeLessThan(DEFAULT_CLOSE_GRACE_MS * 2 + 2000);
    await Promise.all(closed);
  }, 30_000);
});
