// The request-reply handler: ToFunction bytes in, FromFunction bytes out, for any HTTP framework.
import { SdkError, ProtocolError } from './errors.js';
import type { StatefulFunction } from './function.js';
import { invokeBatch } from './invoke.js';
import { decodeToFunction, encodeFromFunction } from './protocol/codec.js';
import type { Specs } from './spec.js';

/** Serves a set of functions over the StateFun request-reply protocol, independent of any HTTP server. */
export interface RequestReplyHandler {
  /** The function type names served, in registration order. */
  readonly typenames: readonly string[];
  /**
   * Handles one request body (a serialized `ToFunction`) and returns the response body (a serialized
   * `FromFunction`), to be sent with status 200 and `Content-Type: application/octet-stream`.
   * @throws {SdkError} map it to an HTTP status with {@link httpStatusOf}: a {@link ProtocolError} for a bad
   * body (400), `UNKNOWN_FUNCTION` (404), `MESSAGE_REJECTED` when the function rejected a message for good (422,
   * not retried), `FUNCTION_FAILED` when the function threw anything else (500, retried).
   */
  handle(body: Uint8Array): Promise<Uint8Array>;
}

/**
 * Creates a {@link RequestReplyHandler}, for serving functions from an HTTP framework other than fastify
 * (use {@link statefulFunctionsPlugin} or {@link serve} for fastify).
 *
 * @example
 * ```ts
 * const handler = createRequestReplyHandler([greeter]);
 * app.post('/statefun', async (req, res) => {
 *   try { res.type('application/octet-stream').send(Buffer.from(await handler.handle(req.body))); }
 *   catch (e) { res.status(httpStatusOf(e)).send(String(e)); }
 * });
 * ```
 */
export function createRequestReplyHandler(functions: Iterable<StatefulFunction<Specs>>): RequestReplyHandler {
  const byTypename = new Map<string, StatefulFunction<Specs>>();
  for (const fn of functions) {
    if (
      typeof fn !== 'object' ||
      fn === null ||
      typeof fn.typename !== 'string' ||
      typeof fn.handler !== 'function'
    ) {
      throw new SdkError(
        'INVALID_ARGUMENT',
        'createRequestReplyHandler: every function must come from statefulFunction(...)',
      );
    }
    if (byTypename.has(fn.typename)) {
      throw new SdkError(
        'INVALID_ARGUMENT',
        `createRequestReplyHandler: the function type ${fn.typename} is given twice`,
      );
    }
    byTypename.set(fn.typename, fn);
  }
  const typenames = Object.freeze([...byTypename.keys()]);

  return Object.freeze({
    typenames,
    async handle(body: Uint8Array): Promise<Uint8Array> {
      if (!(body instanceof Uint8Array) || body.length === 0) {
        throw new ProtocolError(
          'PROTOCOL_MISSING_FIELD',
          'the request body is empty; expected a serialized ToFunction',
        );
      }
      const { invocation } = decodeToFunction(body);
      if (invocation === undefined) {
        throw new ProtocolError(
          'PROTOCOL_MISSING_FIELD',
          'the request body is a ToFunction without an invocation batch; nothing to run',
        );
      }
      const typename = `${invocation.target.namespace}/${invocation.target.type}`;
      const fn = byTypename.get(typename);
      if (fn === undefined) {
        throw new SdkError(
          'UNKNOWN_FUNCTION',
          `this service does not serve the function type ${typename} (it serves ${typenames.join(', ') || 'nothing'}); ` +
            'check the functions pattern of the endpoint in module.yaml and the functions passed to serve()',
        );
      }
      return encodeFromFunction(await invokeBatch(fn, invocation));
    },
  });
}

/**
 * The HTTP status for an error of {@link RequestReplyHandler.handle}: 400 for a body that is not a valid
 * request, 404 for a function type not served here, 422 for a message the function rejected for good (a
 * `TerminalError`, or a message that does not fit its type; the runtime dead-letters it at once), 500
 * otherwise (the function failed; the runtime retries).
 */
export function httpStatusOf(error: unknown): number {
  if (error instanceof ProtocolError) return 400;
  if (error instanceof SdkError && error.code === 'UNKNOWN_FUNCTION') return 404;
  if (error instanceof SdkError && error.code === 'MESSAGE_REJECTED') return 422;
  return 500;
}
