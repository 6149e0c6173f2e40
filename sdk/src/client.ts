// A typed client of the runtime's request-response HTTP ingress (`io.continuum.http.v1/ingress`):
// sends a message to a function and returns its reply, checked against the reply's type.
import { SdkError } from './errors.js';
import { types, type Type } from './types.js';

/** Options of {@link createClient}. */
export interface ClientOptions {
  /**
   * Base URL of the ingress.
   * @example `{ url: 'http://continuum:8092' }`
   */
  url: string;
  /** Bearer token, when the ingress declares `auth`. */
  token?: string | undefined;
  /** A fetch implementation (tests, proxies). @defaultValue globalThis.fetch */
  fetch?: typeof fetch | undefined;
}

/** Options of one {@link Client.invoke}. */
export interface InvokeOptions<R> {
  /**
   * The type the reply must have; its value is deserialized (and zod-checked for JSON types).
   * @defaultValue types.string
   */
  replyType?: Type<R> | undefined;
  /**
   * Makes the request idempotent: a retry with the same key returns the same reply and invokes
   * nothing again (for the ingress's retention).
   * @example `{ idempotencyKey: orderId }`
   */
  idempotencyKey?: string | undefined;
  /** How long the ingress waits for the reply before answering with its results location. */
  timeoutMs?: number | undefined;
  /** Traces the request's message as a child of this W3C `traceparent`. */
  traceparent?: string | undefined;
}

/** The function did not reply in time; the request is committed and its reply can be fetched later. */
export class ReplyTimeoutError extends SdkError {
  constructor(
    readonly requestId: string,
    /** Absolute URL of the results endpoint for this request. */
    readonly location: string,
    message: string,
  ) {
    super('REPLY_TIMEOUT', message, { retryable: true });
  }
}

/** The ingress refused or failed the request: `status` and the ingress's own `reason` code. */
export class InvokeError extends SdkError {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super('INVOKE_FAILED', message, { retryable: status >= 500 || status === 429 });
  }
}

/** What {@link Client.invoke} sends: a string, or a value with its type. */
export type InvokeMessage<T> = string | { value: T; valueType: Type<T> };

export interface Client {
  /**
   * Sends `message` to `fn`/`id` and resolves with the reply.
   * Rejects with {@link ReplyTimeoutError} (fetch the reply later with {@link Client.result}),
   * {@link InvokeError} (4xx/5xx, with the reason), or `TYPE_MISMATCH` when the reply has another type.
   * @example
   * ```ts
   * const client = createClient({ url: 'http://127.0.0.1:8092' });
   * const result = await client.invoke(
   *   'example/cart',
   *   'u1',
   *   { value: { itemId: 'socks', quantity: 2 }, valueType: AddToCart },
   *   { replyType: AddToCartResult, idempotencyKey: 'order-17', timeoutMs: 5000 },
   * );
   * ```
   */
  invoke<T, R = string>(
    fn: string | { typename: string },
    id: string,
    message: InvokeMessage<T>,
    options?: InvokeOptions<R>,
  ): Promise<R>;
  /** The reply of a request that timed out; `undefined` while there is none yet. */
  result<R = string>(requestId: string, replyType?: Type<R>): Promise<R | undefined>;
}

export function createClient(options: ClientOptions): Client {
  const base = options.url.replace(/\/+$/u, '');
  const doFetch = options.fetch ?? globalThis.fetch;
  const auth: Record<string, string> =
    options.token === undefined ? {} : { authorization: `Bearer ${options.token}` };

  const decode = async <R>(res: Response, replyType: Type<R>): Promise<R> => {
    const contentType = res.headers.get('content-type') ?? '';
    const typename = contentType.startsWith('application/vnd.')
      ? contentType.slice('application/vnd.'.length)
      : '';
    if (typename !== replyType.typename) {
      throw new SdkError(
        'TYPE_MISMATCH',
        `the reply has type ${typename === '' ? contentType : typename}, expected ${replyType.typename}`,
      );
    }
    return replyType.deserialize(new Uint8Array(await res.arrayBuffer()));
  };
  const failure = async (res: Response, what: string): Promise<InvokeError> => {
    let reason = `HTTP_${res.status}`;
    let text = '';
    try {
      const body = (await res.json()) as { code?: string; error?: string };
      reason = body.code ?? reason;
      text = body.error ?? '';
    } catch {
      // not JSON: the status says enough
    }
    return new InvokeError(
      res.status,
      reason,
      `${what} failed with ${res.status} ${reason}${text === '' ? '' : `: ${text}`}`,
    );
  };

  return {
    async invoke<T, R = string>(
      fn: string | { typename: string },
      id: string,
      message: InvokeMessage<T>,
      opts: InvokeOptions<R> = {},
    ): Promise<R> {
      const typename = typeof fn === 'string' ? fn : fn.typename;
      const bytes =
        typeof message === 'string'
          ? types.string.serialize(message)
          : message.valueType.serialize(message.value);
      const valueTypename = typeof message === 'string' ? types.string.typename : message.valueType.typename;
      const replyType = (opts.replyType ?? types.string) as Type<R>;
      const query =
        opts.timeoutMs === undefined ? '' : `?timeout=${Math.max(0, Math.round(opts.timeoutMs))}ms`;
      const headers: Record<string, string> = { ...auth, 'content-type': `application/vnd.${valueTypename}` };
      if (opts.idempotencyKey !== undefined) headers['idempotency-key'] = opts.idempotencyKey;
      if (opts.traceparent !== undefined) headers.traceparent = opts.traceparent;
      const res = await doFetch(`${base}/v1/invoke/${typename}/${encodeURIComponent(id)}${query}`, {
        method: 'POST',
        headers,
        body: Buffer.from(bytes),
      });
      if (res.status === 200) return decode(res, replyType);
      if (res.status === 202) {
        const body = (await res.json()) as { requestId: string; location: string; error?: string };
        throw new ReplyTimeoutError(
          body.requestId,
          `${base}${body.location}`,
          `invoke ${typename}/${id}: ${body.error ?? 'no reply in time'}`,
        );
      }
      throw await failure(res, `invoke ${typename}/${id}`);
    },

    async result<R = string>(requestId: string, replyType?: Type<R>): Promise<R | undefined> {
      const res = await doFetch(`${base}/v1/invoke/results/${encodeURIComponent(requestId)}`, {
        headers: auth,
      });
      if (res.status === 200) return decode(res, (replyType ?? types.string) as Type<R>);
      if (res.status === 202) {
        await res.arrayBuffer();
        return undefined;
      }
      throw await failure(res, `result of ${requestId}`);
    },
  };
}
