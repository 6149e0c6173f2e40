import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import type { Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import {
  BodyTooLargeError,
  ContentEncodingError,
  ResponseCollector,
  decodeContentEncoding,
} from '../../src/transport/response-body.js';
import type { CollectedResponse, CollectorLimits } from '../../src/transport/response-body.js';

/** A DispatchController that records aborts, as undici's would. */
class FakeController implements Dispatcher.DispatchController {
  reason: Error | null = null;
  get aborted(): boolean {
    return this.reason !== null;
  }
  get paused(): boolean {
    return false;
  }
  abort(reason: Error): void {
    this.reason = reason;
  }
  pause(): void {}
  resume(): void {}
}

/** A collector whose outcome the test reads: what it settled with, and how often it settled. */
function collect(limits: Partial<CollectorLimits> = {}) {
  const outcome: { done: CollectedResponse[]; failed: unknown[] } = { done: [], failed: [] };
  const collector = new ResponseCollector(
    { maxBodyBytes: 5, excerptBytes: 4, drainBytes: 16, ...limits },
    (r) => outcome.done.push(r),
    (e) => outcome.failed.push(e),
  );
  const controller = new FakeController();
  collector.onRequestStart(controller);
  const respond = (status: number, headers: Record<string, string>, ...chunks: string[]): void => {
    collector.onResponseStart(controller, status, headers);
    for (const c of chunks) if (!controller.aborted) collector.onResponseData(controller, Buffer.from(c));
    if (!controller.aborted) collector.onResponseEnd();
  };
  return { collector, controller, outcome, respond };
}

describe('response bodies', () => {
  it('collects a 2xx body up to the limit with its Content-Encoding', () => {
    const { outcome, respond } = collect();
    respond(200, { 'content-encoding': 'gzip' }, 'abc', 'de');
    expect(outcome.failed).toEqual([]);
    expect(outcome.done).toEqual([
      { status: 200, ok: true, body: Buffer.from('abcde'), contentEncoding: 'gzip' },
    ]);
  });

  it('refuses a body one byte over the limit and drops its connection', () => {
    const { outcome, respond, controller } = collect();
    respond(200, {}, 'abc', 'def');
    expect(outcome.done).toEqual([]);
    expect(outcome.failed).toHaveLength(1);
    expect(outcome.failed[0]).toBeInstanceOf(BodyTooLargeError);
    expect((outcome.failed[0] as Error).message).toBe('response body exceeds payload_max_bytes (5 bytes)');
    expect(controller.reason).toBe(outcome.failed[0]);
  });

  it('refuses a declared Content-Length over the limit before reading', () => {
    const { outcome, respond, controller } = collect();
    respond(200, { 'content-length': '6' }, 'x');
    expect(outcome.failed).toHaveLength(1);
    expect((outcome.failed[0] as Error).message).toMatch(
      /Content-Length 6 exceeds payload_max_bytes \(5 bytes\)/,
    );
    expect(controller.aborted).toBe(true);
  });

  it('keeps only the start of an error body, reads a short one to its end and cuts off a long one', () => {
    const short = collect();
    short.respond(500, {}, '0123456789', 'abc');
    expect(short.outcome.done).toEqual([{ status: 500, ok: false, excerpt: '0123' }]);
    expect(short.controller.aborted).toBe(false);

    const long = collect();
    long.respond(503, { 'content-length': '100' }, 'xy', '0123456789', '0123456789', 'never read');
    expect(long.outcome.done).toEqual([{ status: 503, ok: false, excerpt: 'xy01' }]);
    expect(long.controller.aborted).toBe(true);
  });

  it('ignores 1xx informational heads before the response', () => {
    const { outcome, respond, collector, controller } = collect();
    collector.onResponseStart(controller, 100, {});
    respond(201, {}, 'ok');
    expect(outcome.done).toEqual([
      { status: 201, ok: true, body: Buffer.from('ok'), contentEncoding: undefined },
    ]);
  });

  it('settles once: an abort fails it at once, and what undici reports after is ignored', () => {
    const { outcome, collector, controller } = collect();
    collector.onResponseStart(controller, 200, {});
    collector.onResponseData(controller, Buffer.from('ab'));
    const reason = new Error('call stopped: caller');
    collector.abort(reason);
    collector.onResponseError(controller, new Error('aborted'));
    expect(outcome.failed).toEqual([reason]);
    expect(outcome.done).toEqual([]);
    expect(controller.reason).toBe(reason);
  });

  it('aborts a request given up before undici started it as soon as it starts', () => {
    const outcome: unknown[] = [];
    const collector = new ResponseCollector(
      { maxBodyBytes: 5, excerptBytes: 4, drainBytes: 16 },
      () => outcome.push('done'),
      (e) => outcome.push(e),
    );
    const reason = new Error('call stopped: deadline');
    collector.abort(reason);
    expect(outcome).toEqual([reason]);
    const controller = new FakeController();
    collector.onRequestStart(controller);
    expect(controller.reason).toBe(reason);
  });

  it('passes on a transport error', () => {
    const { outcome, collector, controller } = collect();
    const err = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
    collector.onResponseError(controller, err);
    expect(outcome.failed).toEqual([err]);
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
