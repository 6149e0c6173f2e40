// Every code of the dead-letter catalogue is written by the component that owns it (one case per
// code: a code added to the catalogue without a case does not compile), and the README's table
// lists exactly the catalogue.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Address, DelayedInvocation, FromFunction, ToFunction } from '@continuum/sdk/protocol';
import { decodeToFunction, encodeFromFunction } from '@continuum/sdk/protocol';
import { deadLetterCodes, type DeadLetterCode } from '../../src/core/dead-letter-codes.js';
import { Header } from '../../src/core/envelope.js';
import { moduleEgressRouter, moduleFunctionRouter } from '../../src/core/module-routers.js';
import type { FunctionRouter } from '../../src/core/routing.js';
import { routeIngressRecord } from '../../src/core/ingress-routing.js';
import type { LogRecord, OutRecord } from '../../src/log/log.js';
import { EmbeddedLog } from '../../src/log/embedded-log.js';
import { parseModule } from '../../src/module/loader.js';
import type { HttpEndpointConfig } from '../../src/module/types.js';
import { ReplyFeed } from '../../src/request-reply/reply-feed.js';
import { MemoryReplyStore } from '../../src/request-reply/reply-store.js';
import { Runtime } from '../../src/runtime.js';
import { EmbeddedStateStore } from '../../src/state/embedded-state-store.js';
import { HttpFunctionClient } from '../../src/transport/http-function-client.js';
import { INT, emptyResult, intValue, readAll } from './harness.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

const DEAD = 'continuum-dead-letters';
const STRING = 'io.statefun.types/string';

/** What the function service answers for one function type (the path is the type's name). */
type Behaviour = (req: ToFunction) => { status: number; body: Uint8Array };

const ok = (result: FromFunction): { status: number; body: Uint8Array } => ({
  status: 200,
  body: encodeFromFunction(result),
});
const effects = (fill: (r: NonNullable<FromFunction['invocationResult']>) => void): Behaviour => {
  return () => {
    const result = emptyResult();
    fill(result.invocationResult!);
    return ok(result);
  };
};
const delayed = (over: Partial<DelayedInvocation>): DelayedInvocation => ({
  isCancellationRequest: false,
  cancellationToken: '',
  delayInMs: 3_600_000,
  target: { namespace: 'dl', type: 'sink', id: 'x' },
  argument: intValue(1),
  ...over,
});
const hasState = (req: ToFunction, name: string): boolean =>
  req.invocation!.state.some((s) => s.stateName === name);

