// The values test/infra/global-setup.ts provides to every integration and chaos test, typed for
// vitest's inject(): `inject('kafkaBrokers')`, `inject('redisUrl')`.

/** What the global setup provides. */
export interface ProvidedInfra {
  /** Comma-separated bootstrap addresses of the shared broker, e.g. `127.0.0.1:40123`. */
  kafkaBrokers: string;
  /** URL of the shared Redis, e.g. `redis://127.0.0.1:40124`. */
  redisUrl: string;
}

import type {} from 'vitest';

declare module 'vitest' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  export interface ProvidedContext extends ProvidedInfra {}
}
