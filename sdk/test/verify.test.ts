// `serve({ verify })`: only requests signed by a trusted Ed25519 key, over this body and at a
// recent time, reach the functions; everything else is answered 401 with the reason.
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRequestVerifier,
  serve,
  serveFromEnv,
  statefulFunction,
  types,
  valueSpec,
  type ServerHandle,
} from '@continuum/sdk';
import {
  encodeString,
  encodeToFunction,
  formatSignatureHeader,
  SIGNATURE_HEADER,
  signedPayload,
} from '@continuum/sdk/protocol';

const counter = statefulFunction({
  typename: 'example/counter',
  specs: { n: valueSpec(types.int) },
  handler(ctx) {
    ctx.storage.n = (ctx.storage.n ?? 0) + 1;
  },
});

const body = Buffer.from(
  encodeToFunction({
    invocation: {
      target: { namespace: 'example', type: 'counter', id: 'a' },
      state: [{ stateName: 'n' }],
      invocations: [
        { argument: { typename: 'io.statefun.types/string', hasValue: true, value: encodeString('x') } },
      ],
    },
  }),
);

function keyPair(): { privateKey: KeyObject; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

function signature(key: KeyObject, bytes: Uint8Array, at = Date.now()): string {
  return formatSignatureHeader(at, sign(null, signedPayload(at, bytes), key));
}

describe('serve({ verify })', () => {
  const current = keyPair();
  const next = keyPair();
  let server: ServerHandle;

  beforeAll(async () => {
    server = await serve({
      functions: [counter],
      port: 0,
      logger: false,
      verify: { publicKeys: [current.publicPem, next.publicPem], maxAgeMs: 60_000 },
    });
  });
  afterAll(() => server.close());

  const post = (headers: Record<string, string>, payload: Buffer = body) =>
    server.app.inject({ method: 'POST', url: '/counter', payload, headers });

  it('accepts a request signed by either trusted key', async () => {
    for (const k of [current, next]) {
      const res = await post({ [SIGNATURE_HEADER]: signature(k.privateKey, body) });
      expect(res.statusCode).toBe(200);
    }
  });

  it.each([
    ['unsigned', () => ({}), /unsigned request: no x-continuum-signature header/],
    ['malformed', () => ({ [SIGNATURE_HEADER]: 't=1,ed25519=abc' }), /malformed x-continuum-signature/],
    [
      'signed by an untrusted key',
      () => ({ [SIGNATURE_HEADER]: signature(keyPair().privateKey, body) }),
      /bad signature/,
    ],
    [
      'signed over another body',
      () => ({ [SIGNATURE_HEADER]: signature(current.privateKey, Buffer.from('other')) }),
      /bad signature/,
    ],
    [
      'stale (signed 2 minutes ago)',
      () => ({ [SIGNATURE_HEADER]: signature(current.privateKey, body, Date.now() - 120_000) }),
      /stale signature: signed 120 s ago/,
    ],
    [
      'dated in the future',
      () => ({ [SIGNATURE_HEADER]: signature(current.privateKey, body, Date.now() + 120_000) }),
      /stale signature: .* in the future/,
    ],
  ])('answers 401 to a request that is %s', async (_what, headers, reason) => {
    const res = await post(headers());
    expect(res.statusCode).toBe(401);
    expect(res.body).toMatch(reason);
  });

  it('a signature with a changed timestamp does not verify', async () => {
    const at = Date.now();
    const header = signature(current.privateKey, body, at).replace(`t=${at}`, `t=${at + 1}`);
    expect((await post({ [SIGNATURE_HEADER]: header })).statusCode).toBe(401);
  });

  it('rejects keys that are not Ed25519 public keys, naming which one', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    expect(() => createRequestVerifier({ publicKeys: [current.publicPem, rsa] })).toThrow(
      /verify.publicKeys\[1\] must be an Ed25519 public key, not public rsa/,
    );
    expect(() => createRequestVerifier({ publicKeys: ['nope'] })).toThrow(
      /verify.publicKeys\[0\] is not a PEM public key/,
    );
    expect(() => createRequestVerifier({ publicKeys: [] })).toThrow(/1 to 8 Ed25519 public keys, got 0/);
  });

  it('serveFromEnv takes the trusted keys from VERIFY_PUBLIC_KEYS (several PEMs in one value)', async () => {
    const env = {
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'silent',
      VERIFY_PUBLIC_KEYS: `${current.publicPem}\n${next.publicPem}`,
    };
    const fromEnv = await serveFromEnv([counter], { env, closeOnSignals: false });
    try {
      const unsigned = await fromEnv.app.inject({ method: 'POST', url: '/counter', payload: body });
      expect(unsigned.statusCode).toBe(401);
      const signed = await fromEnv.app.inject({
        method: 'POST',
        url: '/counter',
        payload: body,
        headers: { [SIGNATURE_HEADER]: signature(next.privateKey, body) },
      });
      expect(signed.statusCode).toBe(200);
    } finally {
      await fromEnv.close();
    }
    await expect(
      serveFromEnv([counter], { env: { ...env, VERIFY_PUBLIC_KEYS: 'not a pem' }, closeOnSignals: false }),
    ).rejects.toThrow(/VERIFY_PUBLIC_KEYS: must hold PEM public keys/);
  });
});
