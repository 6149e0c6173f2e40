// Entry point: `npm start -w @continuum/example-shopping-cart` serves the cart and the inventory on $PORT (default 8000).
import { functions } from './functions.js';
import { start } from './server.js';

const server = await start(functions);
server.app.log.info(`serving ${functions.map((f) => f.typename).join(', ')} at ${server.url}`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void server.close());
}
