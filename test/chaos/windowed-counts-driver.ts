// Drives the windowed-counts example end to end on the real Kafka broker and Redis: `statefun run`
// processes (production mode) read a Kafka topic of events with a known bound on their disorder,
// the example's counter (served with our SDK) emits one result per key and window when the
// watermark closes it, an official StateFun SDK function counts the same events alongside, and
// processes may be killed and restarted meanwhile. The report lists every difference from the
// results computed offline from the same input.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as OfficialStateFun from 'apache-flink-statefun';
import type { Consumer } from 'kafkajs';
import { serve, type ServerHandle } from '@continuum/sdk';
import {
  offlineCounts,
  RESULTS_EGRESS,
  WINDOW_MS,
  windowedCountsFunction,
  WINDOWED_COUNTS,
  type LateEvent,
  type WindowCount,
} from '@continuum/example-windowed-counts';
import {
  appendEndMarkers,
  createKafkaClient,
  createTopic,
  END_MARKER_HEADER,
  readTopic,
} from '../infra/helpers.js';
import { RuntimeFleet } from '../infra/runtime-fleet.js';
import { waitUntil } from '../infra/wait-until.js';

const official = createRequire(import.meta.url)('apache-flink-statefun') as typeof OfficialStateFun;

export interface WindowedRunOptions {
  brokers: string[];
  redisUrl: string;
  /** Runtime processes sharing the work. */
  processes: number;
  /** Partitions of the internal topic. */
  partitions: number;
  /** Partitions of the input topic; those in `idleInputPartitions` never get a record. */
  inputPartitions: number;
  idleInputPartitions?: number[] | undefined;
  keys: number;
  events: number;
  /** Event time advances this much per event (before disorder). */
  stepMs: number;
  /** Bound on disorder: each event is at most this much older than the newest one before it. */
  disorderMs: number;
  /** `idleTimeout` of the ingress. */
  idleTimeoutMs: number;
  /** How long producing the input takes. */
  produceOverMs: number;
  /** Kills by the driver (SIGKILL of a random process, then restart), spread over production. */
  kills: number;
  /** Probability per checkpoint that a process kills itself between stage and commit / commit and promote. */
  crashAfterStage?: number | undefined;
  crashAfterCommit?: number | undefined;
  /** Also run an official StateFun JS SDK function on the same events. */
  official?: boolean | undefined;
  /** Once every result arrived: these events (sent after it), which must come out late. */
  lateEvents?: { key: string; eventTime: number }[] | undefined;
  timeoutMs: number;
  log?: ((line: string) => void) | undefined;
}

export interface WindowedReport {
  expected: WindowCount[];
  results: WindowCount[];
  late: LateEvent[];
  officialRecords: number;
  kills: number;
  selfCrashes: number;
  durationMs: number;
  problems: string[];
}

interface Event {
  key: string;
  eventTime: number;
  seq: number;
  partition: number;
}

/** A reproducible stream: event i at `T0 + i·step − r`, r ≤ the bound, so the disorder is bounded. */
export function boundedDisorderStream(opts: {
  events: number;
  keys: number;
  stepMs: number;
  disorderMs: number;
  partitions: number[];
  t0: number;
  seed: number;
}): Event[] {
  let seed = opts.seed;
  const random = (): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  return Array.from({ length: opts.events }, (_, seq) => {
    const k = Math.floor(random() * opts.keys);
    return {
      key: `k${k}`,
      eventTime: opts.t0 + seq * opts.stepMs - Math.floor(random() * (opts.disorderMs + 1)),
      seq,
      partition: opts.partitions[k % opts.partitions.length]!,
    };
  });
}

/** Invocations of the official counter per key (diagnostics). */
const officialCalls = new Map<string, number>();

async function serveOfficialCounter(topic: string): Promise<{ server: Server; port: number }> {
  const { StateFun, kafkaEgressMessage } = official;
  const Click = StateFun.jsonType<{ seq: number }>('example/Click');
  const sf = new StateFun();
  sf.bind({
    typename: 'official/counter',
    specs: [{ name: 'count', type: StateFun.intType() }],
    fn(ctx, message) {
      officialCalls.set(ctx.self.id, (officialCalls.get(ctx.self.id) ?? 0) + 1);
      const count = ((ctx.storage.count as number | null) ?? 0) + 1;
      ctx.storage.count = count;
      const click = message.as(Click)!;
      ctx.send(
        kafkaEgressMessage({
          typename: 'official/out',
          topic,
          key: ctx.self.id,
          value: `${click.seq}|${count}`,
        }),
      );
    },
  });
  // Served the way its docs show.
  const handle = sf.handler();
  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  return { server, port: typeof a === 'object' && a !== null ? a.port : 0 };
}

