// The HTTP adapter of the FunctionClient port: POSTs protobuf ToFunction bodies with undici over
// pooled keep-alive connections (TCP, TLS or unix sockets) and retries within the call budget.
import { setTimeout as sleep } from 'node:timers/promises';
import type { FromFunction } from '@continuum/sdk/protocol';
import { decodeFromFunction, encodeToFunction } from '@continuum/sdk/protocol';
import { z } from 'zod';
import { EndpointUrlError, parseEndpointUrl } from './endpoint-url.js';
import type { EndpointTarget } from './endpoint-url.js';
import {
  FunctionAttemptError,
  FunctionCallError,
  FunctionCallErrorCode,
  formatAddress,
} from './function-client.js';
import type { AttemptFailureKind, FunctionCall, FunctionClient } from './function-client.js';
import { Bulkheads } from './bulkheads.js';
import type { BulkheadLoad } from './bulkheads.js';
import { LimiterFullError } from './in-flight-limiter.js';
import type { Release } from './in-flight-limiter.js';
import { PoolCache, TlsConfigError } from './pool-cache.js';
import {
  BodyTooLargeError,
  ContentEncodingError,
  ResponseCollector,
  decodeContentEncoding,
} from './response-body.js';
import type { CollectedResponse } from './response-body.js';
import type { RequestSigner } from './request-signer.js';
import { retryPolicyFor } from './retry-policy.js';
import type { HttpEndpointConfig, TransportConfig } from '../module/types.js';
import type { AttemptEvent, CallEvent } from '../observers.js';

/** A call as the HTTP client takes it: its endpoint reference is the endpoint's module.yaml entry. */
export type HttpCall = FunctionCall<HttpEndpointConfig>;

/** Options of {@link HttpFunctionClient}; every field is optional. */
export interface HttpFunctionClientOptions {
  /**
   * Calls running at once per endpoint URL (its bulkhead), unless the endpoint's
   * `maxConcurrentCalls` in module.yaml says otherwise. Each endpoint has its own slots and queue,
   * so a slow or dead endpoint never delays the calls of another.
   * @defaultValue 256
   */
  maxInFlight?: number;
  /**
   * Calls allowed to wait for a slot of one endpoint when all its slots are taken. Past this,
   * `invoke` rejects at once with `FUNCTION_CLIENT_OVERLOADED` (retryable): the caller should
   * hold the message and try again.
   * @defaultValue 10000
   */
  maxQueued?: number;
  /**
   * Connection pools kept (one per origin, socket and transport settings); the least recently
   * used is closed past this.
   * @defaultValue 64
   */
  maxPools?: number;
  /**
   * How long `close()` lets running calls finish before it aborts them.
   * @defaultValue 1000
   */
  closeGraceMs?: number;
  /**
   * Called after every attempt, e.g. to count retries and observe latency. Must not throw (what
   * it throws is ignored).
   * @example
   * ```ts
   * new HttpFunctionClient({ onAttempt: (e) => { if (e.willRetry) retries.inc(); } });
   * ```
   */
  onAttempt?: (event: AttemptEvent) => void;
  /**
   * Called when a call finds every slot of its endpoint's bulkhead taken and has to wait, with the
   * bulkhead's load at that moment. Must not throw (what it throws is ignored).
   */
  onQueued?: (load: BulkheadLoad) => void;
  /**
   * Called once per call that passed validation when it settles, including calls refused for
   * overload (with 0 attempts). Must not throw (what it throws is ignored).
   */
  onCall?: (event: CallEvent) => void;
  /**
   * Signs every request (an Ed25519 signature header over a timestamp and the body), so function
   * services can verify that the runtime sent it. Unsigned when absent.
   * @example `{ signer: loadRequestSigner('/etc/continuum/signing/private-key.pem') }`
   */
  signer?: RequestSigner;
}

