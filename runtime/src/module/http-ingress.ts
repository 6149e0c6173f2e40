// The request-response HTTP ingress (`io.continuum.http.v1/ingress`, an extension of ours): a
// port serving `POST /v1/invoke/<namespace>/<type>/<id>`, optional bearer-token auth, its body
// limit, timeouts and the retention of idempotency keys and replies.

import type { ComponentScope } from './scope.js';
import { duration, integer, mapping, nonEmptyText, port, typeName, validate } from './schema.js';
import type { HttpIngressConfig } from './types.js';

export const HTTP_INGRESS_KIND = 'io.continuum.http.v1/ingress';

/** Defaults of the optional keys of an `io.continuum.http.v1/ingress` spec. */
export const HTTP_INGRESS_DEFAULTS = Object.freeze({
  maxBodyBytes: 1024 * 1024,
  defaultTimeoutMs: 10_000,
  maxTimeoutMs: 300_000,
  retentionMs: 24 * 60 * 60 * 1000,
  maxPendingRequests: 10_000,
});

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/u;

const specSchema = mapping({
  id: typeName('the ingress id'),
  port,
  auth: mapping({
    token: nonEmptyText('the bearer token as text').nullish(),
    tokenEnv: nonEmptyText('the name of an environment variable holding the bearer token').nullish(),
  }).nullish(),
  maxBodyBytes: integer({ min: 1, max: 64 * 1024 * 1024 }).nullish(),
  defaultTimeout: duration({ allowZero: true }).nullish(),
  maxTimeout: duration({ allowZero: false }).nullish(),
  retention: duration({ allowZero: false }).nullish(),
  maxPendingRequests: integer({ min: 1, max: 1_000_000 }).nullish(),
});

/** Validates an `io.continuum.http.v1/ingress` spec. */
export function parseHttpIngress(scope: ComponentScope, spec: unknown): HttpIngressConfig | undefined {
  const parsed = validate(scope, specSchema, spec, []);
  if (parsed === undefined) return undefined;
  let failed = false;
  const auth = parsed.auth ?? undefined;
  if (auth !== undefined && (auth.token == null) === (auth.tokenEnv == null)) {
    scope.error(
      ['auth'],
      'found ' +
        (auth.token == null ? 'neither token nor tokenEnv' : 'both token and tokenEnv') +
        '; expected exactly one of them (tokenEnv names an environment variable, which keeps the secret out of the file)',
    );
    failed = true;
  }
  if (auth?.tokenEnv != null && !ENV_NAME.test(auth.tokenEnv)) {
    scope.error(
      ['auth', 'tokenEnv'],
      `found "${auth.tokenEnv}"; expected an environment variable name (letters, digits, _; not starting with a digit)`,
    );
    failed = true;
  }
  const defaultTimeoutMs = parsed.defaultTimeout ?? HTTP_INGRESS_DEFAULTS.defaultTimeoutMs;
  const maxTimeoutMs = parsed.maxTimeout ?? Math.max(HTTP_INGRESS_DEFAULTS.maxTimeoutMs, defaultTimeoutMs);
  if (defaultTimeoutMs > maxTimeoutMs) {
    scope.error(
      ['defaultTimeout'],
      `found ${defaultTimeoutMs} ms, longer than maxTimeout (${maxTimeoutMs} ms); expected at most maxTimeout`,
    );
    failed = true;
  }
  const retentionMs = parsed.retention ?? HTTP_INGRESS_DEFAULTS.retentionMs;
  if (retentionMs < maxTimeoutMs) {
    scope.error(
      ['retention'],
      `found ${retentionMs} ms, shorter than maxTimeout (${maxTimeoutMs} ms); expected a retention at least as long as the longest wait, or a reply could be forgotten while its caller waits`,
    );
    failed = true;
  }
  if (failed) return undefined;
  return {
    kind: HTTP_INGRESS_KIND,
    id: parsed.id,
    port: parsed.port,
    ...(auth?.token != null ? { token: auth.token } : {}),
    ...(auth?.tokenEnv != null ? { tokenEnv: auth.tokenEnv } : {}),
    maxBodyBytes: parsed.maxBodyBytes ?? HTTP_INGRESS_DEFAULTS.maxBodyBytes,
    defaultTimeoutMs,
    maxTimeoutMs,
    retentionMs,
    maxPendingRequests: parsed.maxPendingRequests ?? HTTP_INGRESS_DEFAULTS.maxPendingRequests,
    source: scope.source,
  };
}
