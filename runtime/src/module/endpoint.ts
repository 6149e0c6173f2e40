// HTTP endpoint components (`io.statefun.endpoints.v2/http`, deprecated `v1/http`): which function
// types they serve, their URL, batching bound and transport, with StateFun's defaults.

import { z } from 'zod';
import { formatDuration } from './duration.js';
import type { ComponentScope, PathSegment } from './scope.js';
import type { FunctionsMatch } from './schema.js';
import {
  duration,
  functionsPattern,
  integer,
  leaf,
  mapping,
  problem,
  text,
  urlTemplate,
  validate,
} from './schema.js';
import type { HttpEndpointConfig, TlsOptions, TransportConfig } from './types.js';

export const ENDPOINT_V2_KIND = 'io.statefun.endpoints.v2/http';
export const ENDPOINT_V1_KIND = 'io.statefun.endpoints.v1/http';
export const ASYNC_TRANSPORT = 'io.statefun.transports.v1/async';
export const OKHTTP_TRANSPORT = 'io.statefun.transports.v1/okhttp';

/** Backlog bound per address when `maxNumBatchRequests` is not given. */
export const DEFAULT_MAX_NUM_BATCH_REQUESTS = 1000;

/** StateFun's transport defaults, in milliseconds and bytes. */
export const TRANSPORT_DEFAULTS = Object.freeze({
  async: Object.freeze({
    callTimeoutMs: 120_000,
    connectTimeoutMs: 20_000,
    /** Inside a `timeouts:` object the defaults are those of the okhttp transport. */
    timeoutsCallMs: 60_000,
    timeoutsConnectMs: 10_000,
    poolTtlMs: 15_000,
    poolSize: 1024,
    payloadMaxBytes: 33_554_432,
  }),
  okhttp: Object.freeze({
    callTimeoutMs: 60_000,
    connectTimeoutMs: 10_000,
    readTimeoutMs: 10_000,
    writeTimeoutMs: 10_000,
    /** OkHttp keeps idle connections for one minute in a pool of 1024. */
    poolTtlMs: 60_000,
    poolSize: 1024,
    /** OkHttp has no cap; we keep the async one so a response cannot exhaust memory. */
    payloadMaxBytes: 33_554_432,
  }),
});

const positiveDuration = duration({ allowZero: false });

const tlsPath = leaf('a file path to a PEM file', (input) => {
  if (typeof input !== 'string' || input.trim() === '') return { ok: false };
  if (input.startsWith('classpath:')) {
    return { ok: false, reason: 'classpath: resources exist only in the JVM; point to the file instead' };
  }
  return { ok: true, value: input.startsWith('file://') ? new URL(input).pathname : input };
});

const asyncTransportSchema = mapping({
  type: z.unknown().nullish(),
  call: positiveDuration.nullish(),
  connect: positiveDuration.nullish(),
  pool_ttl: duration({ allowZero: true }).nullish(),
  pool_size: integer({ min: 1 }).nullish(),
  payload_max_bytes: integer({ min: 1 }).nullish(),
  trust_cacerts: tlsPath.nullish(),
  client_cert: tlsPath.nullish(),
  client_key: tlsPath.nullish(),
  client_key_password: text().nullish(),
  timeouts: mapping({ call: positiveDuration.nullish(), connect: positiveDuration.nullish() }).nullish(),
});

const okHttpTimeoutsSchema = mapping({
  call: positiveDuration.nullish(),
  connect: positiveDuration.nullish(),
  read: positiveDuration.nullish(),
  write: positiveDuration.nullish(),
});

const okHttpTransportSchema = mapping({
  type: z.unknown().nullish(),
  timeouts: okHttpTimeoutsSchema.nullish(),
});

const endpointV2Schema = mapping({
  functions: functionsPattern,
  urlPathTemplate: urlTemplate,
  maxNumBatchRequests: integer().nullish(),
  maxConcurrentCalls: integer({ min: 1 }).nullish(),
  transport: z.unknown().nullish(),
});

const endpointV1Schema = mapping({
  functions: functionsPattern,
  urlPathTemplate: urlTemplate,
  maxNumBatchRequests: integer().nullish(),
  maxConcurrentCalls: integer({ min: 1 }).nullish(),
  timeouts: okHttpTimeoutsSchema.nullish(),
});

/** Validates an `io.statefun.endpoints.v2/http` spec. */
export function parseEndpointV2(scope: ComponentScope, spec: unknown): HttpEndpointConfig | undefined {
  const parsed = validate(scope, endpointV2Schema, spec, []);
  const transport = parseTransport(scope, isRecord(spec) ? spec['transport'] : undefined, ['transport']);
  if (parsed === undefined || transport === undefined) return undefined;
  return endpointConfig(scope, ENDPOINT_V2_KIND, parsed, transport);
}

/** Validates a deprecated `io.statefun.endpoints.v1/http` spec (always the okhttp transport). */
export function parseEndpointV1(scope: ComponentScope, spec: unknown): HttpEndpointConfig | undefined {
  const parsed = validate(scope, endpointV1Schema, spec, []);
  if (parsed === undefined) return undefined;
  const transport = okHttpTransport(scope, parsed.timeouts ?? undefined, ['timeouts']);
  if (transport === undefined) return undefined;
  return endpointConfig(scope, ENDPOINT_V1_KIND, parsed, transport);
}

