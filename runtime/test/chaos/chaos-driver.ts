// Drives the exactly-once chaos scenario: runtime processes in production mode (`statefun run`
// on the real Kafka broker and Redis) consume events from a Kafka ingress through a counter
// function with delayed messages and Kafka egress, while processes are killed with SIGKILL and
// restarted. Verifies every key's count, every egress record exactly once and every delayed
// message fired exactly once.
import '../../src/log/kafka/kafkajs-patch.js';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import type { EgressMessage, FromFunction, ToFunction } from '@continuum/sdk/protocol';
import { decodeToFunction, encodeFromFunction } from '@continuum/sdk/protocol';
import { appendEndMarkers, END_MARKER_HEADER, RuntimeFleet, waitUntil } from '@continuum/test-infra';
import { intValue, kafkaEgress, readInt, INT } from '../core/harness.js';
import { fromInternalRecord } from '../../src/core/envelope.js';

export interface ChaosOptions {
  brokers: string[];
  redisUrl: string;
  processes: number;
  events: number;
  keys: number;
  /** Kills by the driver (SIGKILL of a random process, then restart). */
  kills: number;
  killEveryMs: [min: number, max: number];
  /** Probability per checkpoint that a process kills itself between stage and commit. */
  crashAfterStage: number;
  crashAfterCommit: number;
  /** Every n-th event also schedules a delayed message. */
  delayedEvery: number;
  partitions: number;
  timeoutMs: number;
  /** How long input production is spread over (default: the span of the kills). */
  produceOverMs?: number | undefined;
  /** Further faults at fixed times after the start of production. */
  schedule?:
    { atMs: number; name: string; run: (ctl: ChaosControl) => Promise<unknown> | void }[] | undefined;
  log?: (line: string) => void;
}

/** What scheduled faults can do to the runtime processes. */
export interface ChaosControl {
  /** Number of process slots (some may be stopped). */
  readonly slots: number;
  /** SIGKILL a process and start it again. */
  kill(slot: number): void;
  /** SIGSTOP a process (a zombie once its partitions move) ... */
  freeze(slot: number): void;
  /** ... and SIGCONT it. */
  thaw(slot: number): void;
  /** Start one more process; returns its slot. */
  add(): number;
  /**
   * SIGTERM a process (graceful: final checkpoint, leave the group) and do not restart it;
   * resolves with the milliseconds until it exited (SIGKILL after `killAfterMs`, a problem).
   */
  remove(slot: number, killAfterMs?: number): Promise<number>;
  /** Egress records seen so far. */
  progress(): number;
}

export interface ChaosReport {
  events: number;
  keys: number;
  egressRecords: number;
  delayedFired: number;
  kills: number;
  selfCrashes: number;
  restarts: number;
  faults: string[];
  durationMs: number;
  /** Produce → egress visible (read_committed) per event. */
  latencyMs: { p50: number; p99: number; max: number };
  /** Events per second from the first produce to the last egress record. */
  throughputPerSec: number;
  /**
   * Distinct ingress records (source partition and offset) the internal topic holds at the end:
   * fewer than the events when processes handed records to their own tasks instead.
   */
  ingressRecordsInLog: number;
  problems: string[];
}

/** The counter: state n per key; egress `key|id|n`; every n-th event a delayed message to itself. */
function counterHandler(outTopic: string, delayedEvery: number): (req: ToFunction) => FromFunction {
  return (req) => {
    const inv = req.invocation!;
    if (!inv.state.some((s) => s.stateName === 'n')) {
      return { incompleteInvocationContext: { missingValues: [{ stateName: 'n', typeTypename: INT }] } };
    }
    let n = readInt(inv.state.find((s) => s.stateName === 'n')!.stateValue) ?? 0;
    const egress: EgressMessage[] = [];
    const delayed: NonNullable<FromFunction['invocationResult']>['delayedInvocations'] = [];
    for (const i of inv.invocations) {
      const text = Buffer.from(i.argument.value).toString('utf8');
      if (i.argument.typename === 'chaos/Delayed') {
        egress.push(kafkaEgress(outTopic, inv.target.id, `delayed|${text}`));
        continue;
      }
      n += 1;
      egress.push(kafkaEgress(outTopic, inv.target.id, `${inv.target.id}|${text}|${n}`));
      const seq = Number(text.slice(1));
      if (delayedEvery > 0 && seq % delayedEvery === 0) {
        delayed.push({
          isCancellationRequest: false,
          cancellationToken: `d-${text}`,
          delayInMs: 300,
          target: inv.target,
          argument: { typename: 'chaos/Delayed', hasValue: true, value: Buffer.from(text) },
        });
      }
    }
    return {
      invocationResult: {
        stateMutations: [{ mutationType: 1, stateName: 'n', stateValue: intValue(n) }],
        outgoingMessages: [],
        delayedInvocations: delayed,
        outgoingEgresses: egress.map((e) => ({ ...e, egressNamespace: 'chaos', egressType: 'out' })),
      },
    };
  };
}