export async function runWindowedCounts(opts: WindowedRunOptions): Promise<WindowedReport> {
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const started = Date.now();
  const id = randomUUID().slice(0, 8);
  const names = {
    input: `wc-in-${id}`,
    counts: `wc-counts-${id}`,
    late: `wc-late-${id}`,
    official: `wc-official-${id}`,
    dlq: `wc-dlq-${id}`,
    internal: `wc-internal-${id}`,
    group: `wc-${id}`,
    prefix: `wc-${id}`,
  };
  const problems: string[] = [];
  // WINDOWED_LOG_DIR=<dir> keeps every process's log there (at level info, which also lets the
  // driver find the admin ports and report each process's partitions on a timeout).
  const logDir = process.env.WINDOWED_LOG_DIR;
  await createTopic(opts.brokers, names.input, opts.inputPartitions);
  for (const t of [names.counts, names.late, names.official, names.dlq])
    await createTopic(opts.brokers, t, 1);

  const counter = windowedCountsFunction(WINDOWED_COUNTS, 'kafka', {
    counts: names.counts,
    late: names.late,
  });
  const fn: ServerHandle = await serve({ functions: [counter], port: 0, host: '127.0.0.1', logger: false });
  const officialFn = opts.official === true ? await serveOfficialCounter(names.official) : undefined;
  const dir = mkdtempSync(join(tmpdir(), 'continuum-windowed-'));
  const moduleFile = join(dir, 'module.yaml');
  const brokers = opts.brokers.join(',');
  writeFileSync(
    moduleFile,
    [
      'kind: io.statefun.endpoints.v2/http',
      'spec:',
      '  functions: example/*',
      `  urlPathTemplate: http://127.0.0.1:${fn.port}/{function.name}`,
      '  transport: {call: 30s}',
      ...(officialFn === undefined
        ? []
        : [
            '---',
            'kind: io.statefun.endpoints.v2/http',
            'spec:',
            '  functions: official/*',
            `  urlPathTemplate: http://127.0.0.1:${officialFn.port}/{function.name}`,
            '---',
            'kind: io.statefun.kafka.v1/egress',
            `spec: {id: official/out, address: "${brokers}", deliverySemantic: {type: exactly-once, transactionTimeout: 1min}}`,
          ]),
      '---',
      'kind: io.statefun.kafka.v1/ingress',
      'spec:',
      '  id: example/clicks',
      `  address: "${brokers}"`,
      '  startupPosition: {type: earliest}',
      '  eventTime:',
      `    maxOutOfOrderness: ${opts.disorderMs}ms`,
      `    idleTimeout: ${opts.idleTimeoutMs}ms`,
      '    extractor: {type: json-field, field: ts}',
      '  topics:',
      `    - topic: ${names.input}`,
      '      valueType: example/Click',
      `      targets: [${WINDOWED_COUNTS}${officialFn === undefined ? '' : ', official/counter'}]`,
      '---',
      'kind: io.statefun.kafka.v1/egress',
      `spec: {id: ${RESULTS_EGRESS}, address: "${brokers}", deliverySemantic: {type: exactly-once, transactionTimeout: 1min}}`,
      '',
    ].join('\n'),
  );

  // Runtime processes, restarted when killed.
  const fleet = new RuntimeFleet({ ...opts, moduleFile, names, logDir });

  // Read the results as they are committed.
  const kafka = createKafkaClient(opts.brokers, { clientId: 'windowed-driver' });
  const results: WindowCount[] = [];
  const late: LateEvent[] = [];
  const officialSeen = new Map<string, number>();
  const consumer: Consumer = kafka.consumer({
    groupId: `wc-reader-${id}`,
    readUncommitted: false,
    maxWaitTimeInMs: 100,
  });
  await consumer.connect();
  await consumer.subscribe({
    topics: [names.counts, names.late, names.official, names.dlq],
    fromBeginning: true,
  });
  const delivered = new Set<string>();
  const endMarkers = new Set<string>();
  const resultOffsets = new Map<string, string[]>();
  await consumer.run({
    eachMessage: ({ topic, partition, message }) => {
      // The reader's own group may hand it records again (a rebalance or a restart of its
      // consumer under load): each record (topic, partition, offset) counts once, so that only a
      // result at two different offsets is a duplicate.
      if (message.headers?.[END_MARKER_HEADER] !== undefined) {
        endMarkers.add(`${topic}/${partition}`);
        return Promise.resolve();
      }
      const at = `${topic}/${partition}@${message.offset}`;
      if (delivered.has(at)) return Promise.resolve();
      delivered.add(at);
      const text = message.value?.toString() ?? '';
      if (topic === names.counts) {
        const result = JSON.parse(text) as WindowCount;
        results.push(result);
        const k = `${result.key}@${result.start}`;
        resultOffsets.set(k, [...(resultOffsets.get(k) ?? []), message.offset]);
      } else if (topic === names.late) late.push(JSON.parse(text) as LateEvent);
      else if (topic === names.official) {
        const k = `${message.key?.toString() ?? ''}|${text}`;
        officialSeen.set(k, (officialSeen.get(k) ?? 0) + 1);
      } else {
        problems.push(`dead letter: ${message.headers?.['continuum.dlq.reason']?.toString() ?? '?'}`);
      }
      return Promise.resolve();
    },
  });

  // The input, and one flush event per fed partition far ahead, so every real window closes.
  const idle = new Set(opts.idleInputPartitions ?? []);
  const fed = Array.from({ length: opts.inputPartitions }, (_, p) => p).filter((p) => !idle.has(p));
  const t0 = Math.floor(Date.parse('2024-05-01T12:00:00Z') / WINDOW_MS) * WINDOW_MS;
  const events = boundedDisorderStream({ ...opts, partitions: fed, t0, seed: 7 });
  const maxTime = Math.max(...events.map((e) => e.eventTime));
  const flushTime = maxTime + 2 * WINDOW_MS + opts.disorderMs;
  const expected = offlineCounts(events);
  const producer = kafka.producer();
  await producer.connect();
  const batches = Math.max(1, Math.ceil(opts.events / 50));
  const pauseMs = opts.produceOverMs / batches;
  const killAt = new Set(
    Array.from({ length: opts.kills }, (_, i) => Math.floor(((i + 1) * batches) / (opts.kills + 1))),
  );
  log(
    `windowed: ${opts.events} events over ${opts.keys} keys, disorder ≤ ${opts.disorderMs} ms, ${expected.length} windows expected, ` +
      `${opts.processes} processes, ${opts.kills} kills`,
  );
  const value = (e: { eventTime: number; seq: number }): string =>
    JSON.stringify({ ts: e.eventTime, seq: e.seq });
  for (let b = 0; b < batches; b++) {
    const slice = events.slice(b * 50, (b + 1) * 50);
    await producer.send({
      topic: names.input,
      messages: slice.map((e) => ({ key: e.key, value: value(e), partition: e.partition })),
    });
    if (killAt.has(b)) {
      const slot = Math.floor(Math.random() * fleet.slots);
      if (fleet.kill(slot)) log(`windowed: killed process ${slot} after ${(b + 1) * 50} events`);
    }
    await new Promise((r) => setTimeout(r, pauseMs));
  }
  await producer.send({
    topic: names.input,
    messages: fed.map((p) => ({
      key: `flush-${p}`,
      value: value({ eventTime: flushTime, seq: -1 }),
      partition: p,
    })),
  });

  const deadline = started + opts.timeoutMs;
  const until = async (cond: () => boolean): Promise<boolean> => {
    while (!cond()) {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 100));
    }
    return true;
  };
  const officialExpected = officialFn === undefined ? 0 : events.length + fed.length;
  if (!(await until(() => results.length >= expected.length && officialSeen.size >= officialExpected))) {
    problems.push(
      `timed out with ${results.length}/${expected.length} window results, ${officialSeen.size}/${officialExpected} official records`,
    );
    // Which addresses got how many records, in which internal partitions.
    try {
      const internal = await readTopic(opts.brokers, names.internal, { timeoutMs: 20_000 });
      const byKey = new Map<string, { n: number; partitions: Set<number> }>();
      for (const r of internal) {
        const k = r.key?.toString() ?? '(null)';
        const e = byKey.get(k) ?? { n: 0, partitions: new Set<number>() };
        e.n++;
        e.partitions.add(r.partition);
        byKey.set(k, e);
      }
      problems.push(
        `internal topic: ${internal.length} records; ${JSON.stringify([...byKey].map(([k, e]) => [k, e.n, [...e.partitions]]))}`.slice(
          0,
          3000,
        ),
      );
    } catch (err) {
      problems.push(`reading the internal topic failed: ${String(err)}`);
    }
    // What each process says about its partitions, to tell where it got stuck.
    for (const [slot, port] of fleet.adminPorts) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/v1/partitions`);
        problems.push(`process ${slot} partitions: ${(await res.text()).slice(0, 1500)}`);
      } catch (err) {
        problems.push(`process ${slot}: admin API unreachable (${String(err)})`);
      }
    }
  }
  if (opts.lateEvents !== undefined && opts.lateEvents.length > 0) {
    // Every window has closed: these are behind the watermark wherever they land.
    await producer.send({
      topic: names.input,
      messages: opts.lateEvents.map((e, i) => ({
        key: e.key,
        value: value({ eventTime: e.eventTime, seq: -2 - i }),
        partition: fed[0]!,
      })),
    });
    if (!(await until(() => late.length >= opts.lateEvents!.length))) {
      problems.push(`timed out with ${late.length}/${opts.lateEvents.length} late events`);
    }
  }
  await producer.disconnect();
  // Duplicates, if any, are counted once nothing more can arrive: the fleet stopped (no
  // transaction open) and the reader saw an end marker behind every record of every partition.
  await fleet.stopGracefully();
  const markers = await appendEndMarkers(kafka, [names.counts, names.late, names.official, names.dlq]);
  await waitUntil(() => endMarkers.size >= markers, {
    timeoutMs: 60_000,
    what: 'the reader to see the end marker of every output partition',
  }).catch(() => problems.push(`the reader saw ${endMarkers.size}/${markers} end markers`));
  fleet.stop();
  problems.push(...fleet.problems);
  await consumer.disconnect();
  await fn.close();
  if (officialFn !== undefined) await new Promise<void>((r) => officialFn.server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });

  // Compare with the offline results.
  const sorted = [...results].sort((a, b) => a.key.localeCompare(b.key) || a.start - b.start);
  const seen = new Set<string>();
  for (const r of sorted) {
    const k = `${r.key}@${r.start}`;
    if (seen.has(k))
      problems.push(`window ${k} was emitted more than once (offsets ${resultOffsets.get(k)?.join(', ')})`);
    seen.add(k);
  }
  const want = new Map(expected.map((c) => [`${c.key}@${c.start}`, c.count]));
  for (const r of sorted) {
    const w = want.get(`${r.key}@${r.start}`);
    if (w === undefined) problems.push(`unexpected window ${JSON.stringify(r)}`);
    else if (w !== r.count) problems.push(`window ${r.key}@${r.start}: count ${r.count}, offline ${w}`);
  }
  for (const k of want.keys()) if (!seen.has(k)) problems.push(`window ${k} never emitted`);
  const expectedLate = opts.lateEvents?.length ?? 0;
  if (late.length !== expectedLate)
    problems.push(
      `${late.length} late events, expected ${expectedLate}: ${JSON.stringify(late.slice(0, 3))}`,
    );
  if (officialFn !== undefined) {
    for (const [k, n] of officialSeen) if (n > 1) problems.push(`official record ${k} appeared ${n} times`);
    const perKey = new Map<string, number>();
    for (const e of [...events, ...fed.map((p) => ({ key: `flush-${p}` }))])
      perKey.set(e.key, (perKey.get(e.key) ?? 0) + 1);
    const counts = new Map<string, number[]>();
    for (const k of officialSeen.keys()) {
      const [key, , count] = k.split('|') as [string, string, string];
      counts.set(key, [...(counts.get(key) ?? []), Number(count)]);
    }
    for (const [key, n] of perKey) {
      const got = (counts.get(key) ?? []).sort((a, b) => a - b).join(',');
      if (got !== Array.from({ length: n }, (_, i) => i + 1).join(','))
        problems.push(
          `official counter ${key}: counts [${got.slice(0, 40)}…] instead of 1..${n} (${officialCalls.get(key) ?? 0} invocations)`,
        );
    }
  }
  const report: WindowedReport = {
    expected,
    results: sorted,
    late,
    officialRecords: officialSeen.size,
    kills: fleet.kills,
    selfCrashes: fleet.selfCrashes,
    durationMs: Date.now() - started,
    problems,
  };
  log(
    `windowed: ${sorted.length}/${expected.length} windows, ${late.length} late, ${officialSeen.size} official records, ` +
      `${fleet.kills} kills, ${fleet.selfCrashes} self-crashes in ${(report.durationMs / 1000).toFixed(1)} s; ${problems.length} problem(s)`,
  );
  return report;
}
