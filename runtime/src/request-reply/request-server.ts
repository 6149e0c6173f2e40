// The request-response HTTP ingress (`io.continuum.http.v1/ingress`): `POST /v1/invoke/<ns>/<type>/<id>`
// sends the body to that address with a caller that stands for this request, and answers with the
// message the function sends back to its caller once that reply is committed; after the timeout,
// 202 and the results URL. An `Idempotency-Key` binds the request to one request id for the
// retention: a retry gets the same reply and invokes nothing again.
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { Address } from '@continuum/sdk/protocol';
import { addressKey } from '../core/address.js';
import type { FunctionRouter } from '../core/routing.js';
import { ContinuumError, isRetryable } from '../errors.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { tryParseDuration } from '../module/duration.js';
import type { HttpIngressConfig } from '../module/types.js';
import { closeWithin } from '../playground/bounded-close.js';
import { readContentType, typeBody, type ContentTypeReading } from '../playground/playground-ingress.js';
import type { ListeningServer } from '../playground/playground-ingress.js';
import type { IngressMessage } from '../observers.js';
import { REPLY_NAMESPACE, replyAddress, type Reply } from './reply-address.js';
import type { ReplyStore, RequestRecord } from './reply-store.js';

/** Watches the requests of one HTTP ingress (metrics). Must be cheap and must not throw. */
export interface RequestObserver {
  /** A request ended: `outcome` reply (200), timeout (202), rejected (4xx) or failed (5xx). */
  ended?(ingress: string, outcome: RequestOutcome, durationMs: number): void;
  /** A retry with a known idempotency key came in. */
  retried?(ingress: string): void;
}

export type RequestOutcome = 'reply' | 'timeout' | 'rejected' | 'failed';

/** A request waiting in this process, as the admin API lists it. */
export interface PendingRequest {
  requestId: string;
  target: string;
  ingress: string;
  since: number;
  timeoutAt: number;
  idempotencyKey?: string | undefined;
}

export interface RequestServerOptions {
  config: HttpIngressConfig;
  host?: string | undefined;
  functions: FunctionRouter;
  send: (messages: readonly IngressMessage[]) => Promise<void>;
  /**
   * Hands a request's message to the task of this process that owns its target, if any
   * (Runtime.request); without it, every request is appended with `send`.
   */
  request?: ((message: IngressMessage) => { taken: boolean; append: () => Promise<void> }) | undefined;
  /**
   * How long a request taken by a local task may wait for its reply before its message is
   * appended to the log too (default HAND_OVER_WINDOW_MS).
   */
  handOverWindowMs?: number | undefined;
  store: ReplyStore;
  /** Shared by the ingresses of a process: the admin API lists it. */
  pending?: PendingRequests | undefined;
  observer?: RequestObserver | undefined;
  logger?: Logger | undefined;
  clock?: (() => number) | undefined;
}

/** The requests waiting for their reply in this process, and the wake-up when a reply is stored. */
export class PendingRequests {
  private readonly waiting = new Map<string, { info: PendingRequest; wake: Set<(r: Reply) => void> }>();
  private unlisten: (() => void) | undefined;

  constructor(private readonly store: ReplyStore) {}

  get size(): number {
    return this.waiting.size;
  }

  list(max: number): PendingRequest[] {
    return [...this.waiting.values()].slice(0, max).map((w) => ({ ...w.info }));
  }

  /** Resolves with the reply, or undefined at `timeoutMs` (or when `abort` fires). */
  wait(info: PendingRequest, timeoutMs: number, abort: AbortSignal): { reply: Promise<Reply | undefined> } {
    this.unlisten ??= this.store.onReply((r) => this.deliver(r));
    let entry = this.waiting.get(info.requestId);
    if (entry === undefined) {
      entry = { info, wake: new Set() };
      this.waiting.set(info.requestId, entry);
    }
    const own = entry;
    const reply = new Promise<Reply | undefined>((resolve) => {
      const done = (r: Reply | undefined): void => {
        clearTimeout(timer);
        abort.removeEventListener('abort', onAbort);
        own.wake.delete(done);
        if (own.wake.size === 0 && this.waiting.get(info.requestId) === own)
          this.waiting.delete(info.requestId);
        resolve(r);
      };
      const onAbort = (): void => done(undefined);
      own.wake.add(done);
      const timer = setTimeout(() => done(undefined), timeoutMs);
      abort.addEventListener('abort', onAbort);
    });
    return { reply };
  }

  deliver(reply: Reply): void {
    const entry = this.waiting.get(reply.requestId);
    if (entry === undefined) return;
    for (const wake of [...entry.wake]) wake(reply);
  }

  close(): void {
    this.unlisten?.();
    this.unlisten = undefined;
  }
}

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/u;

/**
 * A request whose target's partition this process owns goes to its task at once; if its reply
 * is committed within this window, its message never enters the log (the checkpoint with the
 * reply is what makes the invocation durable). After the window its message is appended like any
 * other, so a task that lost its partition meanwhile (or a process that crashed: the caller's
 * retry with the same Idempotency-Key appends it) delays the request by this much at most.
 */