async function serveFunction(
  handler: (req: ToFunction) => FromFunction,
): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const out = encodeFromFunction(handler(decodeToFunction(Buffer.concat(chunks))));
        res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.from(out));
      } catch (err) {
        res.writeHead(500).end(String(err));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  return { server, port: typeof addr === 'object' && addr !== null ? addr.port : 0 };
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const log = opts.log ?? ((l: string) => process.stdout.write(l + '\n'));
  const started = Date.now();
  const id = randomUUID().slice(0, 8);
  const names = {
    input: `chaos-in-${id}`,
    out: `chaos-out-${id}`,
    dlq: `chaos-dlq-${id}`,
    internal: `chaos-internal-${id}`,
    group: `chaos-${id}`,
    prefix: `chaos-${id}`,
  };
  const kafka = new Kafka({ brokers: opts.brokers, logLevel: logLevel.NOTHING, clientId: 'chaos-driver' });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic: names.input, numPartitions: 4 },
      { topic: names.out, numPartitions: 3 },
      { topic: names.dlq, numPartitions: 1 },
    ],
  });
  const fn = await serveFunction(counterHandler(names.out, opts.delayedEvery));
  const dir = mkdtempSync(join(tmpdir(), 'continuum-chaos-'));
  const moduleFile = join(dir, 'module.yaml');
  writeFileSync(
    moduleFile,
    [
      'kind: io.statefun.endpoints.v2/http',
      'spec:',
      '  functions: chaos/*',
      `  urlPathTemplate: http://127.0.0.1:${fn.port}/{function.name}`,
      '  transport:',
      '    call: 30s',
      '---',
      'kind: io.statefun.kafka.v1/ingress',
      'spec:',
      '  id: chaos/in',
      `  address: ${opts.brokers.join(',')}`,
      '  startupPosition:',
      '    type: earliest',
      '  topics:',
      `    - topic: ${names.input}`,
      '      valueType: chaos/Event',
      '      targets: [chaos/counter]',
      '---',
      'kind: io.statefun.kafka.v1/egress',
      'spec:',
      '  id: chaos/out',
      `  address: ${opts.brokers.join(',')}`,
      '  deliverySemantic:',
      '    type: exactly-once',
      '    transactionTimeout: 1min',
      '',
    ].join('\n'),
  );

  const report: ChaosReport = {
    events: opts.events,
    keys: opts.keys,
    egressRecords: 0,
    delayedFired: 0,
    kills: 0,
    selfCrashes: 0,
    restarts: 0,
    faults: [],
    durationMs: 0,
    latencyMs: { p50: 0, p99: 0, max: 0 },
    throughputPerSec: 0,
    ingressRecordsInLog: 0,
    problems: [],
  };
  const logDir = process.env.CHAOS_LOG_DIR;
  const fleet = new RuntimeFleet({ ...opts, moduleFile, names, logDir });

  // Collect the egress with read_committed.
  const seen = new Map<string, number>();
  const delivered = new Set<string>();
  const egressAt = new Map<string, number>();
  const producedAt = new Map<string, number>();
  const endMarkers = new Set<string>();
  const consumer: Consumer = kafka.consumer({ groupId: `chaos-reader-${id}`, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topics: [names.out, names.dlq], fromBeginning: true });
  let dlq = 0;
  await consumer.run({
    eachMessage: ({ topic, partition, message }) => {
      // The reader's own group may hand it records again after a rebalance or restart of the
      // consumer: count every record (topic, partition, offset) once, so that only a value that
      // sits at two different offsets counts as a duplicate.
      if (message.headers?.[END_MARKER_HEADER] !== undefined) {
        endMarkers.add(`${topic}/${partition}`);
        return Promise.resolve();
      }
      const at = `${topic}/${partition}@${message.offset}`;
      if (delivered.has(at)) return Promise.resolve();
      delivered.add(at);
      if (topic === names.dlq) {
        dlq++;
        report.problems.push(`dead letter: ${message.headers?.['continuum.dlq.reason']?.toString() ?? '?'}`);
        return Promise.resolve();
      }
      const v = message.value?.toString() ?? '';
      seen.set(v, (seen.get(v) ?? 0) + 1);
      const event = v.split('|')[1];
      if (event !== undefined && !v.startsWith('delayed|') && !egressAt.has(event))
        egressAt.set(event, Date.now());
      return Promise.resolve();
    },
  });

  // Produce the input, paced so that it spans the kills: kills then land mid-stream.
  // Idempotent, and each batch is sent again until the broker takes it: a broker restart outlasts
  // kafkajs' own retries, and a batch sent twice must not count twice.
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const perKey = new Array<number>(opts.keys).fill(0);
  const spanMs = opts.produceOverMs ?? opts.kills * ((opts.killEveryMs[0] + opts.killEveryMs[1]) / 2);
  const productionStart = Date.now();
  const batch = 100;
  const pauseMs = spanMs / Math.max(1, Math.ceil(opts.events / batch));
  const producing = (async () => {
    for (let i = 0; i < opts.events; i += batch) {
      const messages: { key: string; value: string }[] = [];
      for (let j = i; j < Math.min(i + batch, opts.events); j++) {
        perKey[j % opts.keys]!++;
        messages.push({ key: `k${j % opts.keys}`, value: `e${j}` });
      }
      const now = Date.now();
      for (const m of messages) producedAt.set(m.value, now);
      await sendPatiently(() => producer.send({ topic: names.input, messages }), log);
      await new Promise((r) => setTimeout(r, pauseMs));
    }
    await producer.disconnect();
  })();
  const delayedExpected = opts.delayedEvery > 0 ? Math.floor((opts.events - 1) / opts.delayedEvery) + 1 : 0;
  const expected = opts.events + delayedExpected;
  log(
    `chaos: ${opts.events} events over ${opts.keys} keys in ~${(spanMs / 1000).toFixed(0)} s, ${opts.processes} processes, expecting ${expected} egress records`,
  );

  const ctl: ChaosControl = {
    get slots() {
      return fleet.slots;
    },
    kill: (slot) => void fleet.kill(slot),
    freeze: (slot) => fleet.freeze(slot),
    thaw: (slot) => fleet.thaw(slot),
    add: () => fleet.add(),
    remove: (slot, killAfterMs) => fleet.remove(slot, killAfterMs),
    progress: () => seen.size,
  };

  // Faults until everything arrived or time is up.
  const deadline = started + opts.timeoutMs;
  const pending = [...(opts.schedule ?? [])].sort((a, b) => a.atMs - b.atMs);
  let nextKill = Date.now() + rand(opts.killEveryMs);
  let driverKills = 0;
  while (Date.now() < deadline) {
    if (seen.size >= expected && pending.length === 0) break;
    const due = pending[0];
    if (due !== undefined && Date.now() - productionStart >= due.atMs) {
      pending.shift();
      log(`chaos: ${due.name} at ${seen.size}/${expected} egress records`);
      report.faults.push(due.name);
      await due.run(ctl);
    }
    if (driverKills < opts.kills && Date.now() >= nextKill) {
      const slot = Math.floor(Math.random() * fleet.slots);
      if (fleet.running(slot)) {
        fleet.kill(slot);
        driverKills++;
        log(
          `chaos: killed process ${slot} (kill ${driverKills}/${opts.kills}), ${seen.size}/${expected} egress records so far`,
        );
      }
      nextKill = Date.now() + rand(opts.killEveryMs);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (seen.size < expected) report.problems.push(`timed out with ${seen.size}/${expected} egress records`);
  await producing;
  // Late duplicates, if any, are counted once nothing more can arrive: the fleet stopped (no
  // transaction open) and the reader saw an end marker behind every record of every partition.
  await fleet.stopGracefully();
  const markers = await appendEndMarkers(kafka, [names.out, names.dlq]);
  await waitUntil(() => endMarkers.size >= markers, {
    timeoutMs: 60_000,
    what: 'the reader to see the end marker of every output partition',
  });
  fleet.stop();
  report.ingressRecordsInLog = await ingressRecordsInLog(kafka, names.internal);
  report.kills = fleet.kills;
  report.selfCrashes = fleet.selfCrashes;
  report.restarts = fleet.restarts;
  report.problems.push(...fleet.problems);
  await consumer.disconnect();
  await admin.disconnect();
  await new Promise<void>((r) => fn.server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });

  // Verify.
  const problems = report.problems;
  for (const [value, count] of seen)
    if (count > 1) problems.push(`egress record "${value}" appeared ${count} times`);
  const countsByKey = new Map<string, number[]>();
  const eventsSeen = new Set<string>();
  let delayedFired = 0;
  for (const value of seen.keys()) {
    const parts = value.split('|');
    if (parts[0] === 'delayed') {
      delayedFired++;
      continue;
    }
    const [key, event, n] = parts as [string, string, string];
    eventsSeen.add(event);
    const list = countsByKey.get(key) ?? [];
    list.push(Number(n));
    countsByKey.set(key, list);
  }
  for (let j = 0; j < opts.events; j++)
    if (!eventsSeen.has(`e${j}`)) problems.push(`event e${j} has no egress record`);
  for (let k = 0; k < opts.keys; k++) {
    const ns = (countsByKey.get(`k${k}`) ?? []).sort((a, b) => a - b);
    const want = Array.from({ length: perKey[k]! }, (_, i) => i + 1);
    if (ns.join(',') !== want.join(','))
      problems.push(
        `key k${k}: counter values ${ns.length} [${ns.slice(0, 5).join(',')}…] instead of 1..${perKey[k]}`,
      );
  }
  if (delayedFired !== delayedExpected)
    problems.push(`${delayedFired} delayed messages fired, expected ${delayedExpected}`);
  if (dlq > 0) problems.push(`${dlq} dead letters`);
  const latencies: number[] = [];
  let first = Infinity;
  let last = 0;
  for (const [event, at] of egressAt) {
    const sent = producedAt.get(event);
    if (sent === undefined) continue;
    latencies.push(at - sent);
    first = Math.min(first, sent);
    last = Math.max(last, at);
  }
  latencies.sort((a, b) => a - b);
  const pct = (q: number): number =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  report.latencyMs = { p50: pct(0.5), p99: pct(0.99), max: latencies[latencies.length - 1] ?? 0 };
  report.throughputPerSec = last > first ? Math.round((latencies.length * 1000) / (last - first)) : 0;
  if (problems.length > 0 && logDir !== undefined) {
    await dumpTopics(kafka, [names.internal, names.out], join(logDir, 'topics.txt'));
  }
  report.egressRecords = seen.size;
  report.delayedFired = delayedFired;
  report.durationMs = Date.now() - started;
  log(
    `chaos: checked ${opts.events} events over ${opts.keys} keys, ${report.egressRecords} egress records, ` +
      `${delayedFired}/${delayedExpected} delayed messages; ${report.kills} kills, ${report.selfCrashes} self-crashes at crash points, ` +
      `${report.restarts} restarts in ${(report.durationMs / 1000).toFixed(1)} s; ${report.ingressRecordsInLog} ingress records went through the internal topic; ${problems.length} problem(s)`,
  );
  return report;
}

