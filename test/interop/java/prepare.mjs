// The Java service: src/main/java on the official StateFun Java SDK (statefun-sdk-java, pinned in
// pom.xml), built into .cache/interop/java/service: Maven copies the SDK and its few dependencies into
// lib/, javac compiles src/main/java into classes/. Skipped while the marker there matches the hash of
// this directory (pom.xml, sources, this file) and the SDK version.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildInPlace, cacheDirOf, isPrepared, run, sourceHash } from '../prepare-support.mjs';

const serviceDir = dirname(fileURLToPath(import.meta.url));
const MAIN_CLASS = 'dev.continuum.interop.Main';

function sdkVersion() {
  const pom = readFileSync(join(serviceDir, 'pom.xml'), 'utf8');
  const match = /<statefun\.version>([^<]+)<\/statefun\.version>/.exec(pom);
  if (!match) throw new Error('test/interop/java/pom.xml has no <statefun.version> property.');
  return match[1].trim();
}

function javaSources(dir) {
  const found = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...javaSources(path));
    else if (entry.endsWith('.java')) found.push(path);
  }
  return found;
}

const cache = cacheDirOf('java');
const service = join(cache, 'service');

/** Where a build in `dir` keeps the jars it runs with and its compiled classes. */
const layout = (dir) => ({ lib: join(dir, 'lib'), classes: join(dir, 'classes') });

function outputsOf(dir, version) {
  const { lib, classes } = layout(dir);
  return [join(lib, `statefun-sdk-java-${version}.jar`), `${join(classes, ...MAIN_CLASS.split('.'))}.class`];
}

export async function prepare(log) {
  const version = sdkVersion();
  await run('java', ['-version'], {
    what: 'java -version (Java 17 or newer runs the Java service)',
  });
  const hash = sourceHash(serviceDir, [`statefun-sdk-java ${version}`]);
  if (isPrepared(cache, hash, outputsOf(service, version))) {
    log(`statefun-sdk-java ${version} service current in ${service}`);
    return;
  }
  await run('javac', ['-version'], { what: 'javac -version (a JDK 17 or newer builds the Java service)' });
  await run('mvn', ['-v'], {
    what: 'mvn -v (Maven resolves statefun-sdk-java; on Debian: apt-get install -y maven)',
  });
  await buildInPlace(cache, service, hash, async (staging) => {
    const { lib, classes } = layout(staging);
    log(`resolving statefun-sdk-java ${version} with Maven (test/interop/java/pom.xml)`);
    await run(
      'mvn',
      [
        '-q',
        '-B',
        '-Dstyle.color=never',
        '-f',
        join(serviceDir, 'pom.xml'),
        'dependency:copy-dependencies',
        '-DincludeScope=runtime',
        `-DoutputDirectory=${lib}`,
      ],
      { what: `mvn dependency:copy-dependencies (statefun-sdk-java ${version})`, cwd: serviceDir },
    );
    log('compiling src/main/java with javac');
    await run(
      'javac',
      [
        '--release',
        '17',
        '-encoding',
        'UTF-8',
        '-d',
        classes,
        '-cp',
        join(lib, '*'),
        ...javaSources(join(serviceDir, 'src')),
      ],
      { what: 'javac test/interop/java/src', cwd: serviceDir },
    );
    const missing = outputsOf(staging, version).filter((path) => !existsSync(path));
    if (missing.length > 0) throw new Error(`the Java build finished without ${missing.join(', ')}`);
  });
  log(`service built in ${service}`);
}

export function command(port) {
  const { lib, classes } = layout(service);
  if (!existsSync(classes)) throw new Error(`${classes} is missing: run node test/infra/prepare.mjs`);
  return {
    command: 'java',
    // A small heap, the serial collector and the C1 compiler only: the service is tiny and shares
    // two cores with the runtime and the test.
    args: [
      '-Xmx128m',
      '-XX:+UseSerialGC',
      '-XX:TieredStopAtLevel=1',
      '-cp',
      `${classes}${delimiter}${join(lib, '*')}`,
      MAIN_CLASS,
      String(port),
    ],
    env: {},
  };
}
