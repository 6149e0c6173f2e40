// `statefun init <dir>`: writes a function service project that works on its own (outside this
// repository): one stateful function with a zod message type and a playground egress, its test,
// module.yaml, statefun-dev.json, a Dockerfile and a README.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_ADMIN_URL } from '../defaults.js';
import { ContinuumError } from '../errors.js';

type Out = (text: string) => void;

export const INIT_HELP = `statefun init <dir> [options]

Creates a function service project in <dir> (new or empty): one stateful function in TypeScript
(state, a message type with a zod schema, a playground egress), its test with the SDK's testing
entry, module.yaml with a playground ingress and egress, statefun-dev.json that runs the service
next to 'statefun dev', a Dockerfile and a README. Then:

  cd <dir> && npm install
  npm run dev     # build, start the service and the runtime
  npm test        # the function's tests, in-process
  npm run build   # compile to dist/ (npm start serves it)

Until the packages are published, the project depends on this checkout's sdk and runtime by
path (file: dependencies, installed as copies); rebuild the checkout (npm run build) and run
npm install again to pick up changes.

Options:
      --name NAME          package name (default: the directory name)
      --namespace NS       namespace of the function and message types (default: example)
      --port N             port of the function service (default 8000)
      --ingress-port N     playground ingress port in module.yaml (default 8090)
      --egress-port N      playground egress port in module.yaml (default 8091)
  -h, --help               this help
`;

export interface InitOptions {
  dir: string;
  name: string;
  namespace: string;
  port: number;
  ingressPort: number;
  egressPort: number;
  /** Directories of this checkout's packages the project depends on by path. */
  sdkDir: string;
  runtimeDir: string;
}

