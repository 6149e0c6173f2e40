// Entry point: `npm start -w @continuum/example-greeter` serves the greeters on $PORT (default 8000);
// settings from the environment as documented on `serveFromEnv`.
import { serveFromEnv } from '@continuum/sdk';
import { functions } from './greeter.js';

await serveFromEnv(functions);
