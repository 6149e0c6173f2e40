// The Go service: main.go on the official StateFun Go SDK (statefun-sdk-go/v3, pinned in go.mod and
// go.sum, fetched through the Go module proxy), built with `go build` into .cache/interop/go/functions.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildInPlace, cacheDirOf, isPrepared, run, sourceHash } from '../prepare-support.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const cache = cacheDirOf('go');
const binary = join(cache, 'functions');

export async function prepare(log) {
  const version = (
    await run('go', ['env', 'GOVERSION'], {
      what: 'go env GOVERSION (Go 1.21 or newer is needed)',
      cwd: here,
    })
  ).trim();
  const hash = sourceHash(here, [version]);
  if (isPrepared(cache, hash, [binary])) {
    log(`built with ${version}: ${binary}`);
    return;
  }
  log(`go build with ${version} (modules from go.sum, through GOPROXY)`);
  await buildInPlace(cache, binary, hash, (staging) =>
    run('go', ['build', '-mod=readonly', '-trimpath', '-buildvcs=false', '-o', staging, '.'], {
      what: 'go build in test/interop/go',
      cwd: here,
    }),
  );
  log(`built ${binary}`);
}

export function command(port) {
  if (!existsSync(binary)) throw new Error(`${binary} is missing: run node test/infra/prepare.mjs`);
  return { command: binary, args: [String(port)], env: {} };
}
