// Reads HTTP response bodies within a byte limit and undoes gzip/deflate content-encoding, with
// the limit applied to the decompressed size too so a small compressed body cannot blow up memory.
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gunzip as gunzipCb, inflate as inflateCb, inflateRaw as inflateRawCb } from 'node:zlib';

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

/** A readable body as undici hands it out. */
export type BodyStream = Readable;

/**
 * Drops the rest of a body (and with it the connection). undici turns a destroy without error
 * into an 'error' event; nobody reads the stream any more, so that event is swallowed here.
 */
export function discard(body: BodyStream): void {
  body.on('error', () => undefined);
  body.destroy();
}

/**
 * Collects the body, failing as soon as it grows past `limit` bytes (or when `declaredLength`,
 * the Content-Length, already says it will), and dropping the connection's remaining bytes.
 */
export async function readBody(body: BodyStream, limit: number, declaredLength?: number): Promise<Buffer> {
  if (declaredLength !== undefined && declaredLength > limit) {
    discard(body);
    throw new BodyTooLargeError(limit, `response Content-Length ${declaredLength}`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > limit) {
      discard(body);
      throw new BodyTooLargeError(limit, 'response body');
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/**
 * Reads at most `limit` bytes of a body for an error message and discards the rest. Small bodies
 * are read to the end so the keep-alive connection stays usable.
 */
export async function readExcerpt(body: BodyStream, limit: number, drainLimit = 64 * 1024): Promise<string> {
  const chunks: Uint8Array[] = [];
  let kept = 0;
  let seen = 0;
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    seen += chunk.byteLength;
    if (kept < limit) {
      const part = chunk.subarray(0, limit - kept);
      chunks.push(part);
      kept += part.byteLength;
    }
    if (seen > drainLimit) {
      discard(body);
      break;
    }
  }
  return Buffer.concat(chunks, kept).toString('utf8');
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
