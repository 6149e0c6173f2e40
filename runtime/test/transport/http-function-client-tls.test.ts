import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FunctionCallError } from '../../src/transport/function-client.js';
import { HttpFunctionClient } from '../../src/transport/http-function-client.js';
import { call, ok, replyBytes, startServer } from './fixtures.js';
import type { Handler, ServerOptions, TestServer } from './fixtures.js';

// A throwaway PKI made with the openssl CLI: a CA, a server certificate for localhost/127.0.0.1,
// and a client certificate whose key is encrypted with a password.
let dir: string;
const keyPassword = 's3cret-pass';
const file = (name: string): string => join(dir, name);

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fn-tls-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  openssl(
    'req',
    '-x509',
    ...ec,
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=continuum-test-ca',
  );
  writeFileSync(
    file('server.ext'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n',
  );
  openssl('req', ...ec, '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '2',
    '-extfile',
    'server.ext',
  );
  writeFileSync(file('client.ext'), 'extendedKeyUsage=clientAuth\n');
  openssl(
    'req',
    ...ec,
    '-passout',
    `pass:${keyPassword}`,
    '-keyout',
    'client.key',
    '-out',
    'client.csr',
    '-subj',
    '/CN=continuum-runtime',
  );
  openssl(
    'x509',
    '-req',
    '-in',
    'client.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'client.crt',
    '-days',
    '2',
    '-extfile',
    'client.ext',
  );
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A TLS server that demands a client certificate signed by the test CA. */
async function tlsServer(handler: Handler, options: Omit<ServerOptions, 'tls'> = {}): Promise<TestServer> {
  const s = await startServer(handler, {
    ...options,
    tls: {
      key: readFileSync(file('server.key')),
      cert: readFileSync(file('server.crt')),
      ca: readFileSync(file('ca.crt')),
      requestCert: true,
      rejectUnauthorized: true,
    },
  });
  cleanups.push(() => s.close());
  return s;
}

function client(): HttpFunctionClient {
  const c = new HttpFunctionClient();
  cleanups.push(() => c.close());
  return c;
}

const fullTls = () => ({
  trustCaCerts: file('ca.crt'),
  clientCert: file('client.crt'),
  clientKey: file('client.key'),
  clientKeyPassword: keyPassword,
});

async function failure(promise: Promise<unknown>): Promise<FunctionCallError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(FunctionCallError);
    return err as FunctionCallError;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

describe('HttpFunctionClient over TLS', () => {
  it('calls an https endpoint that trusts only the test CA and requires a client certificate', async () => {
    const peers: string[] = [];
    const s = await tlsServer((_req, res) => {
      peers.push(String((res.socket as TLSSocket).getPeerCertificate().subject.CN));
      ok(res);
    });

    const result = await client().invoke(call(`${s.base}/greeter`, { tls: fullTls() }));

    expect(Buffer.from(result.invocationResult!.outgoingMessages[0]!.argument.value).toString()).toBe(
      'hi alice',
    );
    expect(peers).toEqual(['continuum-runtime']);
  });

  it('fails, retrying until the budget, when no client certificate is configured', async () => {
    const s = await tlsServer((_req, res) => ok(res));
    const err = await failure(
      client().invoke(
        call(`${s.base}/greeter`, { callTimeoutMs: 1_000, tls: { trustCaCerts: file('ca.crt') } }),
      ),
    );
    expect(err.code).toBe('FUNCTION_CALL_FAILED');
    expect(err.attempts, err.message).toBeGreaterThan(1);
    expect(s.received).toHaveLength(0);
  });

  it('refuses a server whose certificate is not signed by a trusted CA', async () => {
    const s = await tlsServer((_req, res) => ok(res));
    const { trustCaCerts: _unused, ...withoutCa } = fullTls();
    const err = await failure(
      client().invoke(call(`${s.base}/greeter`, { callTimeoutMs: 200, tls: withoutCa })),
    );
    expect(err.code).toBe('FUNCTION_CALL_FAILED');
    expect(err.message).toMatch(/certificate/i);
    expect(s.received).toHaveLength(0);
  });

  it('calls an https+unix endpoint: TLS over a unix socket', async () => {
    const socketPath = join(dir, 'tls-functions.sock');
    const s = await tlsServer((_req, res) => ok(res, replyBytes), { socketPath });

    const result = await client().invoke(call(`https+unix://${socketPath}/v1/greeter`, { tls: fullTls() }));

    expect(result.invocationResult?.outgoingMessages).toHaveLength(1);
    expect(s.received[0]!.url).toBe('/v1/greeter');
  });

  it('fails at once, naming the file, when a TLS file cannot be read', async () => {
    const missing = join(dir, 'no-such-client.crt');
    const err = await failure(
      client().invoke(call('https://127.0.0.1:9/greeter', { tls: { ...fullTls(), clientCert: missing } })),
    );
    expect(err.code).toBe('FUNCTION_REQUEST_INVALID');
    expect(err.retryable).toBe(false);
    expect(err.attempts).toBe(0);
    expect(err.message).toContain(`transport.client_cert file "${missing}"`);
  });
});
