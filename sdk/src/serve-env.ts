// `serveFromEnv`: the start-up of a function service in a container — settings from environment
// variables (validated, with errors that name the variable), a ready log line and a graceful close
// on SIGINT/SIGTERM.
import { z } from 'zod';
import { SdkError } from './errors.js';
import { serve, type ServerHandle } from './fastify-plugin.js';
import type { StatefulFunction } from './function.js';
import type { Specs } from './spec.js';
import { splitPemKeys } from './verify.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const Env = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8000),
  HOST: z.string().min(1).default('0.0.0.0'),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  FUNCTIONS_PATH: z.string().regex(/^\//, 'must start with "/"').default('/'),
  BODY_LIMIT_BYTES: z.coerce.number().int().positive().optional(),
  VERIFY_PUBLIC_KEYS: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || text.trim() === '') return undefined;
      const keys = splitPemKeys(text);
      if (keys.length === 0)
        ctx.addIssue({ code: 'custom', message: 'must hold PEM public keys (-----BEGIN PUBLIC KEY-----)' });
      return keys;
    }),
});

/** Options of {@link serveFromEnv}. */
export interface ServeFromEnvOptions {
  /**
   * Where the settings come from.
   * @defaultValue `process.env`
   */
  env?: NodeJS.ProcessEnv;
  /**
   * Close the server gracefully (in-flight requests finish) on the first SIGINT or SIGTERM.
   * @defaultValue true
   */
  closeOnSignals?: boolean;
}

/**
 * Serves functions with settings from environment variables, the usual start-up of a function
 * service in a container:
 *
 * | variable | meaning | default |
 * | --- | --- | --- |
 * | `PORT` | TCP port (0 picks a free one) | 8000 |
 * | `HOST` | interface to listen on | 0.0.0.0 |
 * | `LOG_LEVEL` | fatal, error, warn, info, debug, trace or silent | info |
 * | `FUNCTIONS_PATH` | URL path prefix of the functions | / |
 * | `BODY_LIMIT_BYTES` | largest accepted request body | 32 MiB |
 * | `VERIFY_PUBLIC_KEYS` | PEM Ed25519 public key(s) of the runtime: requests must be signed by one | unset (no check) |
 *
 * An invalid variable rejects with an {@link SdkError} naming it. Once listening, it logs the
 * served function types and the URL.
 *
 * @example
 * ```ts
 * // main.ts of a function service
 * await serveFromEnv([greeter, cart]);
 * ```
 */
export async function serveFromEnv(
  functions: readonly StatefulFunction<Specs>[],
  options: ServeFromEnvOptions = {},
): Promise<ServerHandle> {
  const parsed = Env.safeParse(options.env ?? process.env);
  if (!parsed.success) {
    throw new SdkError(
      'INVALID_ARGUMENT',
      `invalid environment: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  const { PORT, HOST, LOG_LEVEL, FUNCTIONS_PATH, BODY_LIMIT_BYTES, VERIFY_PUBLIC_KEYS } = parsed.data;
  const server = await serve({
    functions,
    port: PORT,
    host: HOST,
    path: FUNCTIONS_PATH,
    logger: { level: LOG_LEVEL },
    ...(BODY_LIMIT_BYTES === undefined ? {} : { bodyLimit: BODY_LIMIT_BYTES }),
    ...(VERIFY_PUBLIC_KEYS === undefined ? {} : { verify: { publicKeys: VERIFY_PUBLIC_KEYS } }),
  });
  server.app.log.info(`serving ${functions.map((f) => f.typename).join(', ')} at ${server.url}`);
  if (!(options.closeOnSignals ?? true)) return server;
  const onSignal = (): void => void handle.close();
  const handle: ServerHandle = Object.freeze({
    ...server,
    close: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      return server.close();
    },
  });
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return handle;
}
