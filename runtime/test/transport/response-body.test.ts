import { Readable } from 'node:stream';
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  BodyTooLargeError,
  ContentEncodingError,
  decodeContentEncoding,
  readBody,
  readExcerpt,
} from '../../src/transport/response-body.js';

const stream = (...chunks: string[]): Readable => Readable.from(chunks.map((c) => Buffer.from(c)));

describe('response bodies', () => {
  it('reads a body up to the limit and refuses one byte more', async () => {
    await expect(readBody(stream('abc', 'de'), 5)).resolves.toEqual(Buffer.from('abcde'));
    await expect(readBody(stream('abc', 'def'), 5)).rejects.toBeInstanceOf(BodyTooLargeError);
  });

  it('refuses a declared Content-Length over the limit before reading', async () => {
    const body = stream('x');
    await expect(readBody(body, 5, 6)).rejects.toThrow(
      /Content-Length 6 exceeds payload_max_bytes \(5 bytes\)/,
    );
    expect(body.destroyed).toBe(true);
  });

  it('keeps only the start of an error body', async () => {
    await expect(readExcerpt(stream('0123456789', 'abc'), 4)).resolves.toBe('0123');
  });

  it('undoes gzip, zlib deflate, raw deflate and stacked codings', async () => {
    const data = Buffer.from('payload '.repeat(50));
    await expect(decodeContentEncoding(gzipSync(data), 'gzip', 1024)).resolves.toEqual(data);
    await expect(decodeContentEncoding(gzipSync(data), 'X-GZIP', 1024)).resolves.toEqual(data);
    await expect(decodeContentEncoding(deflateSync(data), 'deflate', 1024)).resolves.toEqual(data);
    await expect(decodeContentEncoding(deflateRawSync(data), 'deflate', 1024)).resolves.toEqual(data);
    await expect(decodeContentEncoding(gzipSync(deflateSync(data)), 'deflate, gzip', 1024)).resolves.toEqual(
      data,
    );
    await expect(decodeContentEncoding(data, 'identity', 1024)).resolves.toEqual(data);
  });

  it('caps the decompressed size and reports broken or unknown codings', async () => {
    await expect(decodeContentEncoding(gzipSync(Buffer.alloc(100_000)), 'gzip', 1024)).rejects.toBeInstanceOf(
      BodyTooLargeError,
    );
    await expect(decodeContentEncoding(Buffer.from('nope'), 'gzip', 1024)).rejects.toBeInstanceOf(
      ContentEncodingError,
    );
    await expect(decodeContentEncoding(Buffer.from('x'), 'br', 1024)).rejects.toThrow(
      /unsupported Content-Encoding "br"/,
    );
  });
});
