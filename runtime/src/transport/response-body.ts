// Collects HTTP response bodies within a byte limit and undoes gzip/deflate content-encoding, with
// the limit applied to the decompressed size too so a small compressed body cannot blow up memory.
import type { IncomingHttpHeaders } from 'node:http';
import { promisify } from 'node:util';
import { gunzip as gunzipCb, inflate as inflateCb, inflateRaw as inflateRawCb } from 'node:zlib';
import type { Dispatcher } from 'undici';

const gunzip = promisify(gunzipCb);
const inflate = promisify(inflateCb);
const inflateRaw = promisify(inflateRawCb);

/** The body (raw or decompressed) is larger than allowed. */
export class BodyTooLargeError extends Error {
  constructor(
    readonly limitBytes: number,
    what: string,
  ) {
    super(`${what} exceeds payload_max_bytes (${limitBytes} bytes)`);
    this.name = 'BodyTooLargeError';
  }
}

/** The body cannot be decoded under its Content-Encoding. */
export class ContentEncodingError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ContentEncodingError';
  }
}

/** A response as {@link ResponseCollector} hands it over. */
export type CollectedResponse =
  /** A 2xx response: its whole body (still content-encoded) and its Content-Encoding. */
  | { status: number; ok: true; body: Buffer; contentEncoding: string | undefined }
  /** Any other status: the start of its body (for the error message), as UTF-8 text. */
  | { status: number; ok: false; excerpt: string };

/** Limits of a {@link ResponseCollector}. */
export interface CollectorLimits {
  /** Bytes a 2xx body may have (`payload_max_bytes`). */
  maxBodyBytes: number;
  /** Bytes of a non-2xx body kept for the error message. */
  excerptBytes: number;
  /**
   * Bytes of a non-2xx body read to the end so that the keep-alive connection stays usable; a
   * longer one is cut off with its connection.
   */
  drainBytes: number;
}

/**
 * An undici dispatch handler that collects one response into memory: a 2xx body whole (failing
 * with {@link BodyTooLargeError} as soon as its Content-Length or its bytes pass the limit), the
 * excerpt of any other. It settles exactly once, through the callbacks it was made with; what
 * undici reports after that (the error of an aborted request) is ignored.
 */
export class ResponseCollector implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private settled = false;
  /** Why the request was given up before undici started it: it is aborted as it starts. */
  private abortReason: Error | undefined;
  private statusCode = 0;
  private contentEncoding: string | undefined;
  private chunks: Buffer[] = [];
  private size = 0;

  /** The status of the response once its headers arrived (0 before). */
  get status(): number {
    return this.statusCode;
  }

  constructor(
    private readonly limits: CollectorLimits,
    private readonly onDone: (response: CollectedResponse) => void,
    private readonly onFail: (err: unknown) => void,
  ) {}

  /** Gives the request up: fails at once with `reason` and drops the request and its connection. */
  abort(reason: Error): void {
    if (this.settled) return;
    this.fail(reason);
    if (this.controller !== undefined) this.controller.abort(reason);
    else this.abortReason = reason;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    if (this.abortReason !== undefined) {
      controller.abort(this.abortReason);
      return;
    }
    this.controller = controller;
    this.statusCode = 0;
    this.chunks = [];
    this.size = 0;
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    // 1xx informational responses come before the real one.
    if (this.settled || statusCode < 200) return;
    this.statusCode = statusCode;
    if (statusCode > 299) return;
    const declared = contentLength(headers['content-length']);
    if (declared !== undefined && declared > this.limits.maxBodyBytes) {
      this.failAndAbort(
        controller,
        new BodyTooLargeError(this.limits.maxBodyBytes, `response Content-Length ${declared}`),
      );
      return;
    }
    this.contentEncoding = headerValue(headers['content-encoding']);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled) return;
    this.size += chunk.byteLength;
    if (this.statusCode > 299) {
      const room = this.limits.excerptBytes - (this.size - chunk.byteLength);
      if (room > 0) this.chunks.push(room >= chunk.byteLength ? chunk : chunk.subarray(0, room));
      if (this.size > this.limits.drainBytes) {
        this.finish();
        controller.abort(new Error('error response body too long to drain; its connection is dropped'));
      }
      return;
    }
    if (this.size > this.limits.maxBodyBytes) {
      this.failAndAbort(controller, new BodyTooLargeError(this.limits.maxBodyBytes, 'response body'));
      return;
    }
    this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    if (!this.settled) this.finish();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (!this.settled) this.fail(err);
  }

  private finish(): void {
    this.settled = true;
    const chunks = this.chunks;
    this.chunks = [];
    if (this.statusCode > 299) {
      const excerpt = Buffer.concat(chunks).subarray(0, this.limits.excerptBytes).toString('utf8');
      this.onDone({ status: this.statusCode, ok: false, excerpt });
      return;
    }
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.size);
    this.onDone({ status: this.statusCode, ok: true, body, contentEncoding: this.contentEncoding });
  }

  private fail(err: unknown): void {
    this.settled = true;
    this.chunks = [];
    this.onFail(err);
  }

  private failAndAbort(controller: Dispatcher.DispatchController, err: Error): void {
    this.fail(err);
    controller.abort(err);
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function contentLength(value: string | string[] | undefined): number | undefined {
  const v = headerValue(value);
  if (v === undefined || !/^\d+$/.test(v.trim())) return undefined;
  return Number(v.trim());
}

/**
 * Applies the inverse of `Content-Encoding` (a comma list, applied in order, so undone last to
 * first). Supports identity, gzip, x-gzip and deflate (zlib-wrapped or raw, as servers differ).
 */
export async function decodeContentEncoding(
  body: Buffer,
  contentEncoding: string | undefined,
  limit: number,
): Promise<Buffer> {
  if (contentEncoding === undefined || body.byteLength === 0) return body;
  const codings = contentEncoding
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  let data = body;
  for (const coding of codings.reverse()) {
    data = await decodeOne(data, coding, limit);
  }
  return data;
}

async function decodeOne(data: Buffer, coding: string, limit: number): Promise<Buffer> {
  const options = { maxOutputLength: limit };
  try {
    switch (coding) {
      case 'gzip':
      case 'x-gzip':
        return await gunzip(data, options);
      case 'deflate':
        // RFC 9110 deflate is zlib-wrapped, but some servers send raw deflate; the zlib header's
        // low nibble (CM=8) and check bits tell them apart.
        return isZlibHeader(data) ? await inflate(data, options) : await inflateRaw(data, options);
      default:
        throw new ContentEncodingError(
          `response has unsupported Content-Encoding "${coding}"; the runtime accepts gzip and deflate`,
        );
    }
  } catch (err) {
    if (err instanceof ContentEncodingError) throw err;
    if (err instanceof RangeError || (err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new BodyTooLargeError(limit, `${coding}-decoded response body`);
    }
    throw new ContentEncodingError(`response body is not valid ${coding}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

function isZlibHeader(data: Buffer): boolean {
  if (data.byteLength < 2) return false;
  const cmf = data[0]!;
  const flg = data[1]!;
  return (cmf & 0x0f) === 8 && ((cmf << 8) | flg) % 31 === 0;
}