const optionsSchema = z.object({
  maxInFlight: z.number().int().min(1).default(256),
  maxQueued: z.number().int().min(0).default(10_000),
  maxPools: z.number().int().min(1).default(64),
  closeGraceMs: z.number().int().min(0).default(1000),
});

// Parsed URLs are cached because the dispatcher resolves the same few URLs over and over.
const maxCachedUrls = 1024;
const errorExcerptChars = 256;
// A non-2xx body up to this size is read to its end so its keep-alive connection can be reused.
const errorDrainBytes = 64 * 1024;

const requestHeaders = {
  'content-type': 'application/octet-stream',
  accept: 'application/octet-stream',
  'accept-encoding': 'gzip, deflate',
  'user-agent': 'statefun',
} as const;

type StopReason = 'deadline' | 'caller' | 'closed';

/**
 * One call's cancellation: the budget timer, the caller's signal and close() all stop it, which
 * ends whatever the call waits on at that moment (an attempt or a backoff) through `onStop`. A
 * plain callback rather than an AbortController of its own: a call costs one timer, no signal
 * and no listener.
 */
class CallControl {
  stopReason: StopReason | undefined;
  /** Ends what the call waits on now; set only while it waits. */
  onStop: ((reason: Error) => void) | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(budgetMs: number) {
    this.timer = setTimeout(stopAtDeadline, budgetMs, this);
  }

  stop(reason: StopReason): void {
    if (this.stopReason !== undefined) return;
    this.stopReason = reason;
    const onStop = this.onStop;
    this.onStop = undefined;
    onStop?.(new Error(`call stopped: ${reason}`));
  }

  dispose(): void {
    clearTimeout(this.timer);
  }
}

function stopAtDeadline(control: CallControl): void {
  control.stop('deadline');
}

/**
 * The calls running under each caller's AbortSignal. A signal gets one listener, however many calls
 * it governs (the partition tasks pass one signal for all their calls), instead of an add and a
 * remove per call. Each set holds running calls only, so its size is bounded by the bulkheads.
 */
class CallerSignals {
  private readonly calls = new WeakMap<AbortSignal, Set<CallControl>>();

  /** Stops `control` when `signal` aborts (at once if it already has); undo with {@link forget}. */
  watch(signal: AbortSignal, control: CallControl): void {
    if (signal.aborted) {
      control.stop('caller');
      return;
    }
    let controls = this.calls.get(signal);
    if (controls === undefined) {
      const created = new Set<CallControl>();
      controls = created;
      this.calls.set(signal, created);
      signal.addEventListener(
        'abort',
        () => {
          for (const c of created) c.stop('caller');
          created.clear();
        },
        { once: true },
      );
    }
    controls.add(control);
  }

  forget(signal: AbortSignal, control: CallControl): void {
    this.calls.get(signal)?.delete(control);
  }
}

interface Outcome {
  response: FromFunction;
  status: number;
}

/**
 * {@link FunctionClient} over HTTP/1.1 with undici.
 *
 * Concurrency: every endpoint URL has its own bulkhead. At most `maxInFlight` calls to one URL
 * run (the endpoint's `maxConcurrentCalls` overrides it); up to `maxQueued` more wait in FIFO
 * order, and beyond that `invoke` fails fast with a retryable `FUNCTION_CLIENT_OVERLOADED` rather
 * than queueing without bound. A slow or dead endpoint therefore fills only its own bulkhead:
 * calls to other endpoints never wait behind it. The call budget starts when a call gets its
 * slot, so time spent queued does not eat into the endpoint's budget; the caller's `signal` ends a
 * wait early.
 *
 * Retries follow the endpoint's transport: `async` retries every failure with 2 ms·2^n backoff,
 * `okhttp` retries IO errors and 408/409/420/429/499/5xx with 10 ms doubling backoff; both stop
 * when less than 1 ms of `callTimeoutMs` is left. The okhttp write timeout is not enforced
 * separately (the budget covers it); its read timeout limits the wait for headers and between
 * body chunks.
 *
 * @example
 * ```ts
 * const client = new HttpFunctionClient({ maxInFlight: 256 });
 * const reply = await client.invoke({ endpoint, url, address, request });
 * await client.close();
 * ```
 */