function endpointConfig(
  scope: ComponentScope,
  kind: HttpEndpointConfig['kind'],
  parsed: {
    functions: FunctionsMatch;
    urlPathTemplate: string;
    maxNumBatchRequests?: number | null | undefined;
    maxConcurrentCalls?: number | null | undefined;
  },
  transport: TransportConfig,
): HttpEndpointConfig {
  const maxNumBatchRequests = parsed.maxNumBatchRequests ?? DEFAULT_MAX_NUM_BATCH_REQUESTS;
  if (maxNumBatchRequests <= 0) {
    scope.warning(
      ['maxNumBatchRequests'],
      `${maxNumBatchRequests} disables the per-address backlog bound; only the runtime's global memory limits will apply`,
    );
  }
  const functions =
    parsed.functions.kind === 'exact' ? parsed.functions.typename : `${parsed.functions.namespace}/*`;
  return {
    kind,
    functions,
    match: parsed.functions,
    urlPathTemplate: parsed.urlPathTemplate,
    maxNumBatchRequests,
    ...(parsed.maxConcurrentCalls == null ? {} : { maxConcurrentCalls: parsed.maxConcurrentCalls }),
    transport,
    source: scope.source,
  };
}

function parseTransport(
  scope: ComponentScope,
  value: unknown,
  at: readonly PathSegment[],
): TransportConfig | undefined {
  if (value === undefined || value === null) return asyncTransport(scope, {}, at);
  if (!isRecord(value)) {
    scope.error(at, problem(value, 'a mapping with the transport type and its settings'));
    return undefined;
  }
  const type = value['type'] ?? ASYNC_TRANSPORT;
  if (type === ASYNC_TRANSPORT) {
    const parsed = validate(scope, asyncTransportSchema, value, at);
    return parsed === undefined ? undefined : asyncTransport(scope, parsed, at);
  }
  if (type === OKHTTP_TRANSPORT) {
    const parsed = validate(scope, okHttpTransportSchema, value, at);
    return parsed === undefined
      ? undefined
      : okHttpTransport(scope, parsed.timeouts ?? undefined, [...at, 'timeouts']);
  }
  scope.error([...at, 'type'], problem(type, `${ASYNC_TRANSPORT} (the default) or ${OKHTTP_TRANSPORT}`));
  return undefined;
}

function asyncTransport(
  scope: ComponentScope,
  parsed: Partial<z.output<typeof asyncTransportSchema>>,
  at: readonly PathSegment[],
): TransportConfig | undefined {
  const defaults = TRANSPORT_DEFAULTS.async;
  const timeouts = parsed.timeouts ?? undefined;
  // StateFun lets a `timeouts:` object win over the top-level keys, defaults included.
  let callTimeoutMs = parsed.call ?? defaults.callTimeoutMs;
  let connectTimeoutMs = parsed.connect ?? defaults.connectTimeoutMs;
  if (timeouts !== undefined) {
    for (const key of ['call', 'connect'] as const) {
      if (parsed[key] !== undefined && parsed[key] !== null) {
        scope.warning(
          [...at, key],
          `ignored because ${scope.describe([...at, 'timeouts'])} is given, which takes priority (as in StateFun); ` +
            `set ${key} inside timeouts instead`,
        );
      }
    }
    callTimeoutMs = timeouts.call ?? defaults.timeoutsCallMs;
    connectTimeoutMs = timeouts.connect ?? defaults.timeoutsConnectMs;
  }
  const tls: TlsOptions = {};
  if (parsed.trust_cacerts != null) tls.trustCaCerts = parsed.trust_cacerts;
  if (parsed.client_cert != null) tls.clientCert = parsed.client_cert;
  if (parsed.client_key != null) tls.clientKey = parsed.client_key;
  if (parsed.client_key_password != null) tls.clientKeyPassword = parsed.client_key_password;
  if ((tls.clientCert === undefined) !== (tls.clientKey === undefined)) {
    const missing = tls.clientCert === undefined ? 'client_cert' : 'client_key';
    scope.error(
      [...at, missing],
      problem(undefined, `${missing} too: a client certificate needs its key and vice versa`),
    );
    return undefined;
  }
  return {
    type: 'async',
    callTimeoutMs,
    connectTimeoutMs,
    poolTtlMs: parsed.pool_ttl ?? defaults.poolTtlMs,
    poolSize: parsed.pool_size ?? defaults.poolSize,
    payloadMaxBytes: parsed.payload_max_bytes ?? defaults.payloadMaxBytes,
    tls: Object.keys(tls).length > 0 ? tls : undefined,
  };
}

function okHttpTransport(
  scope: ComponentScope,
  timeouts: z.output<typeof okHttpTimeoutsSchema> | undefined,
  at: readonly PathSegment[],
): TransportConfig | undefined {
  const defaults = TRANSPORT_DEFAULTS.okhttp;
  const callTimeoutMs = timeouts?.call ?? defaults.callTimeoutMs;
  const resolved = {
    connect: timeouts?.connect ?? defaults.connectTimeoutMs,
    read: timeouts?.read ?? defaults.readTimeoutMs,
    write: timeouts?.write ?? defaults.writeTimeoutMs,
  };
  let valid = true;
  for (const key of ['connect', 'read', 'write'] as const) {
    const value = resolved[key];
    if (value > callTimeoutMs) {
      valid = false;
      const given = timeouts?.[key] != null;
      const callGiven = timeouts?.call != null;
      scope.error(
        [...at, key],
        `found ${formatDuration(value)}${given ? '' : ' (the default)'}, longer than the call timeout ` +
          `(${formatDuration(callTimeoutMs)}${callGiven ? '' : ', the default'}); expected at most the call timeout, ` +
          `which bounds the whole call`,
      );
    }
  }
  if (!valid) return undefined;
  return {
    type: 'okhttp',
    callTimeoutMs,
    connectTimeoutMs: resolved.connect,
    readTimeoutMs: resolved.read,
    writeTimeoutMs: resolved.write,
    poolTtlMs: defaults.poolTtlMs,
    poolSize: defaults.poolSize,
    payloadMaxBytes: defaults.payloadMaxBytes,
  };
}

/** A YAML mapping as a plain object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
