// Entry point: `npm start -w @continuum/example-windowed-counts` serves the counters on $PORT (default 8000).
import { start } from './server.js';
import { functions } from './windowed-counts.js';

const server = await start(functions);
server.app.log.info(`serving ${functions.map((f) => f.typename).join(', ')} at ${server.url}`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void server.close());
}