const behaviours: Record<string, Behaviour> = {
  'state-type-conflict': (req) =>
    ok({
      incompleteInvocationContext: {
        missingValues: [{ stateName: 'n', typeTypename: hasState(req, 'n') ? STRING : INT }],
      },
    }),
  'negotiation-failed': () =>
    ok({ incompleteInvocationContext: { missingValues: [{ stateName: 'n', typeTypename: INT }] } }),
  'response-rejected': effects((r) =>
    r.stateMutations.push({ mutationType: 1, stateName: 'undeclared', stateValue: intValue(1) }),
  ),
  'message-target-invalid': effects((r) =>
    r.outgoingMessages.push({ target: { namespace: 'dl', type: '', id: 'x' }, argument: intValue(1) }),
  ),
  'delayed-invalid': effects((r) => r.delayedInvocations.push(delayed({ delayInMs: -1 }))),
  'cancellation-invalid': effects((r) =>
    r.delayedInvocations.push(delayed({ isCancellationRequest: true, cancellationToken: '' })),
  ),
  // Two with one token: the second finds the first pending.
  'token-reused': effects((r) =>
    r.delayedInvocations.push(delayed({ cancellationToken: 'same' }), delayed({ cancellationToken: 'same' })),
  ),
  // One more than the partition's limit (set to 3 below), then cancelled again so that the other
  // cases find room whatever their order.
  'timer-limit': effects((r) => {
    const tokens = ['t1', 't2', 't3', 't4'];
    for (const t of tokens) r.delayedInvocations.push(delayed({ cancellationToken: t }));
    for (const t of tokens)
      r.delayedInvocations.push(
        delayed({
          isCancellationRequest: true,
          cancellationToken: t,
          target: undefined,
          argument: undefined,
        }),
      );
  }),
  'egress-unknown': effects((r) =>
    r.outgoingEgresses.push({ egressNamespace: 'dl', egressType: 'nowhere', argument: intValue(1) }),
  ),
  'egress-value-invalid': effects((r) =>
    r.outgoingEgresses.push({ egressNamespace: 'dl', egressType: 'out', argument: intValue(1) }),
  ),
  'egress-topic-unknown': effects((r) =>
    r.outgoingEgresses.push({
      egressNamespace: 'io.statefun.playground',
      egressType: 'egress',
      argument: {
        typename: 'io.statefun.playground/EgressRecord',
        hasValue: true,
        value: new TextEncoder().encode(JSON.stringify({ topic: 'undeclared', payload: 1 })),
      },
    }),
  ),
  'call-failed': () => ({ status: 500, body: new Uint8Array() }),
  'status-rejected': () => ({ status: 403, body: new Uint8Array() }),
  'not-found': () => ({ status: 404, body: new Uint8Array() }),
  'message-rejected': () => ({ status: 422, body: new TextEncoder().encode('terminal') }),
  'response-invalid': () => ({ status: 200, body: new Uint8Array([0xff, 0xff, 0xff]) }),
  'response-too-large': () => ({ status: 200, body: new Uint8Array(2048) }),
};