export const HAND_OVER_WINDOW_MS = 1000;
const WINDOW_ENDED = Symbol('hand-over window ended');

function sha256(parts: readonly (string | Uint8Array)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\u0000');
  return h.digest('hex');
}

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The bearer token an ingress requires, read from its environment variable when it names one. */
export function ingressToken(config: HttpIngressConfig, env = process.env): string | undefined {
  if (config.token !== undefined) return config.token;
  if (config.tokenEnv === undefined) return undefined;
  const value = env[config.tokenEnv];
  if (value === undefined || value === '') {
    throw new ContinuumError(
      'HTTP_INGRESS_TOKEN_MISSING',
      `HTTP ingress ${config.id} takes its bearer token from the environment variable ${config.tokenEnv}, which is not set; set it, or remove auth from the ingress in ${config.source.file}`,
    );
  }
  return value;
}

export function buildRequestServer(opts: RequestServerOptions): FastifyInstance {
  const { config, store } = opts;
  const handOverWindowMs = opts.handOverWindowMs ?? HAND_OVER_WINDOW_MS;
  const now = opts.clock ?? Date.now;
  const log = (opts.logger ?? silentLogger).child({ ingress: config.id });
  const token = ingressToken(config);
  const pending = opts.pending ?? new PendingRequests(store);
  const closing = new AbortController();
  const app = Fastify({ bodyLimit: config.maxBodyBytes });
  const ended = (outcome: RequestOutcome, started: number): void =>
    opts.observer?.ended?.(config.id, outcome, now() - started);

  // A StateFun typename puts a second "/" into the media type, which fastify's content-type check
  // refuses: read the typename first, then take the body as plain bytes (as the playground does).
  const contentTypes = new WeakMap<object, ContentTypeReading>();
  app.addHook('onRequest', (req, reply, done) => {
    if (token !== undefined) {
      const header = req.headers.authorization ?? '';
      const given = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
      if (!sameToken(given, token)) {
        void reply.code(401).header('www-authenticate', 'Bearer').send({
          code: 'UNAUTHORIZED',
          error: 'missing or wrong bearer token (Authorization: Bearer <token>)',
        });
        return;
      }
    }
    contentTypes.set(req.raw, readContentType(req.raw.headers['content-type']));
    req.raw.headers['content-type'] = 'application/octet-stream';
    done();
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.addHook('onClose', () => {
    // Waiting requests answer 202 with their results URL: their work goes on without them.
    closing.abort();
    pending.close();
  });

  const location = (requestId: string): string => `/v1/invoke/results/${encodeURIComponent(requestId)}`;
  // A typename media type has two slashes, which fastify's content-type check drops on send:
  // it is set after that check, in onSend.
  const replyTypes = new WeakMap<object, string>();
  app.addHook('onSend', (_req, reply, payload, done) => {
    const typename = replyTypes.get(reply.raw);
    if (typename !== undefined) void reply.header('content-type', `application/vnd.${typename}`);
    done(null, payload);
  });
  const sendReply = (reply: FastifyReply, r: Reply): FastifyReply => {
    replyTypes.set(reply.raw, r.typename);
    return reply.code(200).header('continuum-request-id', r.requestId).send(Buffer.from(r.value));
  };
  const sendPending = (reply: FastifyReply, requestId: string, timeoutMs: number): FastifyReply =>
    reply
      .code(202)
      .header('location', location(requestId))
      .header('continuum-request-id', requestId)
      .send({
        code: 'REPLY_PENDING',
        requestId,
        location: location(requestId),
        error: `no reply within ${timeoutMs} ms; the request is committed and will be processed once: fetch its reply from the location`,
      });

  app.post<{ Params: { namespace: string; type: string; id: string }; Querystring: { timeout?: string } }>(
    '/v1/invoke/:namespace/:type/:id',
    async (req, reply) => {
      const started = now();
      const reject = (status: number, code: string, error: string): FastifyReply => {
        ended(status >= 500 ? 'failed' : 'rejected', started);
        return reply.code(status).send({ code, error });
      };
      const { namespace, type, id } = req.params;
      const functionType = `${namespace}/${type}`;
      if (namespace === REPLY_NAMESPACE || opts.functions.resolve(functionType) === undefined) {
        return reject(
          404,
          'FUNCTION_UNKNOWN',
          `no endpoint in module.yaml serves function type ${functionType}`,
        );
      }
      let timeoutMs = config.defaultTimeoutMs;
      if (req.query.timeout !== undefined) {
        const parsed = tryParseDuration(req.query.timeout);
        if (!parsed.ok || parsed.ms > config.maxTimeoutMs) {
          return reject(
            400,
            'TIMEOUT_INVALID',
            `?timeout=${req.query.timeout}: ${parsed.ok ? `longer than this ingress's maxTimeout (${config.maxTimeoutMs} ms)` : parsed.reason}; expected a duration such as 500ms or 5s`,
          );
        }
        timeoutMs = parsed.ms;
      }
      const keyHeader = req.headers['idempotency-key'];
      const key = Array.isArray(keyHeader) ? keyHeader[0] : keyHeader;
      if (key !== undefined && !KEY_PATTERN.test(key)) {
        return reject(
          400,
          'IDEMPOTENCY_KEY_INVALID',
          'the Idempotency-Key header must be 1 to 255 visible ASCII characters (no spaces)',
        );
      }
      if (pending.size >= config.maxPendingRequests) {
        void reply.header('retry-after', '1');
        return reject(
          503,
          'TOO_MANY_PENDING',
          `this process already has ${pending.size} requests waiting for replies (maxPendingRequests); retry shortly`,
        );
      }
      const body = req.body instanceof Buffer ? new Uint8Array(req.body) : new Uint8Array();
      // The playground ingress's content-type rule: a body no function could read is refused.
      const typed = typeBody(contentTypes.get(req.raw) ?? readContentType(undefined), body);
      if (!typed.ok)
        return reject(
          typed.status,
          typed.status === 415 ? 'CONTENT_TYPE_UNSUPPORTED' : 'BODY_INVALID',
          typed.error,
        );
      const { typename } = typed;
      const target: Address = { namespace, type, id };
      const record: RequestRecord = {
        requestId: randomUUID(),
        target: addressKey(target),
        createdAt: now(),
        retentionMs: config.retentionMs,
        digest: sha256([typename, body]),
      };
      try {
        const request = await store.accept(
          key === undefined ? undefined : `${config.id}\u0000${record.target}\u0000${key}`,
          record,
        );
        if (request.requestId !== record.requestId) {
          opts.observer?.retried?.(config.id);
          if (request.digest !== record.digest) {
            return reject(
              422,
              'IDEMPOTENCY_KEY_REUSED',
              `Idempotency-Key "${key}" was used for a request to ${record.target} with another body or Content-Type; use a new key for a new request`,
            );
          }
        }
        const waiting = pending.wait(
          {
            requestId: request.requestId,
            target: request.target,
            ingress: config.id,
            since: started,
            timeoutAt: started + timeoutMs,
            idempotencyKey: key,
          },
          timeoutMs,
          closing.signal,
        );
        if (request !== record) {
          const stored = await store.reply(request.requestId);
          if (stored !== undefined) {
            pending.deliver(stored);
            await waiting.reply;
            ended('reply', started);
            return sendReply(reply, stored);
          }
        }
        // A retry sends its request again: the target address remembers the request ids it was
        // invoked for, so this takes effect only when the first attempt never ran.
        const message: IngressMessage = {
          target,
          caller: replyAddress(request.requestId),
          argument: { typename, hasValue: true, value: body },
          traceparent: typeof req.headers.traceparent === 'string' ? req.headers.traceparent : undefined,
        };
        const handle = opts.request?.(message);
        let got: Reply | undefined;
        if (handle?.taken === true) {
          // The owning task of this process took it: a reply within the window needs no log
          // record; after it (or at a shorter timeout) the record makes the request durable.
          let timer: NodeJS.Timeout | undefined;
          const windowEnd = new Promise<typeof WINDOW_ENDED>((resolve) => {
            timer = setTimeout(() => resolve(WINDOW_ENDED), handOverWindowMs);
          });
          const first = await Promise.race([waiting.reply, windowEnd]);
          clearTimeout(timer);
          if (first === WINDOW_ENDED || first === undefined) {
            await handle.append();
            got = first === WINDOW_ENDED ? await waiting.reply : undefined;
          } else {
            got = first;
          }
        } else {
          await (handle === undefined ? opts.send([message]) : handle.append());
          got = await waiting.reply;
        }
        if (got === undefined) {
          ended('timeout', started);
          return sendPending(reply, request.requestId, timeoutMs);
        }
        ended('reply', started);
        return sendReply(reply, got);
      } catch (err) {
        log.warn('request failed', { target: record.target, err });
        const status = isRetryable(err) ? 503 : 500;
        return reject(
          status,
          err instanceof ContinuumError ? err.code : 'REQUEST_FAILED',
          `the request could not be accepted: ${err instanceof Error ? err.message : String(err)}; retry with the same Idempotency-Key`,
        );
      }
    },
  );

  app.get<{ Params: { requestId: string } }>('/v1/invoke/results/:requestId', async (req, reply) => {
    const { requestId } = req.params;
    const stored = await store.reply(requestId);
    if (stored !== undefined) return sendReply(reply, stored);
    const request = await store.request(requestId);
    if (request !== undefined) {
      return reply
        .code(202)
        .header('location', location(requestId))
        .send({ code: 'REPLY_PENDING', requestId, error: 'the request has no reply yet' });
    }
    return reply.code(404).send({
      code: 'REQUEST_UNKNOWN',
      error: `no request ${requestId}: never accepted, or its retention (${config.retentionMs} ms) has passed`,
    });
  });
  return app;
}

export async function startRequestServer(opts: RequestServerOptions): Promise<ListeningServer> {
  const app = buildRequestServer(opts);
  await app.listen({ port: opts.config.port, host: opts.host ?? '127.0.0.1' });
  const addr = app.server.address();
  return {
    port: typeof addr === 'object' && addr !== null ? addr.port : opts.config.port,
    close: () => closeWithin(app),
  };
}
