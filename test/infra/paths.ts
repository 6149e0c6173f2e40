// Where the harness finds the repository, its cache and the pinned Kafka version, whether it runs
// from test/infra/*.ts (vitest) or from the compiled test/dist/infra/*.js.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedRoot: string | undefined;

/** The repository root: the nearest ancestor whose package.json declares workspaces. */
export function repoRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const parsed = JSON.parse(readFileSync(manifest, 'utf8')) as { workspaces?: unknown };
      if (parsed.workspaces !== undefined) {
        cachedRoot = dir;
        return dir;
      }
    }
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error(`no package.json with "workspaces" above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** test/infra/kafka: the committed pom.xml and log4j.properties of the local broker. */
export function kafkaConfigDir(): string {
  return join(repoRoot(), 'test', 'infra', 'kafka');
}

/** The Kafka version pinned in test/infra/kafka/pom.xml (the single source of truth). */
export function kafkaVersion(): string {
  const pom = readFileSync(join(kafkaConfigDir(), 'pom.xml'), 'utf8');
  const match = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(pom);
  if (match?.[1] === undefined) throw new Error(`test/infra/kafka/pom.xml has no <kafka.version> property`);
  return match[1].trim();
}

/** .cache/kafka/<version>: prepare.mjs copies the broker's jars into its libs/ folder. */
export function kafkaCacheDir(version = kafkaVersion()): string {
  return join(repoRoot(), '.cache', 'kafka', version);
}

/** Written by prepare.mjs after the last jar was copied; its absence means an incomplete download. */
export const KAFKA_LIBS_MARKER = '.complete';
