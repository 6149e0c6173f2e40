// Serving over HTTP with fastify: an encapsulated plugin to mount functions in any fastify app, and `serve`,
// a one-line standalone server.
import Fastify, {
  LogController,
  type FastifyInstance,
  type FastifyPluginCallback,
  type FastifyServerOptions,
} from 'fastify';
import { SdkError } from './errors.js';
import type { StatefulFunction } from './function.js';
import { createRequestReplyHandler, httpStatusOf } from './handler.js';
import type { Specs } from './spec.js';
import { createRequestVerifier, signatureCheck, type VerifyOptions } from './verify.js';

/** Default request size limit: the StateFun runtime's default payload limit (32 MiB). */
export const DEFAULT_BODY_LIMIT = 32 * 1024 * 1024;

/** Options of {@link statefulFunctionsPlugin}. */
export interface StatefulFunctionsPluginOptions {
  /**
   * The functions to serve. Requests are dispatched on the target in the body, not on the URL path.
   * @example `{ functions: [greeter, cart, inventory] }`
   */
  functions: Iterable<StatefulFunction<Specs>>;
  /**
   * Largest accepted request body in bytes; larger requests get 413.
   * @example `{ bodyLimit: 64 * 1024 * 1024 }`
   * @defaultValue 32 MiB
   */
  bodyLimit?: number;
  /**
   * Accept only requests signed by the runtime (`statefun run --signing-key`): requests without a
   * valid, recent signature by one of `publicKeys` get 401. Off when absent.
   * @example `{ verify: { publicKeys: [process.env.RUNTIME_PUBLIC_KEY!] } }`
   */
  verify?: VerifyOptions;
}

const OTHER_METHODS = ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;

/**
 * A fastify plugin serving functions at its prefix: `POST <prefix>` and `POST <prefix>/<anything>` (so an
 * endpoint's `urlPathTemplate` may end in `{function.name}`). Other methods get 405. Its content type
 * parser is encapsulated: it reads any body as bytes, without affecting the rest of your app.
 *
 * Responses: 200 `application/octet-stream` with a FromFunction; 401 for a request without a valid signature
 * (only with `verify`); 400 for a body that is not a valid request;
 * 404 for a function type this service does not serve; 500 when the function throws (logged at error level).
 *
 * @example
 * ```ts
 * const app = Fastify({ logger: true });
 * await app.register(statefulFunctionsPlugin, { prefix: '/statefun', functions: [greeter] });
 * await app.listen({ port: 8000, host: '0.0.0.0' });
 * ```
 */
export const statefulFunctionsPlugin: FastifyPluginCallback<StatefulFunctionsPluginOptions> = (
  app,
  options,
  done,
) => {
  const handler = createRequestReplyHandler(options.functions);
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  if (options.verify !== undefined) {
    try {
      app.addHook('preHandler', signatureCheck(createRequestVerifier(options.verify)));
    } catch (error) {
      done(error as Error);
      return;
    }
  }

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_request, body, done) => done(null, body));

  for (const url of ['/', '/*']) {
    app.route({
      method: 'POST',
      url,
      bodyLimit,
      handler: async (request, reply) => {
        const body = request.body;
        try {
          const out = await handler.handle(body instanceof Uint8Array ? body : new Uint8Array(0));
          return reply
            .code(200)
            .header('content-type', 'application/octet-stream')
            .send(Buffer.from(out.buffer, out.byteOffset, out.byteLength));
        } catch (error) {
          const status = httpStatusOf(error);
          if (status >= 500) request.log.error({ err: error }, 'stateful function request failed');
          else request.log.warn({ err: error }, 'bad stateful function request');
          const message = error instanceof Error ? error.message : String(error);
          return reply.code(status).header('content-type', 'text/plain; charset=utf-8').send(message);
        }
      },
    });
    app.route({
      method: [...OTHER_METHODS],
      url,
      handler: (request, reply) =>
        reply
          .code(405)
          .header('allow', 'POST')
          .header('content-type', 'text/plain; charset=utf-8')
          .send(`${request.method} is not allowed: the StateFun request-reply protocol uses POST`),
    });
  }
  done();
};

/** Options of {@link serve}. */
export interface ServeOptions extends StatefulFunctionsPluginOptions {
  /**
   * The TCP port; 0 picks a free one (read it from the handle).
   * @example `{ port: Number(process.env.PORT ?? 8000) }`
   * @defaultValue 8000
   */
  port?: number;
  /**
   * The interface to listen on. Use `'0.0.0.0'` in a container so the runtime can reach the service.
   * @example `{ host: '0.0.0.0' }`
   * @defaultValue '127.0.0.1'
   */
  host?: string;
  /**
   * URL path prefix of the functions.
   * @example `{ path: '/statefun' }` with `urlPathTemplate: http://fns:8000/statefun/{function.name}`
   * @defaultValue '/'
   */
  path?: string;
  /**
   * fastify's logger option: `false` to silence, or pino options.
   * @example `{ logger: { level: 'warn' } }`
   * @defaultValue `{ level: 'info' }` (request logging off; failures are logged)
   */
  logger?: FastifyServerOptions['logger'];
}

/** A running server from {@link serve}. */
export interface ServerHandle {
  /** The bound port (useful with `port: 0`). */
  readonly port: number;
  /** The bound host. */
  readonly host: string;
  /** The base URL of the functions, e.g. `http://127.0.0.1:8000/`. */
  readonly url: string;
  /** The underlying fastify instance (for `inject()` in tests, or more routes). */
  readonly app: FastifyInstance;
  /** Stops accepting requests and closes the server once in-flight requests finish. */
  close(): Promise<void>;
}

/**
 * Serves functions over HTTP with a standalone fastify server.
 *
 * @example
 * ```ts
 * const server = await serve({ functions: [greeter], port: 8000, host: '0.0.0.0' });
 * process.on('SIGTERM', () => void server.close());
 * ```
 */
export async function serve(options: ServeOptions): Promise<ServerHandle> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8000;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new SdkError('INVALID_ARGUMENT', `serve: port must be an integer from 0 to 65535, got ${port}`);
  }
  const path = normalizePath(options.path ?? '/');
  const app = Fastify({
    logger: options.logger ?? { level: 'info' },
    // One log line per request would drown the failures; those are logged by the plugin.
    logController: new LogController({ disableRequestLogging: true }),
  });
  const pluginOptions: StatefulFunctionsPluginOptions = { functions: options.functions };
  if (options.bodyLimit !== undefined) pluginOptions.bodyLimit = options.bodyLimit;
  if (options.verify !== undefined) pluginOptions.verify = options.verify;
  try {
    await app.register(
      statefulFunctionsPlugin,
      path === '/' ? pluginOptions : { ...pluginOptions, prefix: path },
    );
    await app.listen({ port, host });
  } catch (error) {
    await app.close();
    throw error;
  }
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address !== null ? address.port : port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return Object.freeze({
    port: boundPort,
    host,
    url: `http://${urlHost}:${boundPort}${path === '/' ? '/' : `${path}/`}`,
    app,
    close: () => app.close(),
  });
}

function normalizePath(path: string): string {
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new SdkError('INVALID_ARGUMENT', `serve: path must start with "/", got ${JSON.stringify(path)}`);
  }
  return path.length > 1 ? path.replace(/\/+$/, '') || '/' : path;
}
