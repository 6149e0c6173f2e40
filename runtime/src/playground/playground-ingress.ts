// The playground HTTP ingress (`io.statefun.playground.v1/ingress`), as the StateFun playground
// image behaves: a request to `/<namespace>/<type>/<id>` sends its body verbatim to that address,
// typed by `Content-Type: application/vnd.<namespace>/<Type>`. Any other content type is refused
// unless the body is a valid encoded io.statefun.types/string, the type StateFun assumes then.
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
import type { IngressMessage } from '../observers.js';
import { DEFAULT_PLAYGROUND_BODY_LIMIT } from '../module/playground.js';
import { typeNameProblem } from '../module/schema.js';
import { requireBearerToken } from './bearer-guard.js';
import { closeWithin } from './bounded-close.js';
import { DEFAULTS } from '../defaults.js';

export const DEFAULT_INGRESS_TYPENAME = 'io.statefun.types/string';

const VND_PREFIX = 'application/vnd.';
const CONTENT_TYPE_RULE =
  'expected Content-Type: application/vnd.<namespace>/<Type>, the typename of the body ' +
  '(e.g. application/vnd.example/GreetRequest); without it the body must be an encoded io.statefun.types/string';
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/u;

export interface PlaygroundIngressOptions {
  port: number;
  host?: string | undefined;
  send: (messages: readonly IngressMessage[]) => Promise<void>;
  functions: FunctionRouter;
  /** Largest accepted body in bytes (default 4 MiB, module.yaml `bodyLimit`). */
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

/** What a request's Content-Type says: a typename, no typename (the string default), or a mistake. */
export type ContentTypeReading =
  | { kind: 'typename'; typename: string }
  | { kind: 'other'; mediaType: string }
  | { kind: 'malformed'; error: string };

/** Reads `application/vnd.<namespace>/<Type>`; parameters after `;` are ignored. */
export function readContentType(contentType: string | undefined): ContentTypeReading {
  const mediaType = (contentType ?? '').split(';')[0]!.trim();
  if (!mediaType.toLowerCase().startsWith(VND_PREFIX)) return { kind: 'other', mediaType };
  const typename = mediaType.slice(VND_PREFIX.length);
  const problem =
    typename === ''
      ? 'it is empty'
      : CONTROL_CHARACTERS.test(typename) || /\s/u.test(typename)
        ? 'it contains whitespace or control characters'
        : typeNameProblem(typename) !== undefined
          ? `it has ${typeNameProblem(typename)}`
          : undefined;
  if (problem === undefined) return { kind: 'typename', typename };
  return {
    kind: 'malformed',
    error: `the typename in Content-Type ${JSON.stringify(shorten(mediaType))} is malformed (${problem}); ${CONTENT_TYPE_RULE}`,
  };
}

/**
 * True when `bytes` is an io.statefun.types/string value as the official SDKs write it: empty, or
 * field 1 (length-delimited) entries of UTF-8 text and nothing else. Protobuf decoders skip unknown
 * fields, so e.g. "hi" would decode leniently to ""; this check does not.
 */
export function isEncodedString(bytes: Uint8Array): boolean {
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let at = 0;
  while (at < bytes.length) {
    if (bytes[at] !== 0x0a) return false;
    at++;
    let length = 0;
    let shift = 0;
    for (;;) {
      const byte = bytes[at++];
      if (byte === undefined || shift > 28) return false;
      length += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if ((byte & 0x80) === 0) break;
    }
    if (at + length > bytes.length) return false;
    try {
      utf8.decode(bytes.subarray(at, at + length));
    } catch {
      return false;
    }
    at += length;
  }
  return true;
}

// The exact encodings of the fixed-size built-in types: empty (the zero value) or tag + bytes.
const FIXED_PRIMITIVES: Readonly<Record<string, { tag: number; size: number }>> = {
  'io.statefun.types/int': { tag: 0x0d, size: 4 },
  'io.statefun.types/float': { tag: 0x0d, size: 4 },
  'io.statefun.types/long': { tag: 0x09, size: 8 },
  'io.statefun.types/double': { tag: 0x09, size: 8 },
};

/**
 * Whether `bytes` is a value of `typename` when it is a built-in io.statefun.types type the
 * runtime can check; true for every other type (their bytes are the function's business).
 */
export function isValidBuiltInValue(typename: string, bytes: Uint8Array): boolean {
  if (typename === DEFAULT_INGRESS_TYPENAME) return isEncodedString(bytes);
  if (typename === 'io.statefun.types/bool') {
    return (
      bytes.length === 0 ||
      (bytes.length === 2 && bytes[0] === 0x08 && (bytes[1] === 0x01 || bytes[1] === 0x00))
    );
  }
  const fixed = Object.hasOwn(FIXED_PRIMITIVES, typename) ? FIXED_PRIMITIVES[typename] : undefined;
  if (fixed === undefined) return true;
  return bytes.length === 0 || (bytes.length === 1 + fixed.size && bytes[0] === fixed.tag);
}

/** The typename of a request body, or why it cannot be taken (400 or 415, with the reason). */
export type TypedBody = { ok: true; typename: string } | { ok: false; status: 400 | 415; error: string };

/**
 * Applies the content-type rule to a body: `application/vnd.<namespace>/<Type>` names its type
 * (and a built-in type's body must be its encoding); anything else is accepted only when the body
 * is an encoded io.statefun.types/string, since a function could never read it otherwise.
 */
export function typeBody(contentType: ContentTypeReading, body: Uint8Array): TypedBody {
  if (contentType.kind === 'malformed') return { ok: false, status: 400, error: contentType.error };
  if (contentType.kind === 'other' && !isEncodedString(body)) {
    const given =
      contentType.mediaType === ''
        ? 'no Content-Type'
        : `Content-Type ${JSON.stringify(shorten(contentType.mediaType))}`;
    return {
      ok: false,
      status: 415,
      error: `${given} with a body that is not an encoded io.statefun.types/string; ${CONTENT_TYPE_RULE}`,
    };
  }
  const typename = contentType.kind === 'typename' ? contentType.typename : DEFAULT_INGRESS_TYPENAME;
  if (!isValidBuiltInValue(typename, body)) {
    return {
      ok: false,
      status: 400,
      error: `the body is not a valid ${typename} value (the function could never read it); send the type's protobuf encoding`,
    };
  }
  return { ok: true, typename };
}

/** Why a path segment cannot be part of an address, or undefined. */
function segmentProblem(what: string, value: string): string | undefined {
  if (value === '') return `the ${what} is empty`;
  if (CONTROL_CHARACTERS.test(value))
    return `the ${what} ${JSON.stringify(shorten(value))} contains control characters`;
  if (what !== 'id' && value.includes('/'))
    return `the ${what} ${JSON.stringify(shorten(value))} contains "/" (a typename has exactly one)`;
  return undefined;
}

function shorten(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}... (${Buffer.byteLength(text)} bytes)` : text;
}

const ADDRESS_RULE = 'expected /<namespace>/<type>/<id> with none of them empty, e.g. /example/greeter/alice';

export function buildPlaygroundIngress(opts: PlaygroundIngressOptions): FastifyInstance {
  const bodyLimit = opts.bodyLimit ?? DEFAULT_PLAYGROUND_BODY_LIMIT;
  const app = Fastify({ bodyLimit });
  app.setErrorHandler((error: { code?: string; statusCode?: number; message: string }, _req, reply) => {
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send({
        error:
          `the request body is larger than the limit of ${bodyLimit} bytes; send a smaller body, or raise ` +
          'bodyLimit of the io.statefun.playground.v1/ingress in module.yaml',
      });
    }
    const status = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) opts.logger?.error('playground ingress request failed', { error: error.message });
    return reply.code(status).send({ error: status >= 500 ? 'internal error' : error.message });
  });
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
  const contentTypes = new WeakMap<object, ContentTypeReading>();
  requireBearerToken(app, opts.token, 'playground');
  app.addHook('onRequest', (req, _reply, done) => {
    contentTypes.set(req.raw, readContentType(req.raw.headers['content-type']));
    req.raw.headers['content-type'] = 'application/octet-stream';
    done();
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  // An address with an empty part does not match the route below; say so instead of a bare 404.
  app.route({
    method: ['PUT', 'POST'],
    url: '/*',
    handler: async (_req, reply) => reply.code(400).send({ error: `not an address: ${ADDRESS_RULE}` }),
  });
  app.route<{ Params: { namespace: string; type: string; id: string } }>({
    method: ['PUT', 'POST'],
    url: '/:namespace/:type/:id',
    handler: async (req, reply) => {
      const { namespace, type, id } = req.params;
      const problem =
        segmentProblem('namespace', namespace) ?? segmentProblem('type', type) ?? segmentProblem('id', id);
      if (problem !== undefined) return reply.code(400).send({ error: `${problem}; ${ADDRESS_RULE}` });
      const contentType = contentTypes.get(req.raw) ?? readContentType(undefined);
      if (contentType.kind === 'malformed') return reply.code(400).send({ error: contentType.error });
      const functionType = `${namespace}/${type}`;
      if (opts.functions.resolve(functionType) === undefined) {
        return reply
          .code(404)
          .send({ error: `no endpoint in module.yaml serves function type ${shorten(functionType)}` });
      }
      const body = req.body instanceof Buffer ? new Uint8Array(req.body) : new Uint8Array();
      const typed = typeBody(contentType, body);
      if (!typed.ok) return reply.code(typed.status).send({ error: typed.error });
      const { typename } = typed;
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
  await app.listen({ port: opts.port, host: opts.host ?? DEFAULTS.host });
  const addr = app.server.address();
  return {
    port: typeof addr === 'object' && addr !== null ? addr.port : opts.port,
    close: () => closeWithin(app),
  };
}
