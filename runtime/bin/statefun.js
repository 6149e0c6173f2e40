#!/usr/bin/env node
// The `statefun` command. The runtime is built by `node scripts/bootstrap.mjs` (or `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write(
    'statefun: the runtime is not built yet; run `npm run build` in the repository first\n',
  );
  process.exit(1);
}
const { main } = await import(entry.href);
// `statefun run` ends the process itself after its stop, whatever a client library left open.
process.exitCode = await main(process.argv.slice(2), undefined, undefined, {
  exit: (code) => process.exit(code),
});