export class HttpFunctionClient implements FunctionClient {
  private readonly bulkheads: Bulkheads;
  private readonly pools: PoolCache;
  private readonly urls = new Map<string, EndpointTarget>();
  private readonly active = new Set<CallControl>();
  private readonly callerSignals = new CallerSignals();
  private readonly closeGraceMs: number;
  private readonly onAttempt: ((event: AttemptEvent) => void) | undefined;
  private readonly onCall: ((event: CallEvent) => void) | undefined;
  private readonly onQueued: ((load: BulkheadLoad) => void) | undefined;
  private readonly signer: RequestSigner | undefined;
  private closing: Promise<void> | undefined;
  private drained: (() => void) | undefined;

  constructor(options: HttpFunctionClientOptions = {}) {
    const parsed = optionsSchema.parse({
      maxInFlight: options.maxInFlight,
      maxQueued: options.maxQueued,
      maxPools: options.maxPools,
      closeGraceMs: options.closeGraceMs,
    });
    this.bulkheads = new Bulkheads({ maxInFlight: parsed.maxInFlight, maxQueued: parsed.maxQueued });
    this.pools = new PoolCache(parsed.maxPools);
    this.closeGraceMs = parsed.closeGraceMs;
    this.onAttempt = options.onAttempt;
    this.onCall = options.onCall;
    this.onQueued = options.onQueued;
    this.signer = options.signer;
  }

  /** Calls holding an in-flight slot, and calls waiting for one, over every endpoint. */
  get load(): { inFlight: number; queued: number } {
    return this.bulkheads.totals;
  }

  /** Per endpoint URL with calls running or waiting: its bulkhead's load. */
  endpointLoad(): BulkheadLoad[] {
    return this.bulkheads.busy();
  }

  async invoke(call: HttpCall): Promise<FromFunction> {
    const { address } = call;
    if (this.closing !== undefined) throw this.closedError(call, undefined, 0, 0, undefined);

    let target: EndpointTarget;
    try {
      target = this.resolveUrl(call.url);
    } catch (err) {
      if (!(err instanceof EndpointUrlError)) throw err;
      throw new FunctionCallError(
        FunctionCallErrorCode.requestInvalid,
        `Cannot call function ${formatAddress(address)}: ${err.message} (endpoint for "${call.endpoint.functions}" ` +
          `in ${call.endpoint.source.file}, document ${call.endpoint.source.document}).`,
        { address, url: call.url, attempts: 0, elapsedMs: 0, cause: err, retryable: false },
      );
    }
    const queuedAt = performance.now();
    let release: Release;
    try {
      const bulkhead = this.bulkheads.of(target.display, call.endpoint.maxConcurrentCalls);
      if (this.onQueued !== undefined && bulkhead.inFlight >= bulkhead.maxInFlight)
        this.emitQueued(target.display);
      release = await bulkhead.acquire(call.signal);
    } catch (err) {
      const error = this.admissionError(call, target, err);
      const queuedMs = performance.now() - queuedAt;
      this.emitCall({ address, url: target.display, attempts: 0, queuedMs, durationMs: 0, error });
      throw error;
    }
    const queuedMs = performance.now() - queuedAt;
    if (this.closing !== undefined) {
      release();
      throw this.closedError(call, target, 0, 0, undefined);
    }
    // Encoded once a slot is free: a call waiting behind its endpoint's bulkhead holds no body.
    let body: Uint8Array;
    try {
      body = this.encode(call, target);
    } catch (err) {
      release();
      throw err;
    }

    const control = new CallControl(call.endpoint.transport.callTimeoutMs);
    if (call.signal !== undefined) this.callerSignals.watch(call.signal, control);
    this.active.add(control);
    const started = performance.now();
    let attempts = 0;
    try {
      const result = await this.runAttempts(call, target, body, control, (n) => (attempts = n));
      this.emitCall({
        address,
        url: target.display,
        attempts,
        queuedMs,
        durationMs: performance.now() - started,
        error: undefined,
      });
      return result;
    } catch (err) {
      const error =
        err instanceof FunctionCallError
          ? err
          : new FunctionCallError(
              FunctionCallErrorCode.callFailed,
              `Call to function ${formatAddress(address)} at ${target.display} failed unexpectedly: ${String(err)}. This is a bug in the runtime; please report it.`,
              {
                address,
                url: target.display,
                attempts,
                elapsedMs: performance.now() - started,
                cause: err,
                retryable: false,
              },
            );
      this.emitCall({
        address,
        url: target.display,
        attempts,
        queuedMs,
        durationMs: performance.now() - started,
        error,
      });
      throw error;
    } finally {
      control.dispose();
      if (call.signal !== undefined) this.callerSignals.forget(call.signal, control);
      this.active.delete(control);
      release();
      if (this.active.size === 0) this.drained?.();
    }
  }

