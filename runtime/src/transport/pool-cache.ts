// Owns the keep-alive connection pools: one undici Pool per (origin, socket, transport settings),
// created on first use with the endpoint's TLS files, evicted least-recently-used past a bound.
import { readFile } from 'node:fs/promises';
import { Pool } from 'undici';
import type { EndpointTarget } from './endpoint-url.js';
import type { TlsOptions, TransportConfig } from '../module/types.js';

/** The TLS files could not be read or are unusable; the message names the file and the key. */
export class TlsConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TlsConfigError';
  }
}

interface Entry {
  pool: Promise<Pool>;
}

/** A bounded cache of connection pools. */
export class PoolCache {
  // Map order is recency order: a hit moves the entry to the end; eviction takes the front.
  private readonly entries = new Map<string, Entry>();
  private readonly retiring = new Set<Promise<Pool>>();
  /**
   * Each target's key under the transport it was last used with: computed once, not per call (a
   * target is nearly always used with the one transport of its endpoint).
   */
  private readonly keys = new WeakMap<EndpointTarget, { transport: TransportConfig; key: string }>();
  /** The most recently used key, which needs no move to the end of the recency order. */
  private lastKey: string | undefined;

  constructor(private readonly maxPools: number) {}

  /** Number of pools currently cached. */
  get size(): number {
    return this.entries.size;
  }

  /** The pool for `target` under `transport`, created (and its TLS files read) on first use. */
  get(target: EndpointTarget, transport: TransportConfig): Promise<Pool> {
    const key = this.keyOf(target, transport);
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      if (key !== this.lastKey) {
        this.entries.delete(key);
        this.entries.set(key, hit);
        this.lastKey = key;
      }
      return hit.pool;
    }
    const entry: Entry = { pool: createPool(target, transport) };
    // A failed creation (unreadable TLS file) is not cached: the file may be fixed or mounted later.
    entry.pool.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    this.entries.set(key, entry);
    this.lastKey = key;
    while (this.entries.size > this.maxPools) {
      const oldest = this.entries.entries().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value[0]);
      this.retire(oldest.value[1].pool);
    }
    return entry.pool;
  }

  /** Destroys every pool (also ones being retired), failing requests still running on them. */
  async destroyAll(): Promise<void> {
    const pools = [...this.entries.values()].map((e) => e.pool);
    this.entries.clear();
    this.lastKey = undefined;
    pools.push(...this.retiring);
    this.retiring.clear();
    await Promise.allSettled(pools.map(async (p) => (await p).destroy()));
  }

  private keyOf(target: EndpointTarget, transport: TransportConfig): string {
    const known = this.keys.get(target);
    if (known?.transport === transport) return known.key;
    const key = poolKey(target, transport);
    this.keys.set(target, { transport, key });
    return key;
  }

  private retire(pool: Promise<Pool>): void {
    this.retiring.add(pool);
    // close() lets requests already dispatched to the pool finish before its sockets go.
    pool
      .then((p) => p.close())
      .catch(() => undefined)
      .finally(() => this.retiring.delete(pool))
      .catch(() => undefined);
  }
}

function poolKey(target: EndpointTarget, t: TransportConfig): string {
  const tls = target.protocol === 'https:' ? t.tls : undefined;
  return JSON.stringify([
    target.origin,
    target.socketPath ?? '',
    t.poolSize,
    t.poolTtlMs,
    t.connectTimeoutMs,
    tls?.trustCaCerts ?? '',
    tls?.clientCert ?? '',
    tls?.clientKey ?? '',
    tls?.clientKeyPassword ?? '',
  ]);
}

async function createPool(target: EndpointTarget, t: TransportConfig): Promise<Pool> {
  const tls = target.protocol === 'https:' && t.tls !== undefined ? await loadTls(t.tls) : {};
  // pool_ttl 0 disables keep-alive: requests then carry `Connection: close` (see the client), and
  // the timeout below only has to be a valid positive number.
  const keepAlive = t.poolTtlMs > 0 ? t.poolTtlMs : 1;
  return new Pool(target.origin, {
    connections: t.poolSize,
    keepAliveTimeout: keepAlive,
    keepAliveMaxTimeout: keepAlive,
    // The call budget bounds each attempt through its AbortSignal; these stay off unless the
    // okhttp read timeout sets them per request.
    headersTimeout: 0,
    bodyTimeout: 0,
    ...(target.socketPath !== undefined ? { socketPath: target.socketPath } : {}),
    connect: { timeout: t.connectTimeoutMs, ...tls },
  });
}

interface LoadedTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  passphrase?: string;
}

async function loadTls(tls: TlsOptions): Promise<LoadedTls> {
  const out: LoadedTls = {};
  if (tls.trustCaCerts !== undefined) out.ca = await readPem(tls.trustCaCerts, 'trust_cacerts');
  if (tls.clientCert !== undefined) out.cert = await readPem(tls.clientCert, 'client_cert');
  if (tls.clientKey !== undefined) out.key = await readPem(tls.clientKey, 'client_key');
  if (tls.clientKeyPassword !== undefined) out.passphrase = tls.clientKeyPassword;
  if ((out.cert === undefined) !== (out.key === undefined)) {
    throw new TlsConfigError(
      'transport sets only one of client_cert and client_key; a client certificate needs both (set both or neither)',
    );
  }
  return out;
}

async function readPem(path: string, key: string): Promise<Buffer> {
  if (path.startsWith('classpath:')) {
    throw new TlsConfigError(
      `transport.${key} "${path}" is a Java classpath resource, which this runtime cannot read; give a PEM file path instead`,
    );
  }
  try {
    return await readFile(path);
  } catch (cause) {
    throw new TlsConfigError(
      `cannot read transport.${key} file "${path}": ${(cause as Error).message}; check the path and its permissions`,
      { cause },
    );
  }
}