describe('dead-letter codes', () => {
  let server: Server;
  let log: EmbeddedLog;
  let runtime: Runtime;

  /** Sends one message to `type` and waits for a dead letter with `code` (returns its headers). */
  async function letterOf(type: string, code: DeadLetterCode): Promise<Record<string, string>> {
    const [namespace, name] = type.split('/') as [string, string];
    const target: Address = { namespace, type: name, id: 'k' };
    await runtime.send([{ target, argument: intValue(1) }]);
    return letterWith(code);
  }

  async function letterWith(code: DeadLetterCode): Promise<Record<string, string>> {
    let found: Record<string, string> | undefined;
    await waitUntil(
      async () => {
        found = (await readAll(log, DEAD)).find((l) => l.headers[Header.code] === code)?.headers;
        return found !== undefined;
      },
      { timeoutMs: 30_000, what: `a dead letter with code ${code}` },
    );
    return found!;
  }

  /** Routes one ingress record and returns the headers of the dead letter it became. */
  function ingressLetter(record: Partial<LogRecord>, routed: boolean): Record<string, string> | undefined {
    const full: LogRecord = {
      topic: 'in',
      partition: 0,
      offset: 7,
      key: 'k',
      value: new TextEncoder().encode('{"ts": "not a time"}'),
      headers: {},
      timestamp: 1,
      ...record,
    };
    const route = routed ? { topic: 'in', valueType: 'dl/Text', targets: ['dl/sink'] } : undefined;
    const out = routeIngressRecord(
      full,
      route,
      {
        internalTopic: 'internal',
        partitions: 1,
        partitioning: 'address',
        deadLetterTopic: DEAD,
        ingressId: 'dl/in',
        extractor: { type: 'json-field', field: 'ts' },
      },
      1,
    );
    return out.deadLetter ? out.records[0]?.headers : undefined;
  }

  async function replyLetter(prepare: (store: MemoryReplyStore) => Promise<void>): Promise<OutRecord[]> {
    const store = new MemoryReplyStore();
    await prepare(store);
    const written: OutRecord[] = [];
    const feed = new ReplyFeed({
      store,
      deadLetterTopic: DEAD,
      append: (records) => {
        written.push(...records);
        return Promise.resolve();
      },
    });
    await feed.take([
      { requestId: 'r1', typename: INT, value: intValue(1).value, from: 'dl/a/1', origin: 'reply:2' },
    ]);
    return written;
  }
  const request = {
    requestId: 'r1',
    target: 'dl/a/1',
    createdAt: Date.now(),
    retentionMs: 60_000,
    digest: 'd',
  };

  const cases: Record<DeadLetterCode, () => Promise<Record<string, string> | undefined>> = {
    INGRESS_TOPIC_UNKNOWN: () => Promise.resolve(ingressLetter({}, false)),
    INGRESS_KEY_MISSING: () => Promise.resolve(ingressLetter({ key: null }, true)),
    INGRESS_VALUE_MISSING: () => Promise.resolve(ingressLetter({ value: null }, true)),
    INGRESS_EVENT_TIME_INVALID: () => Promise.resolve(ingressLetter({}, true)),
    RECORD_UNDECODABLE: async () => {
      // A key that is no address: the record names no function to keep it in order with.
      await log.append([
        {
          topic: log.internalTopic,
          partition: 0,
          key: 'no address',
          value: new Uint8Array([1]),
          headers: {},
        },
      ]);
      return letterWith('RECORD_UNDECODABLE');
    },
    FUNCTION_UNKNOWN: () => letterOf('nobody/home', 'FUNCTION_UNKNOWN'),
    FUNCTION_CALL_FAILED: () => letterOf('dl/call-failed', 'FUNCTION_CALL_FAILED'),
    FUNCTION_STATUS_REJECTED: () => letterOf('dl/status-rejected', 'FUNCTION_STATUS_REJECTED'),
    FUNCTION_NOT_FOUND: () => letterOf('dl/not-found', 'FUNCTION_NOT_FOUND'),
    FUNCTION_MESSAGE_REJECTED: () => letterOf('dl/message-rejected', 'FUNCTION_MESSAGE_REJECTED'),
    FUNCTION_RESPONSE_INVALID: () => letterOf('ok/response-invalid', 'FUNCTION_RESPONSE_INVALID'),
    FUNCTION_RESPONSE_TOO_LARGE: () => letterOf('ok/response-too-large', 'FUNCTION_RESPONSE_TOO_LARGE'),
    FUNCTION_REQUEST_INVALID: () => letterOf('bad/url', 'FUNCTION_REQUEST_INVALID'),
    STATE_TYPE_CONFLICT: () => letterOf('dl/state-type-conflict', 'STATE_TYPE_CONFLICT'),
    NEGOTIATION_FAILED: () => letterOf('dl/negotiation-failed', 'NEGOTIATION_FAILED'),
    FUNCTION_RESPONSE_REJECTED: () => letterOf('dl/response-rejected', 'FUNCTION_RESPONSE_REJECTED'),
    MESSAGE_TARGET_INVALID: () => letterOf('dl/message-target-invalid', 'MESSAGE_TARGET_INVALID'),
    DELAYED_MESSAGE_INVALID: () => letterOf('dl/delayed-invalid', 'DELAYED_MESSAGE_INVALID'),
    CANCELLATION_INVALID: () => letterOf('dl/cancellation-invalid', 'CANCELLATION_INVALID'),
    CANCELLATION_TOKEN_REUSED: () => letterOf('dl/token-reused', 'CANCELLATION_TOKEN_REUSED'),
    TIMER_LIMIT_REACHED: () => letterOf('dl/timer-limit', 'TIMER_LIMIT_REACHED'),
    EGRESS_UNKNOWN: () => letterOf('dl/egress-unknown', 'EGRESS_UNKNOWN'),
    EGRESS_VALUE_INVALID: () => letterOf('dl/egress-value-invalid', 'EGRESS_VALUE_INVALID'),
    EGRESS_TOPIC_UNKNOWN: () => letterOf('dl/egress-topic-unknown', 'EGRESS_TOPIC_UNKNOWN'),
    REPLY_DUPLICATE: async () => {
      const written = await replyLetter(async (store) => {
        await store.accept(undefined, request);
        await store.complete({
          requestId: 'r1',
          typename: INT,
          value: intValue(0).value,
          from: 'dl/a/1',
          origin: 'reply:1',
        });
      });
      return written[0]?.headers;
    },
    REPLY_REQUEST_GONE: async () => (await replyLetter(() => Promise.resolve()))[0]?.headers,
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const behaviour = behaviours[(req.url ?? '/').slice(1)];
        const answer =
          behaviour === undefined
            ? { status: 404, body: new Uint8Array() }
            : behaviour(decodeToFunction(Buffer.concat(chunks)));
        res.writeHead(answer.status, { 'content-type': 'application/octet-stream' });
        res.end(answer.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const module = parseModule(
      [
        'kind: io.statefun.endpoints.v2/http',
        'spec:',
        '  functions: dl/*',
        `  urlPathTemplate: http://127.0.0.1:${port}/{function.name}`,
        '  transport: {type: io.statefun.transports.v1/async, call: 1s}',
        '---',
        'kind: io.statefun.endpoints.v2/http',
        'spec:',
        '  functions: ok/*',
        `  urlPathTemplate: http://127.0.0.1:${port}/{function.name}`,
        '  transport: {type: io.statefun.transports.v1/okhttp}',
        '---',
        'kind: io.statefun.kafka.v1/egress',
        'spec: {id: dl/out, address: 127.0.0.1:9, deliverySemantic: {type: at-least-once}}',
        '---',
        'kind: io.statefun.playground.v1/egress',
        'spec: {port: 1, topics: [declared]}',
      ].join('\n'),
      'dead-letter-codes.yaml',
    );
    const moduleRouter = moduleFunctionRouter(module);
    // Two endpoints module.yaml cannot declare: a URL the transport rejects, and an okhttp
    // endpoint with a small payload limit (its module.yaml default is 32 MiB).
    const functions: FunctionRouter = {
      resolve(type) {
        if (type === 'bad/url') return { ...moduleRouter.resolve('dl/any')!, url: 'ftp://127.0.0.1/any' };
        const target = moduleRouter.resolve(type);
        if (type !== 'ok/response-too-large' || target === undefined) return target;
        const endpoint = target.endpoint as HttpEndpointConfig;
        return {
          ...target,
          endpoint: { ...endpoint, transport: { ...endpoint.transport, payloadMaxBytes: 1024 } },
        };
      },
    };
    log = await EmbeddedLog.open({ partitions: 1 });
    runtime = new Runtime({
      log,
      store: new EmbeddedStateStore({}),
      client: new HttpFunctionClient(),
      functions,
      egress: moduleEgressRouter(module),
      task: { checkpointIntervalMs: 20, maxPendingTimers: 3, maxNegotiationRounds: 3 },
      restartBackoffMs: 20,
    });
    await runtime.start();
  }, 60_000);

  afterAll(async () => {
    await runtime?.stop();
    await new Promise((resolve) => server?.close(resolve));
  });

  it.each(Object.keys(deadLetterCodes) as DeadLetterCode[])(
    '%s is written by the component that owns it',
    async (code) => {
      const headers = await cases[code]();
      expect(headers?.[Header.code]).toBe(code);
      expect(headers?.[Header.reason]).toBeTruthy();
    },
  );

  it("the README's dead-letter table lists every code of the catalogue, and no other", () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const table = readme
      .slice(readme.indexOf('| dead-letter code |'))
      .split('\n')
      .slice(2)
      .filter((line, i, lines) => lines.slice(0, i + 1).every((l) => l.startsWith('|')));
    const listed = table.map((line) => /^\| `([A-Z_]+)` \|/.exec(line)?.[1]);
    expect(listed).toEqual(Object.keys(deadLetterCodes));
    for (const line of table) expect(line.split(' | ').length, line).toBe(3);
  });
});
