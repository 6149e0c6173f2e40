// Test fixtures for the HTTP function client: real node:http(s) servers on 127.0.0.1 or unix
// sockets that record what they receive, endpoint configs, and protocol messages.
import { createServer as createHttpServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Address, FromFunction, ToFunction } from '@continuum/sdk/protocol';
import { encodeFromFunction } from '@continuum/sdk/protocol';
import type { HttpCall } from '../../src/transport/http-function-client.js';
import type { HttpEndpointConfig, TransportConfig } from '../../src/module/types.js';

/** One request as the server saw it. */
export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Index of the connection it arrived on (0-based, in accept order). */
  connection: number;
}

export type Handler = (req: Received, res: ServerResponse, index: number) => void;

export interface TestServer {
  /** `http://127.0.0.1:port` / `https://127.0.0.1:port`, or the socket path for unix servers. */
  base: string;
  received: Received[];
  /** Connections accepted so far. */
  connections(): number;
  /** Requests being handled right now, and the most seen at once. */
  concurrency(): { now: number; max: number };
  close(): Promise<void>;
}

export interface ServerOptions {
  /** Serve TLS with these options. */
  tls?: HttpsServerOptions;
  /** Listen on this unix socket instead of 127.0.0.1. */
  socketPath?: string;
}

/** Starts a server that reads each request body fully, records it, then calls `handler`. */
export async function startServer(handler: Handler, options: ServerOptions = {}): Promise<TestServer> {
  const received: Received[] = [];
  const sockets = new Map<Socket, number>();
  let now = 0;
  let max = 0;
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    now++;
    max = Math.max(max, now);
    res.on('close', () => now--);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const entry: Received = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
        connection: sockets.get(req.socket) ?? -1,
      };
      received.push(entry);
      handler(entry, res, received.length - 1);
    });
  };
  const server: Server =
    options.tls !== undefined ? createHttpsServer(options.tls, onRequest) : createHttpServer(onRequest);
  // TLS servers see the raw socket here and the TLS socket on requests; count accepted connections
  // by the socket the request arrives on.
  server.on(options.tls !== undefined ? 'secureConnection' : 'connection', (socket: Socket) => {
    sockets.set(socket, sockets.size);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (options.socketPath !== undefined) server.listen(options.socketPath, resolve);
    else server.listen(0, '127.0.0.1', resolve);
  });
  const scheme = options.tls !== undefined ? 'https' : 'http';
  const base =
    options.socketPath !== undefined
      ? options.socketPath
      : `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    received,
    connections: () => sockets.size,
    concurrency: () => ({ now, max }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const target: Address = { namespace: 'com.example', type: 'greeter', id: 'alice' };

/** A ToFunction with one invocation to {@link target}. */
export function request(text = 'hello'): ToFunction {
  return {
    invocation: {
      target,
      state: [{ stateName: 'seen' }],
      invocations: [
        { argument: { typename: 'io.statefun.types/string', hasValue: true, value: Buffer.from(text) } },
      ],
    },
  };
}

/** A FromFunction sending one message back. */
export const reply: FromFunction = {
  invocationResult: {
    stateMutations: [
      {
        mutationType: 1,
        stateName: 'seen',
        stateValue: { typename: 'io.statefun.types/int', hasValue: true, value: Uint8Array.from([8, 1]) },
      },
    ],
    outgoingMessages: [
      {
        target: { namespace: 'com.example', type: 'printer', id: 'alice' },
        argument: { typename: 'io.statefun.types/string', hasValue: true, value: Buffer.from('hi alice') },
      },
    ],
    delayedInvocations: [],
    outgoingEgresses: [],
  },
};

export const replyBytes = Buffer.from(encodeFromFunction(reply));

/** Answers 200 with `body` as StateFun's JS SDK does (octet-stream, Content-Length). */
export function ok(
  res: ServerResponse,
  body: Uint8Array = replyBytes,
  headers: Record<string, string> = {},
): void {
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': body.byteLength,
    ...headers,
  });
  res.end(body);
}

/** An endpoint config with small, test-friendly defaults. */
export function endpoint(transport: Partial<TransportConfig> = {}): HttpEndpointConfig {
  return {
    kind: 'io.statefun.endpoints.v2/http',
    functions: 'com.example/*',
    match: { kind: 'namespace', namespace: 'com.example' },
    urlPathTemplate: 'http://127.0.0.1/{function.name}',
    maxNumBatchRequests: 1000,
    transport: {
      type: 'async',
      callTimeoutMs: 2_000,
      connectTimeoutMs: 1_000,
      poolTtlMs: 15_000,
      poolSize: 8,
      payloadMaxBytes: 32 * 1024 * 1024,
      ...transport,
    },
    source: { file: 'module.yaml', document: 1 },
  };
}

export function call(
  url: string,
  transport: Partial<TransportConfig> = {},
  extra: Partial<HttpCall> = {},
): HttpCall {
  return { endpoint: endpoint(transport), url, address: target, request: request(), ...extra };
}
