// Shared fixtures of the dev-mode end-to-end tests: the official StateFun JS SDK served over real
// HTTP on loopback, free ports, module text, playground HTTP calls, log reads and polling.
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createRequire } from 'node:module';
import { createServer as createNetServer } from 'node:net';
import type * as OfficialStateFun from 'apache-flink-statefun';
import type { LogRecord } from '../../src/log/log.js';
import type { EmbeddedLog } from '../../src/log/embedded-log.js';

/** The official SDK is CommonJS; loading it through require keeps its own module semantics. */
export type OfficialSdk = typeof OfficialStateFun;
export const sf: OfficialSdk = createRequire(import.meta.url)('apache-flink-statefun') as OfficialSdk;

/** A loopback HTTP server started by a test. */
export interface LoopbackServer {
  port: number;
  server: Server;
  close(): Promise<void>;
}

/** Serves a request handler on 127.0.0.1 at a port the kernel picks. */
export async function serveOnLoopback(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<LoopbackServer> {
  const server = createHttpServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1' }, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        // Hanging test endpoints keep sockets open; drop them so close() can finish.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Serves an official-SDK `StateFun` instance the way its docs show: `http.createServer(sf.handler())`. */
export function serveOfficial(statefun: InstanceType<OfficialSdk['StateFun']>): Promise<LoopbackServer> {
  const handle = statefun.handler();
  return serveOnLoopback((req, res) => void handle(req, res));
}

/** `count` distinct ports that are free on 127.0.0.1 right now (module.yaml needs fixed ports). */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  for (let attempt = 0; ports.size < count && attempt < count * 10; attempt++) {
    ports.add(
      await new Promise<number>((resolve, reject) => {
        const s = createNetServer();
        s.once('error', reject);
        s.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
          const a = s.address();
          const port = typeof a === 'object' && a !== null ? a.port : 0;
          s.close(() => resolve(port));
        });
      }),
    );
  }
  if (ports.size < count) throw new Error(`could not find ${count} free ports on 127.0.0.1`);
  return [...ports];
}

/** Resolves once the wall clock reaches `at` (for tests whose subject is time itself: TTLs). */
export function clockReaches(at: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())));
}

/** Sends one message through a playground ingress: PUT /<namespace>/<type>/<id>. */
export async function ingress(
  port: number,
  target: string,
  body: string | Uint8Array,
  typename?: string,
): Promise<Response> {
  const headers: Record<string, string> = {};
  if (typename !== undefined) headers['content-type'] = `application/vnd.${typename}`;
  return fetch(`http://127.0.0.1:${port}/${target}`, {
    method: 'PUT',
    headers,
    body,
    signal: AbortSignal.timeout(10_000),
  });
}

/** Sends a JSON value of type `typename` through a playground ingress and expects it accepted. */
export async function ingressJson(
  port: number,
  target: string,
  typename: string,
  value: unknown,
): Promise<void> {
  const res = await ingress(port, target, JSON.stringify(value), typename);
  if (res.status !== 200)
    throw new Error(`playground ingress answered ${res.status} for ${target}: ${await res.text()}`);
}

/** Every committed record of `topic`, over all its partitions (partition order, then offset order). */
export async function readTopic(log: EmbeddedLog, topic: string): Promise<LogRecord[]> {
  const reader = log.reader(topic);
  const out: LogRecord[] = [];
  const parts = await reader.partitions();
  for (let p = 0; p < parts; p++) out.push(...(await reader.read(p, 0, Number.MAX_SAFE_INTEGER)));
  return out;
}

export const utf8 = (v: Uint8Array | null): string => (v === null ? '' : Buffer.from(v).toString('utf8'));

/** module.yaml text for an endpoint serving `functions` at a loopback port. */
export function endpointDoc(functions: string, port: number, extra = ''): string {
  return [
    'kind: io.statefun.endpoints.v2/http',
    'spec:',
    `  functions: ${functions}`,
    `  urlPathTemplate: http://127.0.0.1:${port}/{function.name}`,
    ...(extra === '' ? [] : extra.split('\n').map((l) => `  ${l}`)),
  ].join('\n');
}