/** Debugging aid: every committed record of the topics, with headers, one line each. */
/** Distinct ingress records (source, offset) in the internal topic, read committed to its end. */
async function ingressRecordsInLog(kafka: Kafka, topic: string): Promise<number> {
  const markers = await appendEndMarkers(kafka, [topic]);
  const sources = new Set<string>();
  let ends = 0;
  const consumer = kafka.consumer({ groupId: `chaos-internal-${randomUUID()}`, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: ({ partition, message }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
      if (headers[END_MARKER_HEADER] !== undefined) ends++;
      else if (message.key !== null && message.value !== null) {
        try {
          const env = fromInternalRecord({
            topic,
            partition,
            offset: Number(message.offset),
            key: message.key.toString(),
            value: message.value,
            headers,
            timestamp: Number(message.timestamp),
          });
          if (env.source !== undefined) sources.add(`${env.source.name}@${env.source.offset}`);
        } catch {
          // Not an internal message record (nothing else is written there by this test).
        }
      }
      return Promise.resolve();
    },
  });
  await waitUntil(() => ends >= markers, { timeoutMs: 60_000, what: 'the end of the internal topic' });
  await consumer.disconnect();
  return sources.size;
}

async function dumpTopics(kafka: Kafka, topics: string[], file: string): Promise<void> {
  const consumer = kafka.consumer({ groupId: `chaos-dump-${randomUUID()}`, readUncommitted: false });
  const lines: string[] = [];
  let last = Date.now();
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  await consumer.run({
    eachMessage: ({ topic, partition, message }) => {
      last = Date.now();
      const headers = Object.entries(message.headers ?? {})
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(',');
      lines.push(
        `${topic} ${partition} ${message.offset} key=${message.key?.toString() ?? 'null'} [${headers}] ${message.value?.toString('hex').slice(0, 80) ?? 'null'}`,
      );
      return Promise.resolve();
    },
  });
  while (Date.now() - last < 3000) await new Promise((r) => setTimeout(r, 200));
  await consumer.disconnect();
  writeFileSync(file, lines.join('\n'));
}

function rand([min, max]: [number, number]): number {
  return min + Math.random() * (max - min);
}

/** Retries a send for up to 90 s (a broker restart on a loaded machine), then gives up. */
async function sendPatiently(send: () => Promise<unknown>, log: (line: string) => void): Promise<void> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    try {
      await send();
      return;
    } catch (err) {
      if (Date.now() >= deadline) throw err;
      log(`chaos: producing the input failed (${(err as Error).message}); retrying`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
