// Request signing between the runtime and function services: the header that carries an Ed25519
// signature over a timestamp and the request body, and the exact bytes that are signed. Official
// StateFun SDKs ignore the header; ours verifies it when `serve({ verify })` is set.
import { Buffer } from 'node:buffer';

/** The request header holding `t=<unix ms>,ed25519=<base64 signature>`. */
export const SIGNATURE_HEADER = 'x-continuum-signature';

/** Length of an Ed25519 signature in bytes. */
export const ED25519_SIGNATURE_BYTES = 64;

/** The signed bytes: `continuum-v1:<timestamp ms>:` followed by the request body as sent. */
export function signedPayload(timestampMs: number, body: Uint8Array): Buffer {
  const prefix = Buffer.from(`continuum-v1:${timestampMs}:`, 'latin1');
  return Buffer.concat([prefix, body], prefix.byteLength + body.byteLength);
}

/** The header value for a signature made at `timestampMs`. */
export function formatSignatureHeader(timestampMs: number, signature: Uint8Array): string {
  return `t=${timestampMs},ed25519=${Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength).toString('base64')}`;
}

/** A parsed signature header. */
export interface ParsedSignature {
  timestampMs: number;
  signature: Buffer;
}

const headerPattern = /^t=(\d{1,16}),ed25519=([A-Za-z0-9+/]{86}==)$/;

/** The timestamp and signature of a header value, or a reason why it is not one. */
export function parseSignatureHeader(value: string): ParsedSignature | { error: string } {
  const m = headerPattern.exec(value.trim());
  if (m === null)
    return { error: `malformed ${SIGNATURE_HEADER} header (expected t=<unix ms>,ed25519=<base64>)` };
  return { timestampMs: Number(m[1]), signature: Buffer.from(m[2]!, 'base64') };
}
