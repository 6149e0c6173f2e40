// Starts the example's HTTP service from environment variables (validated here, at the edge).
import { z } from 'zod';
import { serve, type ServerHandle, type StatefulFunction } from '@continuum/sdk';

const Env = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8000),
  HOST: z.string().min(1).default('0.0.0.0'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** Serves `functions` on `PORT` (default 8000) and `HOST` (default 0.0.0.0, for containers). */
export async function start(
  functions: readonly StatefulFunction[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<ServerHandle> {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    throw new Error(
      `invalid environment: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  const { PORT, HOST, LOG_LEVEL } = parsed.data;
  return serve({ functions, port: PORT, host: HOST, logger: { level: LOG_LEVEL } });
}