  /**
   * Stops accepting calls and fails queued ones with `FUNCTION_CLIENT_CLOSED`, gives running calls
   * up to `closeGraceMs` to finish, then aborts them and destroys every connection pool.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.bulkheads.rejectWaiting(new ClosedSignal());
    if (this.active.size > 0) {
      const drained = new Promise<void>((resolve) => (this.drained = resolve));
      const grace = new AbortController();
      await Promise.race([
        drained,
        sleep(this.closeGraceMs, undefined, { signal: grace.signal }).catch(() => undefined),
      ]);
      grace.abort();
      for (const control of this.active) control.stop('closed');
      // Aborted calls settle within a turn or two (nothing they wait on ignores the signal).
      if (this.active.size > 0) await drained;
    }
    await this.pools.destroyAll();
  }

  private resolveUrl(url: string): EndpointTarget {
    const cached = this.urls.get(url);
    if (cached !== undefined) return cached;
    const target = parseEndpointUrl(url);
    if (this.urls.size >= maxCachedUrls) {
      const oldest = this.urls.keys().next();
      if (oldest.done !== true) this.urls.delete(oldest.value);
    }
    this.urls.set(url, target);
    return target;
  }

  private encode(call: HttpCall, target: EndpointTarget): Uint8Array {
    const batch = call.request.invocation;
    const problem =
      batch === undefined
        ? 'the ToFunction has no invocation batch'
        : batch.invocations.length === 0
          ? 'the invocation batch is empty'
          : undefined;
    if (problem !== undefined) {
      throw new FunctionCallError(
        FunctionCallErrorCode.requestInvalid,
        `Cannot call function ${formatAddress(call.address)} at ${target.display}: ${problem}; ` +
          'a request must carry at least one invocation (function SDKs reject anything else).',
        { address: call.address, url: target.display, attempts: 0, elapsedMs: 0, retryable: false },
      );
    }
    try {
      return encodeToFunction(call.request);
    } catch (cause) {
      throw new FunctionCallError(
        FunctionCallErrorCode.requestInvalid,
        `Cannot call function ${formatAddress(call.address)} at ${target.display}: the request cannot be encoded ` +
          `as a ToFunction (${(cause as Error).message}).`,
        { address: call.address, url: target.display, attempts: 0, elapsedMs: 0, cause, retryable: false },
      );
    }
  }

  private async runAttempts(
    call: HttpCall,
    target: EndpointTarget,
    body: Uint8Array,
    control: CallControl,
    setAttempts: (n: number) => void,
  ): Promise<FromFunction> {
    const transport = call.endpoint.transport;
    const policy = retryPolicyFor(transport.type);
    const deadline = performance.now() + transport.callTimeoutMs;
    let attempt = 0;
    let lastFailure: FunctionAttemptError | undefined;
    // The failure of the last attempt the budget did not cut short: the informative one.
    let lastCause: FunctionAttemptError | undefined;
    const started = performance.now();
    const elapsed = (): number => performance.now() - started;

    for (;;) {
      attempt++;
      setAttempts(attempt);
      const attemptStart = performance.now();
      try {
        const outcome = await this.attempt(target, body, transport, control);
        this.emitAttempt({
          address: call.address,
          url: target.display,
          attempt,
          durationMs: performance.now() - attemptStart,
          status: outcome.status,
          failure: undefined,
          willRetry: false,
          backoffMs: 0,
        });
        return outcome.response;
      } catch (err) {
        if (err instanceof TlsConfigError) {
          throw new FunctionCallError(
            FunctionCallErrorCode.requestInvalid,
            `Cannot call function ${formatAddress(call.address)} at ${target.display}: ${err.message} ` +
              `(endpoint for "${call.endpoint.functions}" in ${call.endpoint.source.file}).`,
            {
              address: call.address,
              url: target.display,
              attempts: attempt - 1,
              elapsedMs: elapsed(),
              cause: err,
              retryable: false,
            },
          );
        }
        lastFailure = this.classify(err, control, transport, policy.retries.bind(policy));
        if (control.stopReason === undefined) lastCause = lastFailure;
      }

      const stop = control.stopReason;
      const remaining = deadline - performance.now();
      const exhausted = stop === 'deadline' || remaining < 1;
      const willRetry = stop === undefined && lastFailure.retryable && !exhausted;
      const backoffMs = willRetry ? Math.min(policy.backoffMs(attempt - 1), remaining) : 0;
      this.emitAttempt({
        address: call.address,
        url: target.display,
        attempt,
        durationMs: performance.now() - attemptStart,
        status: lastFailure.status,
        failure: lastFailure,
        willRetry,
        backoffMs,
      });

      if (stop === 'caller') throw this.abortedError(call, target, attempt, elapsed(), lastFailure);
      if (stop === 'closed') throw this.closedError(call, target, attempt, elapsed(), lastFailure);
      if (!lastFailure.retryable) throw this.permanentError(call, target, attempt, elapsed(), lastFailure);
      if (exhausted) throw this.exhaustedError(call, target, attempt, elapsed(), lastFailure, lastCause);

      // Woken early by the deadline, the caller or close(): the checks below say which.
      await backoff(backoffMs, control);
      const after = control.stopReason;
      if (after === 'caller') throw this.abortedError(call, target, attempt, elapsed(), lastFailure);
      if (after === 'closed') throw this.closedError(call, target, attempt, elapsed(), lastFailure);
      if (after === 'deadline' || deadline - performance.now() < 1) {
        throw this.exhaustedError(call, target, attempt, elapsed(), lastFailure, lastCause);
      }
    }
  }

  private async attempt(
    target: EndpointTarget,
    body: Uint8Array,
    transport: TransportConfig,
    control: CallControl,
  ): Promise<Outcome> {
    const pool = await this.pools.get(target, transport);
    const readTimeout = transport.type === 'okhttp' ? (transport.readTimeoutMs ?? 0) : 0;
    // Stopped while the pool was being created: nothing was sent.
    if (control.stopReason !== undefined) throw new Error(`call stopped: ${control.stopReason}`);
    let response: CollectedResponse;
    let collector: ResponseCollector | undefined;
    try {
      response = await new Promise<CollectedResponse>((resolve, reject) => {
        collector = new ResponseCollector(
          {
            maxBodyBytes: transport.payloadMaxBytes,
            excerptBytes: errorExcerptChars,
            drainBytes: errorDrainBytes,
          },
          resolve,
          reject,
        );
        const started = collector;
        control.onStop = (reason) => started.abort(reason);
        // undici's low-level API: the body is collected by the handler, without a stream.
        pool.dispatch(
          {
            path: target.path,
            method: 'POST',
            headers: {
              ...requestHeaders,
              'content-length': String(body.byteLength),
              // Signed per attempt: a retry minutes later must not carry a stale timestamp.
              ...this.signer?.headers(body),
            },
            body,
            // pool_ttl 0: one connection per request, as StateFun does without pooling.
            reset: transport.poolTtlMs === 0,
            headersTimeout: readTimeout,
            bodyTimeout: readTimeout,
          },
          collector,
        );
      });
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        const status = collector?.status ?? 200;
        throw new AttemptFailure('too-large', `HTTP ${status}: ${err.message}`, status, err);
      }
      throw err;
    } finally {
      control.onStop = undefined;
    }
    const status = response.status;
    if (!response.ok) {
      const excerpt = response.excerpt;
      throw new AttemptFailure(
        'status',
        `HTTP ${status}${excerpt === '' ? '' : ` "${oneLine(excerpt)}"`}`,
        status,
      );
    }
    let decoded: Buffer;
    try {
      decoded = await decodeContentEncoding(
        response.body,
        response.contentEncoding,
        transport.payloadMaxBytes,
      );
    } catch (err) {
      if (err instanceof BodyTooLargeError)
        throw new AttemptFailure('too-large', `HTTP ${status}: ${err.message}`, status, err);
      if (err instanceof ContentEncodingError) {
        throw new AttemptFailure('invalid-response', `HTTP ${status}: ${err.message}`, status, err);
      }
      throw err;
    }
    // undici frees a keep-alive connection in a setImmediate after the response ends (it is
    // scheduled once the handler has seen the end); without yielding past it, a caller that sends
    // its next batch at once would find the connection busy and open a second one.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (decoded.byteLength === 0) return { response: emptyResponse(), status };
    let message: FromFunction;
    try {
      message = decodeFromFunction(decoded);
    } catch (err) {
      throw new AttemptFailure(
        'invalid-response',
        `HTTP ${status} with a ${decoded.byteLength}-byte body that is not a protobuf FromFunction ` +
          `(${(err as Error).message}; body starts with ${hexExcerpt(decoded)})`,
        status,
        err,
      );
    }
    return { response: normalise(message), status };
  }

  private classify(
    err: unknown,
    control: CallControl,
    transport: TransportConfig,
    retries: (kind: AttemptFailureKind, status: number | undefined) => boolean,
  ): FunctionAttemptError {
    let kind: AttemptFailureKind;
    let message: string;
    let status: number | undefined;
    let cause: unknown = err;
    if (err instanceof AttemptFailure) {
      kind = err.kind;
      message = err.message;
      status = err.status;
      cause = err.cause;
    } else if (control.stopReason !== undefined) {
      kind = 'timeout';
      message =
        control.stopReason === 'deadline'
          ? `no complete response before the call budget of ${transport.callTimeoutMs} ms ran out`
          : `attempt abandoned (${control.stopReason === 'caller' ? 'the caller aborted' : 'the client is closing'})`;
    } else {
      const code = errorCode(err);
      if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
        kind = 'timeout';
        message = `no data within the read timeout of ${transport.readTimeoutMs ?? 0} ms (${code})`;
      } else if (code === 'UND_ERR_CONNECT_TIMEOUT') {
        kind = 'connection';
        message = `could not connect within ${transport.connectTimeoutMs} ms (${code})`;
      } else {
        kind = 'connection';
        message = `${describeError(err)}`;
      }
    }
    return new FunctionAttemptError(kind, message, { status, cause, retryable: retries(kind, status) });
  }

  private admissionError(call: HttpCall, target: EndpointTarget, err: unknown): FunctionCallError {
    if (err instanceof LimiterFullError) {
      return new FunctionCallError(
        FunctionCallErrorCode.overloaded,
        `Cannot call function ${formatAddress(call.address)} at ${target.display} now: ${err.message}. ` +
          'The call is held and tried again once calls to this endpoint complete; if this persists, the endpoint is too slow ' +
          `for its load (raise maxConcurrentCalls of the endpoint for "${call.endpoint.functions}" in ${call.endpoint.source.file}, or scale the function service).`,
        {
          address: call.address,
          url: target.display,
          attempts: 0,
          elapsedMs: 0,
          cause: err,
          retryable: true,
        },
      );
    }
    if (err instanceof ClosedSignal) return this.closedError(call, target, 0, 0, undefined);
    return this.abortedError(call, target, 0, 0, undefined);
  }

  private exhaustedError(
    call: HttpCall,
    target: EndpointTarget,
    attempts: number,
    elapsedMs: number,
    last: FunctionAttemptError,
    lastCause: FunctionAttemptError | undefined,
  ): FunctionCallError {
    const budget = call.endpoint.transport.callTimeoutMs;
    const before =
      lastCause !== undefined && lastCause !== last ? `; the attempt before it: ${lastCause.message}` : '';
    return new FunctionCallError(
      FunctionCallErrorCode.callFailed,
      `Call to function ${formatAddress(call.address)} at ${target.display} failed after ${plural(attempts, 'attempt')} ` +
        `in ${Math.round(elapsedMs)} ms (call budget ${budget} ms, ${call.endpoint.transport.type} transport); ` +
        `last attempt: ${last.message}${before}. Check that the function service is up and answers with a FromFunction, ` +
        `or raise transport.call of the endpoint for "${call.endpoint.functions}" in ${call.endpoint.source.file}.`,
      {
        address: call.address,
        url: target.display,
        attempts,
        elapsedMs,
        lastFailure: last,
        retryable: false,
      },
    );
  }

  private permanentError(
    call: HttpCall,
    target: EndpointTarget,
    attempts: number,
    elapsedMs: number,
    last: FunctionAttemptError,
  ): FunctionCallError {
    const { code, advice } = permanentAdvice(call, last);
    return new FunctionCallError(
      code,
      `Call to function ${formatAddress(call.address)} at ${target.display} failed after ${plural(attempts, 'attempt')}: ` +
        `${last.message}; ${advice}.`,
      {
        address: call.address,
        url: target.display,
        attempts,
        elapsedMs,
        lastFailure: last,
        retryable: false,
      },
    );
  }

  private abortedError(
    call: HttpCall,
    target: EndpointTarget,
    attempts: number,
    elapsedMs: number,
    last: FunctionAttemptError | undefined,
  ): FunctionCallError {
    return new FunctionCallError(
      FunctionCallErrorCode.aborted,
      `Call to function ${formatAddress(call.address)} at ${target.display} was aborted by its caller after ${plural(attempts, 'attempt')}.`,
      {
        address: call.address,
        url: target.display,
        attempts,
        elapsedMs,
        lastFailure: last,
        retryable: false,
      },
    );
  }

  private closedError(
    call: HttpCall,
    target: EndpointTarget | undefined,
    attempts: number,
    elapsedMs: number,
    last: FunctionAttemptError | undefined,
  ): FunctionCallError {
    const url = target?.display ?? call.url;
    return new FunctionCallError(
      FunctionCallErrorCode.closed,
      `Call to function ${formatAddress(call.address)} at ${url} was given up because the function client is closing ` +
        `(after ${plural(attempts, 'attempt')}); the batch has to be sent again by whoever owns the address next.`,
      { address: call.address, url, attempts, elapsedMs, lastFailure: last, retryable: true },
    );
  }

  private emitAttempt(event: AttemptEvent): void {
    if (this.onAttempt === undefined) return;
    try {
      this.onAttempt(event);
    } catch {
      // Metrics must never break a call.
    }
  }

  private emitQueued(url: string): void {
    const load = this.bulkheads.loadOf(url);
    if (load === undefined) return;
    try {
      this.onQueued?.(load);
    } catch {
      // Health reporting must never break a call.
    }
  }

  private emitCall(event: CallEvent): void {
    if (this.onCall === undefined) return;
    try {
      this.onCall(event);
    } catch {
      // Metrics must never break a call.
    }
  }
}

/** The code and the advice of a call that ended at once, fitting why it cannot succeed. */
function permanentAdvice(
  call: HttpCall,
  last: FunctionAttemptError,
): { code: FunctionCallErrorCode; advice: string } {
  const where = `the endpoint for "${call.endpoint.functions}" in ${call.endpoint.source.file}`;
  const type = `${call.address.namespace}/${call.address.type}`;
  const replay = 'the message was dead-lettered and can be replayed once fixed';
  if (last.kind === 'too-large') {
    return {
      code: FunctionCallErrorCode.responseTooLarge,
      advice: `raise transport.payload_max_bytes of ${where} or make the function return less`,
    };
  }
  if (last.kind !== 'status') {
    return {
      code: FunctionCallErrorCode.responseInvalid,
      advice: 'the function service does not speak the StateFun request-reply protocol at this URL',
    };
  }
  switch (last.status) {
    case 404:
      return {
        code: FunctionCallErrorCode.notFound,
        advice:
          `the service at this URL does not serve function type ${type}; check urlPathTemplate of ${where} ` +
          `and that the service registers ${type}; this is not retried (${replay})`,
      };
    case 422:
      return {
        code: FunctionCallErrorCode.messageRejected,
        advice: `the function rejected this message as one that can never succeed; it is not retried (${replay})`,
      };
    case 401:
    case 403:
      return {
        code: FunctionCallErrorCode.statusRejected,
        advice: `the function service refused the runtime's request (authentication or authorisation); this is not retried (${replay})`,
      };
    case 413:
      return {
        code: FunctionCallErrorCode.statusRejected,
        advice:
          `the request is larger than the function service accepts; lower maxNumBatchRequests of ${where} or raise the ` +
          `service's body limit; this is not retried (${replay})`,
      };
    default:
      return {
        code: FunctionCallErrorCode.statusRejected,
        advice:
          `a ${last.status ?? 'non-2xx'} status says the request can never succeed as sent, so the ${call.endpoint.transport.type} ` +
          `transport does not retry it (${replay}); check the endpoint URL and the function service`,
      };
  }
}

/** Internal: an attempt failure before the retry policy has judged it. */
class AttemptFailure extends Error {
  constructor(
    readonly kind: AttemptFailureKind,
    message: string,
    readonly status: number | undefined,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }
}

/** Internal: the reason queued waiters are rejected with on close(). */
class ClosedSignal extends Error {
  constructor() {
    super('function client closed');
  }
}

function emptyResponse(): FromFunction {
  return {
    invocationResult: {
      stateMutations: [],
      outgoingMessages: [],
      delayedInvocations: [],
      outgoingEgresses: [],
    },
  };
}

function normalise(message: FromFunction): FromFunction {
  return message.invocationResult === undefined && message.incompleteInvocationContext === undefined
    ? emptyResponse()
    : message;
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = errorCode(err);
  // undici wraps socket errors; the underlying cause usually says more (ECONNREFUSED, TLS alerts).
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err.message}${cause}${code !== undefined ? ` (${code})` : ''}`;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function hexExcerpt(bytes: Uint8Array): string {
  const shown = Buffer.from(bytes.subarray(0, 16))
    .toString('hex')
    .replace(/(..)(?!$)/g, '$1 ');
  return bytes.byteLength > 16 ? `${shown} …` : shown;
}

/** Waits `ms`, or less when the call is stopped meanwhile. */
function backoff(ms: number, control: CallControl): Promise<void> {
  if (control.stopReason !== undefined) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      control.onStop = undefined;
      resolve();
    }, ms);
    control.onStop = () => {
      clearTimeout(timer);
      resolve();
    };
  });
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
