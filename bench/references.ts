// The physical-limit references the benchmark divides the runtime's figures by, measured in the
// same run on the same machine: (a) the broker and the client library alone — transactional
// produce → read_committed consume, and one exactly-once hop (read_committed consume → produce with
// the offsets in the same transaction) — and (b) the function endpoint alone, driven with batched
// ToFunction requests over HTTP, no Kafka.
import '@continuum/runtime/kafkajs-patch';
import { Agent, request } from 'node:http';
import { createKafkaClient, createTopic, uniqueName } from '@continuum/test-infra';
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import {
  decodeFromFunction,
  decodeInt,
  encodeInt,
  encodeToFunction,
  type ToFunction,
} from '@continuum/sdk/protocol';
import { ResourceMeter, type Roles, type Usage } from './proc-stats.js';

/** One reference measurement. */
export interface ReferenceResult {
  name: string;
  /** Invocations per request of a function reference. */
  batch?: number | undefined;
  events: number;
  eventsPerSec: number;
  usage: Usage;
  problems: string[];
}

/** Options shared by the Kafka references. */
export interface KafkaReferenceOptions {
  brokers: readonly string[];
  records: number;
  partitions: number;
  /** Records per transaction of the producing side. */
  recordsPerTransaction: number;
  /** The processes to account CPU to (broker, redis, ...); the driver is added as `driver`. */
  roles: () => Roles;
  timeoutMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A read_committed reader of `topic` that counts records once per (partition, offset) and
 * remembers when the last one arrived.
 */
async function countingReader(
  kafka: Kafka,
  topic: string,
): Promise<{ consumer: Consumer; count: () => number; lastAt: () => number }> {
  const consumer = kafka.consumer({
    groupId: uniqueName('bench-ref-reader'),
    readUncommitted: false,
    maxWaitTimeInMs: 500,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const next = new Map<number, string>();
  let count = 0;
  let lastAt = 0;
  await consumer.run({
    eachBatch: ({ batch }: EachBatchPayload) => {
      for (const m of batch.messages) {
        // Records can come again after a rebalance of the reader's own group: count offsets once.
        const seen = next.get(batch.partition);
        if (seen !== undefined && BigInt(m.offset) < BigInt(seen)) continue;
        next.set(batch.partition, (BigInt(m.offset) + 1n).toString());
        count++;
      }
      if (batch.messages.length > 0) lastAt = Date.now();
      return Promise.resolve();
    },
  });
  return { consumer, count: () => count, lastAt: () => lastAt };
}

async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

/**
 * (a) Transactional produce → read_committed consume of `records` records over `partitions`
 * partitions, then (a′) one exactly-once hop over those records: a read_committed consumer whose
 * every fetched batch is produced to a second topic in a transaction that also commits the
 * consumer's offsets (what an exactly-once pipeline stage does at the least, with no function and
 * no state). Events/s from the first send (a) or the hop's start (a′) to the last record read.
 */
export async function kafkaReferences(opts: KafkaReferenceOptions): Promise<ReferenceResult[]> {
  const kafka = createKafkaClient(opts.brokers, { clientId: 'bench-ref' });
  const source = uniqueName('bench-ref-a');
  const hopped = uniqueName('bench-ref-hop');
  await createTopic(opts.brokers, source, opts.partitions);
  await createTopic(opts.brokers, hopped, opts.partitions);
  const roles = (): Roles => ({ ...opts.roles(), driver: [process.pid] });
  const results: ReferenceResult[] = [];

  // (a) produce → consume.
  const reader = await countingReader(kafka, source);
  const producers = await Promise.all(
    [0, 1].map(async (i) => {
      const p = kafka.producer({
        transactionalId: uniqueName(`bench-ref-txn-${i}`),
        idempotent: true,
        maxInFlightRequests: 1,
      });
      await p.connect();
      return p;
    }),
  );
  const value = Buffer.alloc(8, 'x');
  let meter = new ResourceMeter(roles);
  const started = Date.now();
  // Two producers each commit their own transactions, so the broker sees overlapping ones as the
  // runtime's many partition producers make it see.
  await Promise.all(
    producers.map(async (producer, i) => {
      for (let at = i * opts.recordsPerTransaction; at < opts.records; at += 2 * opts.recordsPerTransaction) {
        const txn = await producer.transaction();
        const messages = [];
        for (let j = at; j < Math.min(at + opts.recordsPerTransaction, opts.records); j++)
          messages.push({ key: `k${j % 1000}`, value });
        await txn.send({ topic: source, messages });
        await txn.commit();
      }
    }),
  );
  const problems: string[] = [];
  if (!(await until(() => reader.count() >= opts.records, opts.timeoutMs)))
    problems.push(`read ${reader.count()}/${opts.records} records`);
  let usage = meter.stop();
  results.push({
    name: 'kafka: transactional produce → read_committed consume',
    events: reader.count(),
    eventsPerSec: rate(reader.count(), reader.lastAt() - started),
    usage,
    problems,
  });
  await reader.consumer.disconnect();
  await Promise.all(producers.map((p) => p.disconnect()));

  // (a′) one exactly-once hop: source → hopped.
  const hopGroup = uniqueName('bench-ref-hop-group');
  const hopReader = await countingReader(kafka, hopped);
  const hopProducer = kafka.producer({
    transactionalId: uniqueName('bench-ref-hop-txn'),
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await hopProducer.connect();
  const hop = kafka.consumer({ groupId: hopGroup, readUncommitted: false, maxWaitTimeInMs: 500 });
  await hop.connect();
  await hop.subscribe({ topics: [source], fromBeginning: true });
  meter = new ResourceMeter(roles);
  // From the first batch fetched, as the runtime's drain counts from its first consume.
  let hopStarted = 0;
  await hop.run({
    autoCommit: false,
    eachBatch: async ({ batch }: EachBatchPayload) => {
      const last = batch.messages[batch.messages.length - 1];
      if (last === undefined) return;
      if (hopStarted === 0) hopStarted = Date.now();
      const txn = await hopProducer.transaction();
      try {
        await txn.send({
          topic: hopped,
          messages: batch.messages.map((m) => ({ key: m.key, value: m.value })),
        });
        await txn.sendOffsets({
          consumerGroupId: hopGroup,
          topics: [
            {
              topic: batch.topic,
              partitions: [{ partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() }],
            },
          ],
        });
        await txn.commit();
      } catch (err) {
        await txn.abort().catch(() => undefined);
        throw err;
      }
    },
  });
  const hopProblems: string[] = [];
  if (!(await until(() => hopReader.count() >= opts.records, opts.timeoutMs)))
    hopProblems.push(`hop delivered ${hopReader.count()}/${opts.records} records`);
  usage = meter.stop();
  results.push({
    name: 'kafka: one exactly-once hop (consume → transactional produce + offsets)',
    events: hopReader.count(),
    eventsPerSec: rate(hopReader.count(), hopReader.lastAt() - hopStarted),
    usage,
    problems: hopProblems,
  });
  await hop.disconnect();
  await hopProducer.disconnect();
  await hopReader.consumer.disconnect();
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [source, hopped] }).catch(() => undefined);
  await admin.disconnect();
  return results;
}

/** Options of {@link functionReference}. */
export interface FunctionReferenceOptions {
  /** Base URL of the function endpoint, e.g. `http://127.0.0.1:41234/`. */
  url: string;
  events: number;
  keys: number;
  /** Invocations per ToFunction request (one address per request, as the runtime batches). */
  batch: number;
  /** Requests in flight at once. */
  concurrency: number;
  roles: () => Roles;
  label: string;
}

const INT = 'io.statefun.types/int';

/**
 * (b) The counter function alone: `events` messages over `keys` addresses in ToFunction requests
 * of `batch` invocations each, `concurrency` in flight over keep-alive connections, the state of
 * every address carried from its previous response as the runtime does. Checks that every
 * response counts on from the state it was given and sends one egress record per invocation.
 */
export async function functionReference(opts: FunctionReferenceOptions): Promise<ReferenceResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency });
  const url = new URL('bench/counter', opts.url);
  const counts = new Array<number>(opts.keys).fill(0);
  const problems: string[] = [];
  // Work in rounds: in round r every address gets its r-th batch, so no address has two requests
  // in flight and each request carries the state the previous one returned.
  const perKey = Math.ceil(opts.events / opts.keys);
  const rounds = Math.ceil(perKey / opts.batch);
  let seq = 0;
  let sent = 0;
  const meter = new ResourceMeter(() => ({ ...opts.roles(), driver: [process.pid] }));
  const started = Date.now();
  for (let r = 0; r < rounds && sent < opts.events; r++) {
    const jobs: { key: number; invocations: number }[] = [];
    for (let k = 0; k < opts.keys && sent < opts.events; k++) {
      const n = Math.min(opts.batch, perKey - r * opts.batch, opts.events - sent);
      if (n <= 0) continue;
      jobs.push({ key: k, invocations: n });
      sent += n;
    }
    let next = 0;
    await Promise.all(
      Array.from({ length: opts.concurrency }, async () => {
        for (let j = next++; j < jobs.length; j = next++) {
          const job = jobs[j]!;
          const before = counts[job.key]!;
          const req: ToFunction = {
            invocation: {
              target: { namespace: 'bench', type: 'counter', id: `k${job.key}` },
              state: [
                {
                  stateName: 'count',
                  stateValue:
                    before === 0 ? undefined : { typename: INT, hasValue: true, value: encodeInt(before) },
                },
              ],
              invocations: Array.from({ length: job.invocations }, () => ({
                argument: { typename: 'bench/Event', hasValue: true, value: Buffer.from(String(seq++)) },
              })),
            },
          };
          const res = decodeFromFunction(await post(agent, url, encodeToFunction(req)));
          const result = res.invocationResult;
          const mutation = result?.stateMutations.find((m) => m.stateName === 'count');
          const after = mutation?.stateValue === undefined ? undefined : decodeInt(mutation.stateValue.value);
          if (after !== before + job.invocations || result?.outgoingEgresses.length !== job.invocations) {
            if (problems.length < 10)
              problems.push(
                `k${job.key}: count ${before} + ${job.invocations} gave ${after}, ${result?.outgoingEgresses.length} egress records`,
              );
          }
          counts[job.key] = after ?? before;
        }
      }),
    );
  }
  const elapsed = Date.now() - started;
  const usage = meter.stop();
  agent.destroy();
  return {
    name: `function alone (${opts.label}), ${opts.batch} invocations per request, ${opts.concurrency} in flight`,
    batch: opts.batch,
    events: sent,
    eventsPerSec: rate(sent, elapsed),
    usage,
    problems,
  };
}

function post(agent: Agent, url: URL, body: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/octet-stream', 'content-length': body.byteLength },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const out = Buffer.concat(chunks);
          if (res.statusCode !== 200)
            reject(new Error(`function endpoint answered ${res.statusCode}: ${out.toString('utf8')}`));
          else resolve(out);
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const rate = (events: number, ms: number): number => (ms > 0 ? Math.round((events * 1000) / ms) : 0);
