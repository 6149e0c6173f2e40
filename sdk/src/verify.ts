// Verification of the runtime's request signatures: a function service accepts only requests
// signed by a key it trusts, made recently (two keys at once let the runtime's key be rotated).
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  ED25519_SIGNATURE_BYTES,
  parseSignatureHeader,
  SIGNATURE_HEADER,
  signedPayload,
} from './protocol/signature.js';
import { SdkError } from './errors.js';

/** Options of request verification (`serve({ verify })`, `statefulFunctionsPlugin`). */
export interface VerifyOptions {
  /**
   * Ed25519 public keys (SPKI PEM text or KeyObjects) whose signatures are accepted; a request
   * signed by any of them passes. Give the old and the new key while the runtime's key is rotated.
   * @example `{ publicKeys: [readFileSync('signing-key.pub.pem', 'utf8')] }`
   */
  publicKeys: readonly (string | KeyObject)[];
  /**
   * How far a signature's timestamp may lie from this service's clock (past or future), in ms;
   * older requests are rejected as stale.
   * @example `{ maxAgeMs: 60_000 }`
   * @defaultValue 300000 (5 minutes)
   */
  maxAgeMs?: number;
}

/** At most this many trusted keys (rotation needs two). */
export const MAX_VERIFY_KEYS = 8;

/** The outcome of checking one request. */
export type VerifyResult = { ok: true } | { ok: false; reason: string };

/** Checks a request's signature header against its body. */
export type RequestVerifier = (header: string | undefined, body: Uint8Array, now?: number) => VerifyResult;

/**
 * A verifier for the runtime's `x-continuum-signature` header. Throws an {@link SdkError}
 * (`INVALID_ARGUMENT`) for keys that are not Ed25519 public keys.
 *
 * @example
 * ```ts
 * const check = createRequestVerifier({ publicKeys: [pem] });
 * if (!check(req.headers['x-continuum-signature'], body).ok) reply.code(401);
 * ```
 */
export function createRequestVerifier(options: VerifyOptions): RequestVerifier {
  const keys = parseKeys(options.publicKeys);
  const maxAgeMs = options.maxAgeMs ?? 300_000;
  if (!Number.isInteger(maxAgeMs) || maxAgeMs < 1000) {
    throw new SdkError('INVALID_ARGUMENT', `verify.maxAgeMs must be a whole number ≥ 1000, got ${maxAgeMs}`);
  }
  return (header, body, now = Date.now()) => {
    if (header === undefined || header === '')
      return { ok: false, reason: `unsigned request: no ${SIGNATURE_HEADER} header` };
    const parsed = parseSignatureHeader(header);
    if ('error' in parsed) return { ok: false, reason: parsed.error };
    const skew = now - parsed.timestampMs;
    if (Math.abs(skew) > maxAgeMs) {
      return {
        ok: false,
        reason: `stale signature: signed ${Math.round(skew / 1000)} s ${skew >= 0 ? 'ago' : 'in the future'}, beyond ±${maxAgeMs / 1000} s`,
      };
    }
    if (parsed.signature.byteLength !== ED25519_SIGNATURE_BYTES)
      return { ok: false, reason: 'malformed signature' };
    const payload = signedPayload(parsed.timestampMs, body);
    for (const key of keys) if (verify(null, payload, key, parsed.signature)) return { ok: true };
    return { ok: false, reason: 'bad signature: not made by a trusted key over this body and time' };
  };
}

function parseKeys(given: readonly (string | KeyObject)[]): KeyObject[] {
  const list = given;
  if (!Array.isArray(given) || given.length === 0 || given.length > MAX_VERIFY_KEYS) {
    throw new SdkError(
      'INVALID_ARGUMENT',
      `verify.publicKeys must hold 1 to ${MAX_VERIFY_KEYS} Ed25519 public keys, got ${Array.isArray(given) ? given.length : typeof given}`,
    );
  }
  return list.map((k, i) => {
    let key: KeyObject;
    try {
      key = typeof k === 'string' ? createPublicKey({ key: k, format: 'pem' }) : k;
    } catch (cause) {
      throw new SdkError(
        'INVALID_ARGUMENT',
        `verify.publicKeys[${i}] is not a PEM public key (${(cause as Error).message})`,
        { cause },
      );
    }
    if (key.type !== 'public' || key.asymmetricKeyType !== 'ed25519') {
      throw new SdkError(
        'INVALID_ARGUMENT',
        `verify.publicKeys[${i}] must be an Ed25519 public key, not ${key.type} ${key.asymmetricKeyType ?? ''}`.trim(),
      );
    }
    return key;
  });
}

/**
 * Splits text holding one or more PEM public keys (as an environment variable may) into one
 * PEM per key.
 */
export function splitPemKeys(text: string): string[] {
  return [...text.matchAll(/-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----/g)].map((m) => m[0]);
}

/** A fastify preHandler answering 401 (with the reason) to POSTs that fail `verifier`. */
export function signatureCheck(
  verifier: RequestVerifier,
): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  return async (request, reply) => {
    if (request.method !== 'POST') return;
    const header = request.headers[SIGNATURE_HEADER];
    const body = request.body instanceof Uint8Array ? request.body : new Uint8Array(0);
    const result = verifier(Array.isArray(header) ? header[0] : header, body);
    if (result.ok) return;
    request.log.warn({ reason: result.reason }, 'rejected a request that is not signed by the runtime');
    await reply.code(401).header('content-type', 'text/plain; charset=utf-8').send(result.reason);
  };
}
