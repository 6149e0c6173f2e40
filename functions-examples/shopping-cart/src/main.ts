// Entry point: `npm start -w @continuum/example-shopping-cart` serves the cart and the inventory on $PORT (default 8000);
// settings from the environment as documented on `serveFromEnv`.
import { serveFromEnv } from '@continuum/sdk';
import { functions } from './functions.js';

await serveFromEnv(functions);
