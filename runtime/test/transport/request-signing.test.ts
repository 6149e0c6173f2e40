// Request signing end to end: the runtime's HTTP client signs every request with its Ed25519 key,
// a function service served by our SDK with `verify` accepts exactly those, and an official
// StateFun SDK service keeps working with signing on (it ignores the header).
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve, statefulFunction, types, valueSpec, type ServerHandle } from '@continuum/sdk';
import { SIGNATURE_HEADER } from '@continuum/sdk/protocol';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { FunctionCallError } from '../../src/transport/function-client.js';
import { HttpFunctionClient } from '../../src/transport/http-function-client.js';
import { ed25519Signer, loadRequestSigner } from '../../src/transport/request-signer.js';
import { serveOfficial, sf } from '../dev/support.js';
import { call, ok, startServer } from './fixtures.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function keyPair(): { privateKey: KeyObject; publicPem: string; privatePem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKey,
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

const greeter = statefulFunction({
  typename: 'com.example/greeter',
  specs: { seen: valueSpec(types.int) },
  handler(ctx) {
    ctx.storage.seen = (ctx.storage.seen ?? 0) + 1;
  },
});

async function sdkService(publicKeys: string[]): Promise<ServerHandle> {
  const server = await serve({
    functions: [greeter],
    port: 0,
    host: '127.0.0.1',
    logger: false,
    verify: { publicKeys },
  });
  cleanups.push(() => server.close());
  return server;
}

function client(signer?: ReturnType<typeof ed25519Signer>): HttpFunctionClient {
  const c = new HttpFunctionClient(signer === undefined ? {} : { signer });
  cleanups.push(() => c.close());
  return c;
}

describe('request signing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'continuum-signing-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a signed call reaches an SDK service that verifies; an unsigned one is refused with 401', async () => {
    const keys = keyPair();
    const service = await sdkService([keys.publicPem]);
    const url = `${service.url}greeter`;

    const reply = await client(ed25519Signer(keys.privateKey)).invoke(call(url));
    expect(reply.invocationResult?.stateMutations[0]?.stateName).toBe('seen');

    const refused = await client()
      .invoke(call(url, { type: 'okhttp', callTimeoutMs: 1_000 }))
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(FunctionCallError);
    expect((refused as FunctionCallError).message).toMatch(/HTTP 401.*unsigned request/);
  });

  it('a key from another runtime is refused; during rotation both the old and the new key pass', async () => {
    const [oldKeys, newKeys, stranger] = [keyPair(), keyPair(), keyPair()];
    const service = await sdkService([oldKeys.publicPem, newKeys.publicPem]);
    const url = `${service.url}greeter`;
    for (const k of [oldKeys, newKeys]) await client(ed25519Signer(k.privateKey)).invoke(call(url));
    const refused = await client(ed25519Signer(stranger.privateKey))
      .invoke(call(url, { type: 'okhttp', callTimeoutMs: 1_000 }))
      .catch((e: unknown) => e);
    expect((refused as Error).message).toMatch(/HTTP 401.*bad signature/);
  });

  it('signs every attempt afresh, so a retry carries a new timestamp', async () => {
    const keys = keyPair();
    let t = 1_700_000_000_000;
    const signer = ed25519Signer(keys.privateKey, () => t++);
    const server = await startServer((_req, res, index) => {
      if (index === 0) res.writeHead(503).end();
      else ok(res);
    });
    cleanups.push(() => server.close());
    await client(signer).invoke(call(`${server.base}/greeter`));
    const headers = server.received.map((r) => r.headers[SIGNATURE_HEADER]);
    expect(headers).toHaveLength(2);
    expect(headers[0]).toMatch(/^t=1700000000000,ed25519=/);
    expect(headers[1]).toMatch(/^t=1700000000001,ed25519=/);
  });

  it('an official StateFun JS SDK service ignores the signature header', async () => {
    const keys = keyPair();
    const statefun = new sf.StateFun();
    statefun.bind({
      typename: 'com.example/greeter',
      specs: [{ name: 'seen', type: sf.StateFun.intType() }],
      fn(context) {
        context.storage.seen = ((context.storage.seen as number | null) ?? 0) + 1;
      },
    });
    const official = await serveOfficial(statefun);
    cleanups.push(() => official.close());
    const reply = await client(ed25519Signer(keys.privateKey)).invoke(
      call(`http://127.0.0.1:${official.port}/greeter`),
    );
    expect(reply.invocationResult?.stateMutations[0]?.stateName).toBe('seen');
  });

  it('loads the key from a PEM file and names the file and the problem otherwise', () => {
    const keys = keyPair();
    const good = join(dir, 'signing-key.pem');
    writeFileSync(good, keys.privatePem);
    expect(loadRequestSigner(good).keyId).toMatch(/^[0-9a-f]{16}$/);

    expect(() => loadRequestSigner(join(dir, 'missing.pem'))).toThrow(
      /cannot read the signing key file .*missing\.pem/,
    );
    const garbage = join(dir, 'garbage.pem');
    writeFileSync(garbage, 'not a key');
    expect(() => loadRequestSigner(garbage)).toThrow(/garbage\.pem is not a PEM private key/);
    const rsa = join(dir, 'rsa.pem');
    writeFileSync(
      rsa,
      generateKeyPairSync('rsa', { modulusLength: 1024 })
        .privateKey.export({ type: 'pkcs8', format: 'pem' })
        .toString(),
    );
    expect(() => loadRequestSigner(rsa)).toThrow(/holds an rsa key; request signing needs an Ed25519 key/);
  });
});
