#!/usr/bin/env node
// Runtime CPU per function call of the HTTP function client: N calls of K invocations each, C at
// once, against a local HTTP server (its own process) that answers every call with the same
// FromFunction. Each run is a fresh client process that reports process.cpuUsage() over its calls.
//
//   node bench/function-client.mjs [--calls 20000] [--concurrency 64] [--invocations 9] [--runs 3]
//                                  [--baseline <runtime dist dir>] [--signal per-call|shared|none]
//
// With --baseline (a copy of another commit's runtime/dist, e.g. main's), runs alternate between
// that build and this one (runtime/dist), so load from elsewhere on the machine hits both alike.
// --signal says how the caller passes its AbortSignal; by default each build is driven the way its
// mailboxes drive it (this build: one signal shared by a partition's calls; a baseline: a new
// AbortController per call, as the mailboxes did before they shared one).
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const thisDist = resolve(here, '../runtime/dist');

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '64' },
    invocations: { type: 'string', default: '9' },
    runs: { type: 'string', default: '3' },
    baseline: { type: 'string' },
    signal: { type: 'string' },
    // Internal: the role of a child process.
    role: { type: 'string', default: 'main' },
    dist: { type: 'string' },
    url: { type: 'string' },
  },
});

function positiveInt(name, max) {
  const n = Number(args[name]);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new Error(`--${name} must be an integer between 1 and ${max}, got "${args[name]}"`);
  }
  return n;
}

const calls = positiveInt('calls', 1_000_000);
const concurrency = positiveInt('concurrency', 4096);
const invocations = positiveInt('invocations', 1000);
const runs = positiveInt('runs', 20);
const signalModes = ['per-call', 'shared', 'none'];
if (args.signal !== undefined && !signalModes.includes(args.signal)) {
  throw new Error(`--signal must be one of ${signalModes.join(', ')}, got "${args.signal}"`);
}

async function protocol() {
  return import('@continuum/sdk/protocol');
}

/** The fixed answer: a counter's state write and one egress record per invocation. */
async function replyBytes() {
  const { encodeFromFunction } = await protocol();
  const outgoingEgresses = Array.from({ length: invocations }, (_, i) => ({
    egressNamespace: 'bench',
    egressType: 'out',
    argument: {
      typename: 'type.googleapis.com/io.statefun.sdk.egress.KafkaProducerRecord',
      hasValue: true,
      value: Buffer.from(`topic: out, key: key-${i}, value: key-${i}|event-${i}|${i + 1}`),
    },
  }));
  return Buffer.from(
    encodeFromFunction({
      invocationResult: {
        stateMutations: [
          {
            mutationType: 1,
            stateName: 'count',
            stateValue: { typename: 'io.statefun.types/int', hasValue: true, value: Uint8Array.from([8, 9]) },
          },
        ],
        outgoingMessages: [],
        delayedInvocations: [],
        outgoingEgresses,
      },
    }),
  );
}

async function runServer() {
  const body = await replyBytes();
  const server = createServer((req, res) => {
    req.on('data', () => undefined);
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.byteLength });
      res.end(body);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  process.send({ url: `http://127.0.0.1:${server.address().port}` });
  process.on('disconnect', () => process.exit(0));
}

async function runClient() {
  const { HttpFunctionClient } = await import(pathToFileURL(resolve(args.dist, 'transport/index.js')).href);
  const endpoint = {
    kind: 'io.statefun.endpoints.v2/http',
    functions: 'bench/*',
    match: { kind: 'namespace', namespace: 'bench' },
    urlPathTemplate: `${args.url}/{function.name}`,
    maxNumBatchRequests: 1000,
    transport: {
      type: 'async',
      callTimeoutMs: 60_000,
      connectTimeoutMs: 10_000,
      poolTtlMs: 15_000,
      poolSize: 1024,
      payloadMaxBytes: 33_554_432,
    },
    source: { file: 'module.yaml', document: 1 },
  };
  const request = (key) => ({
    invocation: {
      target: { namespace: 'bench', type: 'counter', id: key },
      state: [
        {
          stateName: 'count',
          stateValue: { typename: 'io.statefun.types/int', hasValue: true, value: Uint8Array.from([8, 7]) },
        },
      ],
      invocations: Array.from({ length: invocations }, (_, i) => ({
        argument: { typename: 'io.statefun.types/string', hasValue: true, value: Buffer.from(`event-${i}`) },
      })),
    },
  });
  const client = new HttpFunctionClient({ maxInFlight: 256 });
  const shared = new AbortController();
  const mode = args.signal;
  const signalOf = () =>
    mode === 'shared' ? shared.signal : mode === 'per-call' ? new AbortController().signal : undefined;
  const requests = Array.from({ length: concurrency }, (_, i) => request(`key-${i}`));
  let next = 0;
  const worker = async (i) => {
    while (next < calls) {
      next++;
      const response = await client.invoke({
        endpoint,
        url: `${args.url}/counter`,
        address: requests[i].invocation.target,
        request: requests[i],
        signal: signalOf(),
      });
      if (response.invocationResult?.outgoingEgresses.length !== invocations) throw new Error('bad response');
    }
  };
  // Warm up (connections, JIT), then measure.
  next = calls - Math.min(calls, 2_000);
  await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i)));
  next = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i)));
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await client.close();
  process.send({ cpuUs: cpu.user + cpu.system, wallMs });
}

async function child(role, extra) {
  const argv = ['--role', role, '--calls', String(calls), '--concurrency', String(concurrency)];
  argv.push('--invocations', String(invocations));
  for (const [k, v] of Object.entries(extra)) argv.push(`--${k}`, v);
  const proc = fork(fileURLToPath(import.meta.url), argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [message] = await Promise.race([
    once(proc, 'message'),
    once(proc, 'exit').then(([code]) => {
      throw new Error(`${role} process exited with ${code} before reporting`);
    }),
  ]);
  return { proc, message };
}

async function main() {
  const server = await child('server', {});
  const url = server.message.url;
  const builds = [{ name: 'this', dist: thisDist, signal: args.signal ?? 'shared' }];
  if (args.baseline !== undefined) {
    builds.unshift({ name: 'baseline', dist: resolve(args.baseline), signal: args.signal ?? 'per-call' });
  }
  const results = new Map(builds.map((b) => [b.name, []]));
  try {
    for (let r = 0; r < runs; r++) {
      for (const build of builds) {
        const { proc, message } = await child('client', { dist: build.dist, url, signal: build.signal });
        await once(proc, 'exit');
        const perCallUs = message.cpuUs / calls;
        results.get(build.name).push(perCallUs);
        console.log(
          `run ${r + 1} ${build.name.padEnd(8)} (${build.signal} signal): ${perCallUs.toFixed(1)} µs CPU/call, ` +
            `${Math.round((calls / message.wallMs) * 1000)} calls/s`,
        );
      }
    }
  } finally {
    server.proc.disconnect();
  }
  for (const [name, values] of results) {
    const sorted = [...values].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    console.log(
      `${name}: median ${median.toFixed(1)} µs CPU/call over ${values.length} runs (${values.map((v) => v.toFixed(1)).join(', ')})`,
    );
  }
}

if (args.role === 'server') await runServer();
else if (args.role === 'client') await runClient();
else await main();
