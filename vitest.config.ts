// Test projects: `unit` runs in-process (embedded adapters, no servers; test/interop starts the
// official-SDK function services that test/infra/prepare.mjs built); `integration` gets a real
// Kafka broker and a real Redis server from test/infra's global setup; `chaos` is the long
// kill-and-restart suite (`npm run test:chaos`), a short version of which lives in `integration`.
import { defineConfig } from 'vitest/config';

// No bundler-only `module` condition: packages such as @opentelemetry/api ship extensionless ESM
// under it, which Node cannot load (prom-client requires that package).
const conditions = ['source', 'node', 'import', 'default'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['source'] } },
  test: {
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          exclude: ['**/node_modules/**', '**/test/integration/**', '**/test/chaos/**'],
          include: [
            'sdk/test/**/*.test.ts',
            'runtime/test/**/*.test.ts',
            'functions-examples/*/test/**/*.test.ts',
            'helm/test/**/*.test.ts',
            'test/interop/**/*.test.ts',
          ],
          testTimeout: 30_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'runtime/test/integration/**/*.test.ts'],
          globalSetup: ['test/infra/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 240_000,
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'bench',
          include: ['bench/**/*.bench.test.ts'],
          globalSetup: ['test/infra/global-setup.ts'],
          testTimeout: 3_600_000,
          hookTimeout: 240_000,
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'chaos',
          include: ['test/chaos/**/*.test.ts', 'runtime/test/chaos/**/*.test.ts'],
          globalSetup: ['test/infra/global-setup.ts'],
          testTimeout: 3_600_000,
          hookTimeout: 240_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