export function init(args: string[], out: Out): number {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        name: { type: 'string' },
        namespace: { type: 'string' },
        port: { type: 'string' },
        'ingress-port': { type: 'string' },
        'egress-port': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new ContinuumError('USAGE', (e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    out(INIT_HELP);
    return 0;
  }
  const [target, ...extra] = positionals;
  if (target === undefined) throw new ContinuumError('USAGE', 'needs a directory: statefun init <dir>');
  if (extra.length > 0) throw new ContinuumError('USAGE', `takes one directory, not also ${extra.join(' ')}`);
  const dir = resolve(target);
  const name = values.name ?? packageName(basename(dir));
  if (!/^(?:@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*$/.test(name) || name.length > 214)
    throw new ContinuumError(
      'USAGE',
      `--name ${name} is not a valid npm package name (lowercase letters, digits, - . _)`,
    );
  const namespace = values.namespace ?? 'example';
  if (!/^[A-Za-z0-9_.-]+$/.test(namespace))
    throw new ContinuumError(
      'USAGE',
      `--namespace ${namespace} must be letters, digits, '.', '_' or '-' (it is the part before the '/' of a typename)`,
    );
  const port = portOption(values.port, 'port', 8000);
  const ingressPort = portOption(values['ingress-port'], 'ingress-port', 8090);
  const egressPort = portOption(values['egress-port'], 'egress-port', 8091);
  if (new Set([port, ingressPort, egressPort]).size !== 3)
    throw new ContinuumError('USAGE', '--port, --ingress-port and --egress-port must differ');
  const { sdkDir, runtimeDir } = checkoutPackages();
  const files = projectFiles({ dir, name, namespace, port, ingressPort, egressPort, sdkDir, runtimeDir });
  if (existsSync(dir) && readdirSync(dir).length > 0)
    throw new ContinuumError('INIT_NOT_EMPTY', `${dir} is not empty; give a new or empty directory`);
  for (const [path, text] of Object.entries(files)) {
    const file = join(dir, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
  out(
    `created ${name} in ${dir}\n\n` +
      `  cd ${target}\n  npm install\n  npm run dev     # the service and the runtime\n` +
      `  npm test        # the function's tests\n\nSee README.md there for sending messages and reading replies.\n`,
  );
  return 0;
}

function packageName(dirName: string): string {
  const cleaned = dirName
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[._-]+/, '');
  return cleaned === '' ? 'functions' : cleaned;
}

function portOption(v: string | undefined, name: string, def: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    throw new ContinuumError('USAGE', `--${name} must be an integer from 1 to 65535, not ${v}`);
  return n;
}

/** The sdk and runtime of the checkout this command runs from (runtime/dist/cli/init.js). */
function checkoutPackages(): { sdkDir: string; runtimeDir: string } {
  const runtimeDir = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');
  const sdkDir = resolve(runtimeDir, '..', 'sdk');
  const sdkPackage = join(sdkDir, 'package.json');
  const ok =
    existsSync(sdkPackage) &&
    (JSON.parse(readFileSync(sdkPackage, 'utf8')) as { name?: string }).name === '@continuum/sdk' &&
    existsSync(join(sdkDir, 'dist', 'index.js')) &&
    existsSync(join(runtimeDir, 'dist', 'cli', 'main.js'));
  if (!ok) {
    throw new ContinuumError(
      'INIT_NO_CHECKOUT',
      `statefun init links the new project to the sdk and runtime of a built Continuum checkout, and found none at ${sdkDir} ` +
        `(the packages are not published yet): run it from a checkout after npm run build`,
    );
  }
  return { sdkDir, runtimeDir };
}

/** Every file of the project, by path relative to its directory. */
export function projectFiles(o: InitOptions): Record<string, string> {
  const ns = o.namespace;
  const packageJson = {
    name: o.name,
    version: '0.1.0',
    private: true,
    description: 'Stateful functions served over HTTP for Continuum (StateFun 3.x compatible)',
    type: 'module',
    engines: { node: '>=20.19' },
    scripts: {
      build: 'tsc -p tsconfig.json',
      dev: 'tsc -p tsconfig.json && statefun dev',
      start: 'node dist/main.js',
      test: 'vitest run',
    },
    dependencies: {
      '@continuum/sdk': `file:${o.sdkDir}`,
      zod: '^4.0.0',
    },
    devDependencies: {
      '@continuum/runtime': `file:${o.runtimeDir}`,
      '@types/node': '^20.19.0',
      typescript: '~5.9.3',
      vitest: '^4.1.0',
    },
    // The runtime names the sdk by version; until it is published that is this checkout's copy.
    // light-my-request 6.8 (through fastify) needs cookie 2, which needs Node 22.
    overrides: { '@continuum/sdk': '$@continuum/sdk', 'light-my-request': '6.6.0' },
    // protobufjs's postinstall only checks the versions of its optional command-line tools.
    allowScripts: { protobufjs: false },
  };
  const tsconfig = {
    compilerOptions: {
      target: 'ES2023',
      lib: ['ES2023'],
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      noUncheckedIndexedAccess: true,
      verbatimModuleSyntax: true,
      skipLibCheck: true,
      sourceMap: true,
      rootDir: 'src',
      outDir: 'dist',
      types: ['node'],
    },
    include: ['src'],
  };
  const devJson = {
    processes: [
      {
        name: 'functions',
        command: ['node', 'dist/main.js'],
        env: { PORT: String(o.port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
        waitForPort: o.port,
      },
    ],
  };
  return {
    'package.json': JSON.stringify(packageJson, null, 2) + '\n',
    'tsconfig.json': JSON.stringify(tsconfig, null, 2) + '\n',
    // Install the file: dependencies as copies, so this project never writes into the checkout.
    '.npmrc': 'install-links=true\n',
    '.gitignore': 'node_modules/\ndist/\n.data/\nvendor/\n',
    '.dockerignore': 'node_modules\n.data\n',
    'statefun-dev.json': JSON.stringify(devJson, null, 2) + '\n',
    'module.yaml': `# The application: which endpoint serves which functions, and how messages get in and out.
# \`statefun dev\` runs it; \`statefun validate module.yaml\` explains any problem.
kind: io.statefun.endpoints.v2/http
spec:
  functions: ${ns}/*
  urlPathTemplate: http://127.0.0.1:${o.port}/{function.name}
---
# PUT/POST localhost:${o.ingressPort}/<namespace>/<type>/<id> sends the body to that function.
kind: io.statefun.playground.v1/ingress
spec:
  port: ${o.ingressPort}
---
# GET localhost:${o.egressPort}/greetings?wait=5s reads the next greeting.
kind: io.statefun.playground.v1/egress
spec:
  port: ${o.egressPort}
  topics:
    - greetings
`,
    'src/greeter.ts': `// One stateful function: greets each visitor by name and counts their visits.
import {
  jsonType,
  playgroundEgressMessage,
  statefulFunction,
  types,
  valueSpec,
  type TypeOf,
} from '@continuum/sdk';
import { z } from 'zod';

/** The message it reads: JSON such as {"name": "Alice"}, validated by the schema. */
export const GreetRequest = jsonType('${ns}/GreetRequest', z.object({ name: z.string().min(1) }));
export type GreetRequest = TypeOf<typeof GreetRequest>;

export function greeting(name: string, visit: number): string {
  return visit === 1 ? \`Hello \${name}! Welcome.\` : \`Hello \${name}! Nice to see you again (visit #\${visit}).\`;
}

export const greeter = statefulFunction({
  typename: '${ns}/greeter',
  // State per address (${ns}/greeter/<id>), kept exactly once by the runtime.
  specs: { seen: valueSpec(types.int) },
  handler(ctx, message) {
    const { name } = message.as(GreetRequest);
    const seen = (ctx.storage.seen ?? 0) + 1;
    ctx.storage.seen = seen;
    ctx.sendEgress(playgroundEgressMessage({ topic: 'greetings', payload: greeting(name, seen) }));
  },
});
`,
    'src/main.ts': `// Serves the functions on $PORT (default 8000) and $HOST (default 0.0.0.0); stops on SIGTERM.
import { serveFromEnv } from '@continuum/sdk';
import { greeter } from './greeter.js';

await serveFromEnv([greeter]);
`,
    'test/greeter.test.ts': `import { describe, expect, it } from 'vitest';
import { invoke, testMessage } from '@continuum/sdk/testing';
import { GreetRequest, greeter } from '../src/greeter.js';

describe('greeter', () => {
  it('welcomes a first visitor and remembers the visit', async () => {
    const result = await invoke(greeter, {
      id: 'alice',
      messages: [testMessage(GreetRequest, { name: 'Alice' })],
    });
    expect(result.state.seen).toBe(1);
    expect(result.egress[0]!.asPlaygroundEgress()).toEqual({
      topic: 'greetings',
      payload: 'Hello Alice! Welcome.',
    });
  });

  it('counts the visits of an address', async () => {
    const result = await invoke(greeter, {
      id: 'alice',
      state: { seen: 2 },
      messages: [testMessage(GreetRequest, { name: 'Alice' })],
    });
    expect(result.state.seen).toBe(3);
    expect(result.egress[0]!.asPlaygroundEgress().payload).toBe('Hello Alice! Nice to see you again (visit #3).');
  });

  it('rejects a message that does not match the schema', async () => {
    await expect(
      invoke(greeter, { messages: [testMessage(GreetRequest, { name: '' })] }),
    ).rejects.toThrow();
  });
});
`,
    Dockerfile: `# syntax=docker/dockerfile:1
# The function service as a small image. Build it on the host first:
#   npm run build
#   mkdir -p vendor && npm pack ${o.sdkDir} --pack-destination vendor
#   docker build -t registry.example.com/${o.name}:0.1.0 .
# (vendor/ holds the sdk while it is not published; once it is, drop those lines and the
# "npm pkg set" below.)
ARG NODE_MAJOR=20

FROM node:\${NODE_MAJOR}-bookworm-slim AS deps
WORKDIR /app
COPY package.json ./
COPY vendor ./vendor
RUN npm pkg delete devDependencies scripts \\
 && npm pkg set "dependencies.@continuum/sdk=file:$(ls vendor/continuum-sdk-*.tgz)" \\
 && npm install --omit=dev --no-audit --no-fund --ignore-scripts

FROM gcr.io/distroless/nodejs\${NODE_MAJOR}-debian12:nonroot
WORKDIR /app
ENV NODE_ENV=production PORT=8000
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY dist ./dist
USER 65532:65532
EXPOSE 8000
CMD ["dist/main.js"]
`,
    'README.md': `# ${o.name}

Stateful functions for Continuum (wire-compatible with Apache Flink StateFun
3.x), written with the TypeScript SDK and served over HTTP.

\`\`\`sh
npm install
npm run dev      # build, then start the service and the runtime (statefun dev)
npm test         # the function's tests, in-process (no runtime, no HTTP)
npm run build    # compile to dist/; npm start serves it on $PORT
\`\`\`

**Dependencies by path.** Until \`@continuum/sdk\` and \`@continuum/runtime\` are published, this
project depends on the checkout it was created from (\`file:${o.sdkDir}\` and
\`file:${o.runtimeDir}\`); \`.npmrc\` installs them as copies. After changing or updating that
checkout, run \`npm run build\` there and \`npm install\` here again. Nothing else is needed.

## Layout

| file | what it is |
| --- | --- |
| \`src/greeter.ts\` | the function \`${ns}/greeter\`: state \`seen\`, message type \`${ns}/GreetRequest\` (zod schema), replies to the playground egress topic \`greetings\` |
| \`src/main.ts\` | serves the functions on \`$PORT\` (\`serveFromEnv\`) |
| \`test/greeter.test.ts\` | tests with \`@continuum/sdk/testing\` |
| \`module.yaml\` | the application: the endpoint, a playground ingress (port ${o.ingressPort}) and egress (port ${o.egressPort}) |
| \`statefun-dev.json\` | what \`statefun dev\` starts next to the runtime: this service on port ${o.port} |
| \`Dockerfile\` | the service as an image |

## Send a message and read the reply

With \`npm run dev\` running, in another terminal:

\`\`\`sh
curl -X PUT -H 'Content-Type: application/vnd.${ns}/GreetRequest' -d '{"name":"Alice"}' localhost:${o.ingressPort}/${ns}/greeter/alice; echo
curl 'localhost:${o.egressPort}/greetings?wait=5s'; echo      # Hello Alice! Welcome.
npx statefun send ${ns}/greeter/alice --json '{"name":"Alice"}' --type ${ns}/GreetRequest
curl 'localhost:${o.egressPort}/greetings?wait=5s'; echo      # Hello Alice! Nice to see you again (visit #2).
npx statefun state get ${ns}/greeter/alice                 # "seen": { "value": 2, ... }
\`\`\`

The \`Content-Type\` names the message's type: \`application/vnd.<namespace>/<name>\` (without it the
body is an \`io.statefun.types/string\`). A reply becomes readable when the runtime commits its
checkpoint; \`?wait=5s\` waits for it. The dashboard is on ${DEFAULT_ADMIN_URL}/dashboard/.

## Deploy

Build the image (see the Dockerfile's header), push it, and list it in the Continuum Helm chart's
values with the module pointing at its Service:

\`\`\`yaml
module: |
  kind: io.statefun.endpoints.v2/http
  spec:
    functions: ${ns}/*
    urlPathTemplate: http://{{ .Release.Name }}-${serviceName(o.name)}:8000/{function.name}
  # ... Kafka ingress and egress (the playground ones are for development)
functions:
  - name: ${serviceName(o.name)}
    image: registry.example.com/${o.name}:0.1.0
\`\`\`
`,
  };
}

/** A Kubernetes-friendly name for the chart's `functions[].name`. */
function serviceName(name: string): string {
  const base = name.replace(/^@[^/]+\//, '').replace(/[^a-z0-9-]+/g, '-');
  return base.replace(/^-+|-+$/g, '').slice(0, 40) || 'functions';
}
