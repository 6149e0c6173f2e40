// The request-reply handler: ToFunction bytes in, FromFunction bytes out, for any HTTP framework.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { echo } from './echo.js';
import { SdkError, ProtocolError } from './errors.js';
import type { StatefulFunction } from './function.js';
import { invokeBatch } from './invoke.js';
import { countInvocations, decodeToFunctionInSteps, encodeFromFunction } from './protocol/codec.js';
import type { Specs } from './spec.js';

/** Default bound on the invocations of one request (the runtime sends up to maxNumBatchRequests). */
export const DEFAULT_MAX_INVOCATIONS_PER_REQUEST = 10_000;

/** Invocations decoded between two yields to the event loop. */
const DECODE_STEP = 1_000;

/** Options of {@link createRequestReplyHandler}. */
export interface RequestReplyHandlerOptions {
  /**
   * Most invocations one request may carry; a larger batch fails with `REQUEST_TOO_LARGE` (HTTP
   * 413) before it is decoded. Keep it at least the endpoint's `maxNumBatchRequests`.
   * @example `{ maxInvocationsPerRequest: 50_000 }`
   * @defaultValue 10000
   */
  maxInvocationsPerRequest?: number;
}

/** Serves a set of functions over the StateFun request-reply protocol, independent of any HTTP server. */
export interface RequestReplyHandler {
  /** The function type names served, in registration order. */
  readonly typenames: readonly string[];
  /**
   * Handles one request body (a serialized `ToFunction`) and returns the response body (a serialized
   * `FromFunction`), to be sent with status 200 and `Content-Type: application/octet-stream`.
   * @throws {SdkError} map it to an HTTP status with {@link httpStatusOf}: a {@link ProtocolError} for a bad
   * body (400), `UNKNOWN_FUNCTION` (404), `REQUEST_TOO_LARGE` (413), `MESSAGE_REJECTED` when the function
   * rejected a message for good (422, not retried), `FUNCTION_FAILED` when the function threw anything else (500, retried).
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
export function createRequestReplyHandler(
  functions: Iterable<StatefulFunction<Specs>>,
  options: RequestReplyHandlerOptions = {},
): RequestReplyHandler {
  const maxInvocations = options.maxInvocationsPerRequest ?? DEFAULT_MAX_INVOCATIONS_PER_REQUEST;
  if (!Number.isSafeInteger(maxInvocations) || maxInvocations < 1) {
    throw new SdkError(
      'INVALID_ARGUMENT',
      `maxInvocationsPerRequest must be a whole number of at least 1, got ${echo(String(maxInvocations))}`,
    );
  }
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
      const count = countInvocations(body);
      if (count !== undefined && count > maxInvocations) {
        throw new SdkError(
          'REQUEST_TOO_LARGE',
          `the request carries ${count} invocations, more than the limit of ${maxInvocations} per request ` +
            '(maxInvocationsPerRequest of serve()); lower maxNumBatchRequests of the endpoint in module.yaml, or raise the limit',
        );
      }
      const { invocation } = await decodeToFunctionInSteps(body, {
        step: DECODE_STEP,
        pause: () => yieldToEventLoop(),
      });
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
          `this service does not serve the function type ${echo(typename)} (it serves ${typenames.join(', ') || 'nothing'}); ` +
            'check the functions pattern of the endpoint in module.yaml and the functions passed to serve()',
        );
      }
      return encodeFromFunction(await invokeBatch(fn, invocation));
    },
  });
}

/**
 * The HTTP status for an error of {@link RequestReplyHandler.handle}: 400 for a body that is not a valid
 * request, 404 for a function type not served here, 413 for more invocations than allowed, 422 for a
 * message the function rejected for good (a `TerminalError`, or a message that does not fit its type; the
 * runtime dead-letters it at once), 500 otherwise (the function failed; the runtime retries).
 */
export function httpStatusOf(error: unknown): number {
  if (error instanceof ProtocolError) return 400;
  if (error instanceof SdkError && error.code === 'UNKNOWN_FUNCTION') return 404;
  if (error instanceof SdkError && error.code === 'REQUEST_TOO_LARGE') return 413;
  if (error instanceof SdkError && error.code === 'MESSAGE_REJECTED') return 422;
  return 500;
}
