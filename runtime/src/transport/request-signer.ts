// Signs the requests the runtime sends to function endpoints with an Ed25519 private key, so a
// function service can tell the runtime from anyone else on its network.
import { createHash, createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { formatSignatureHeader, SIGNATURE_HEADER, signedPayload } from '@continuum/sdk/protocol';
import { ContinuumError } from '../errors.js';

/** Adds a signature header to a function request; the HTTP function client calls it per request. */
export interface RequestSigner {
  /** Headers to add to a request with this body (signed at the current time). */
  headers(body: Uint8Array): Record<string, string>;
  /** A short fingerprint of the public key (hex of its SHA-256, 16 characters), for logs. */
  readonly keyId: string;
}

/**
 * A signer with an Ed25519 private key (a KeyObject or PKCS#8 PEM text).
 *
 * @example
 * ```ts
 * const signer = ed25519Signer(readFileSync('signing.pem', 'utf8'));
 * new HttpFunctionClient({ signer });
 * ```
 */
export function ed25519Signer(key: KeyObject | string, now: () => number = Date.now): RequestSigner {
  const privateKey = typeof key === 'string' ? parsePrivateKey(key, 'the signing key') : key;
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new ContinuumError(
      'SIGNING_KEY_INVALID',
      `the signing key must be an Ed25519 private key, not ${privateKey.type} ${privateKey.asymmetricKeyType ?? ''}`.trim(),
    );
  }
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const keyId = createHash('sha256').update(spki).digest('hex').slice(0, 16);
  return {
    keyId,
    headers(body) {
      const t = now();
      return { [SIGNATURE_HEADER]: formatSignatureHeader(t, sign(null, signedPayload(t, body), privateKey)) };
    },
  };
}

/** A signer with the Ed25519 private key in a PEM file; errors name the file and what is wrong. */
export function loadRequestSigner(file: string): RequestSigner {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ContinuumError(
      'SIGNING_KEY_INVALID',
      `cannot read the signing key file ${file}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const key = parsePrivateKey(text, `the signing key file ${file}`);
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new ContinuumError(
      'SIGNING_KEY_INVALID',
      `the signing key file ${file} holds an ${key.asymmetricKeyType ?? 'unknown'} key; request signing needs ` +
        'an Ed25519 key (openssl genpkey -algorithm ed25519 -out signing-key.pem)',
    );
  }
  return ed25519Signer(key);
}

function parsePrivateKey(pem: string, what: string): KeyObject {
  try {
    return createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new ContinuumError(
      'SIGNING_KEY_INVALID',
      `${what} is not a PEM private key (${(err as Error).message}); create one with ` +
        'openssl genpkey -algorithm ed25519 -out signing-key.pem',
      { cause: err },
    );
  }
}
