// The playground HTTP ingress (`io.statefun.playground.v1/ingress`), as the StateFun playground
// image behaves: a request to `/<namespace>/<type>/<id>` sends its body verbatim to that address,
// typed by `Content-Type: application/vnd.<typename>` (default io.statefun.types/string, raw).
// With event time configured it is one watermark source: messages carry the ingress time (or a
// JSON field of the body) and marks follow them into the log.
import Fastify, { type FastifyInstance } from 'fastify';
import type { Address } from '@continuum/sdk/protocol';
import type { FunctionRouter } from '../core/routing.js';
import type { WatermarkMark } from '../core/watermarks.js';
import { isRetryable } from '../errors.js';
import { AppendingSource } from '../ingress/appending-source.js';
import { extractEventTime, playgroundSourceGroup } from '../ingress/event-time.js';
import type { Logger } from '../logger.js';
import type { EventTimeConfig } from '../module/types.js';
import type { IngressMessage } from '../runtime.js';
import { requireBearerToken } from './bearer-guard.js';
import { closeWithin } from './bounded-close.js';

export const DEFAULT_INGRESS_TYPENAME = 'io.statefun.types/string';

export interface PlaygroundIngressOptions {
  port: number;
  host?: string | undefined;
  send: (messages: readonly IngressMessage[]) => Promise<void>;
  functions: FunctionRouter;
  /** Largest accepted body (default 4 MiB). */
  bodyLimit?: number | undefined;
  /**
   * Event time: with it (and `appendMarks`) the ingress is the watermark source
   * {@link playgroundSourceGroup}; without, messages carry the time they are appended.
   */
  eventTime?: EventTimeConfig | undefined;
  /** Appends a watermark mark to every internal partition. */
  appendMarks?: ((mark: WatermarkMark) => Promise<void>) | undefined;
  logger?: Logger | undefined;
  /** When set, every request needs `Authorization: Bearer <token>` (401 otherwise). */
  token?: string | undefined;
}

export interface ListeningServer {
  port: number;
  close(): Promise<void>;
}

export function typenameFromContentType(contentType: string | undefined): string {
  const value = (contentType ?? '').split(';')[0]!.trim();
  const prefix = 'application/vnd.';
  return value.toLowerCase().startsWith(prefix) && value.length > prefix.length
    ? value.slice(prefix.length)
    : DEFAULT_INGRESS_TYPENAME;
}

export function buildPlaygroundIngress(opts: PlaygroundIngressOptions): FastifyInstance {
  const app = Fastify({ bodyLimit: opts.bodyLimit ?? 4 * 1024 * 1024 });
  const eventTime = opts.eventTime;
  let send = opts.send;
  if (eventTime !== undefined && opts.appendMarks !== undefined) {
    const source = new AppendingSource({
      config: eventTime,
      identity: { group: playgroundSourceGroup(opts.port), source: 'http/0', members: 'http:1' },
      send: opts.send,
      appendMarks: opts.appendMarks,
      logger: opts.logger,
    });
    send = (m) => source.send(m);
    app.addHook('onClose', () => source.close());
  }
  // A StateFun typename puts a second "/" into the media type (application/vnd.<namespace>/<name>),
  // which fastify's media-type check answers with 415 before any parser runs: read the typename
  // first, then let the body through as plain bytes.
  const typenames = new WeakMap<object, string>();
  requireBearerToken(app, opts.token, 'playground');
  app.addHook('onRequest', (req, _reply, done) => {
    typenames.set(req.raw, typenameFromContentType(req.raw.headers['content-type']));
    req.raw.headers['content-type'] = 'application/octet-stream';
    done();
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.route<{ Params: { namespace: string; type: string; id: string } }>({
    method: ['PUT', 'POST'],
    url: '/:namespace/:type/:id',
    handler: async (req, reply) => {
      const { namespace, type, id } = req.params;
      const functionType = `${namespace}/${type}`;
      if (opts.functions.resolve(functionType) === undefined) {
        return reply
          .code(404)
          .send({ error: `no endpoint in module.yaml serves function type ${functionType}` });
      }
      const typename = typenames.get(req.raw) ?? DEFAULT_INGRESS_TYPENAME;
      const body = req.body instanceof Buffer ? new Uint8Array(req.body) : new Uint8Array();
      const target: Address = { namespace, type, id };
      const message: IngressMessage = { target, argument: { typename, hasValue: true, value: body } };
      if (eventTime?.extractor.type === 'json-field') {
        const extracted = extractEventTime(eventTime.extractor, body, 0, Date.now());
        if (!extracted.ok) return reply.code(400).send({ error: extracted.reason });
        message.eventTime = extracted.eventTime;
      }
      try {
        await send([message]);
      } catch (err) {
        if (isRetryable(err)) return reply.code(503).send({ error: String(err) });
        throw err;
      }
      return reply.code(200).send({ accepted: true, target: `${functionType}/${id}`, typename });
    },
  });
  return app;
}

export async function startPlaygroundIngress(opts: PlaygroundIngressOptions): Promise<ListeningServer> {
  const app = buildPlaygroundIngress(opts);
  await app.listen({ port: opts.port, host: opts.host ?? '127.0.0.1' });
  const addr = app.server.address();
  return {
    port: typeof addr === 'object' && addr !== null ? addr.port : opts.port,
    close: () => closeWithin(app),
  };
}
