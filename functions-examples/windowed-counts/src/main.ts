// Entry point: `npm start -w @continuum/example-windowed-counts` serves the counters on $PORT (default 8000);
// settings from the environment as documented on `serveFromEnv`.
import { serveFromEnv } from '@continuum/sdk';
import { functions } from './windowed-counts.js';

await serveFromEnv(functions);
