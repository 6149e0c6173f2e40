// A small application for the operability tests, served with the official StateFun JS SDK on
// loopback: a counter that forwards to a sink and egresses to Kafka, a profile that keeps state
// and a pending delayed message, an endpoint that fails on demand, and a function whose egress
// is undeclared (an effect dead letter). Plus admin-API helpers.
import { serveOnLoopback, sf, type LoopbackServer } from '../dev/support.js';

const { StateFun, messageBuilder, kafkaEgressMessage, egressMessageBuilder } = sf;

/** JSON text messages of the fixture. */
export const Text = StateFun.jsonType<string>('ops/Text');
const Profile = StateFun.jsonType<{ name: string }>('ops/Profile');

/** The egress topic of ops/counter. */
export const OUT_TOPIC = 'ops-out';

export interface OpsFunctions {
  /** Values the sink received, in order. */
  sunk: string[];
  /** Values ops/flaky received while it worked. */
  flakyReceived: string[];
  /** ops/flaky answers HTTP 500 while this is true. */
  flakyBroken: { on: boolean };
  /** `traceparent` headers of the requests the function endpoints received. */
  traceparents: string[];
  /** module.yaml documents for these endpoints (plus the Kafka egress). */
  moduleDocs: string[];
  close(): Promise<void>;
}

export async function serveOpsFunctions(): Promise<OpsFunctions> {
  const sunk: string[] = [];
  const flakyReceived: string[] = [];
  const flakyBroken = { on: true };
  const traceparents: string[] = [];
  const statefun = new StateFun();
  statefun.bind({
    typename: 'ops/counter',
    specs: [{ name: 'n', type: StateFun.intType() }],
    fn(context, message) {
      const n = ((context.storage.n as number | null) ?? 0) + 1;
      context.storage.n = n;
      const id = context.self.id;
      const text = message.as(Text)!;
      context.send(messageBuilder({ typename: 'ops/sink', id, value: text, valueType: Text }));
      context.send(
        kafkaEgressMessage({ typename: 'ops/out', topic: OUT_TOPIC, key: id, value: `${id}:${n}` }),
      );
    },
  });
  statefun.bind({
    typename: 'ops/sink',
    fn(_context, message) {
      sunk.push(message.as(Text)!);
    },
  });
  statefun.bind({
    typename: 'ops/profile',
    specs: [
      { name: 'visits', type: StateFun.intType() },
      { name: 'last', type: Profile },
    ],
    fn(context, message) {
      const visits = ((context.storage.visits as number | null) ?? 0) + 1;
      context.storage.visits = visits;
      context.storage.last = { name: message.as(Text)! };
      if (visits === 1) {
        const reminder = messageBuilder({
          typename: 'ops/profile',
          id: context.self.id,
          value: 'reminder',
          valueType: Text,
        });
        context.sendAfter(3_600_000, reminder, `reminder-${context.self.id}`);
      }
    },
  });
  statefun.bind({
    typename: 'ops/flaky',
    fn(_context, message) {
      flakyReceived.push(message.as(Text)!);
    },
  });
  statefun.bind({
    typename: 'ops/lost',
    fn(context) {
      // No egress with this id is declared: the runtime dead-letters the effect (it has no target).
      context.send(egressMessageBuilder({ typename: 'ops/nowhere', value: 'x', valueType: Text }));
    },
  });
  const handle = statefun.handler();
  const record = (h: string | string[] | undefined): void => {
    if (typeof h === 'string') traceparents.push(h);
  };
  const fns = await serveOnLoopback((req, res) => {
    record(req.headers.traceparent);
    void handle(req, res);
  });
  const flaky: LoopbackServer = await serveOnLoopback((req, res) => {
    record(req.headers.traceparent);
    if (flakyBroken.on) {
      req.resume();
      req.once('end', () => res.writeHead(500, { 'content-type': 'text/plain' }).end('flaky is down'));
      return;
    }
    void handle(req, res);
  });
  return {
    sunk,
    flakyReceived,
    flakyBroken,
    traceparents,
    moduleDocs: [
      [
        'kind: io.statefun.endpoints.v2/http',
        'spec:',
        '  functions: ops/*',
        `  urlPathTemplate: http://127.0.0.1:${fns.port}/{function.name}`,
      ].join('\n'),
      [
        'kind: io.statefun.endpoints.v2/http',
        'spec:',
        '  functions: ops/flaky',
        `  urlPathTemplate: http://127.0.0.1:${flaky.port}/{function.name}`,
        '  transport: {call: 300ms}',
      ].join('\n'),
      'kind: io.statefun.kafka.v1/egress\nspec: {id: ops/out, address: 127.0.0.1:9, deliverySemantic: {type: at-least-once}}',
    ],
    close: async () => {
      await fns.close();
      await flaky.close();
    },
  };
}

/** Calls the admin API; returns the status and the parsed JSON body (or the text). */
export async function adminCall(
  base: string,
  path: string,
  opts: { method?: string; body?: unknown; token?: string | undefined } = {},
): Promise<{ status: number; body: unknown; text: string; contentType: string | null }> {
  const headers: Record<string, string> = {};
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  const res = await fetch(new URL(path, base), {
    method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'),
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (metrics, HTML): keep the text.
  }
  return { status: res.status, body, text, contentType: res.headers.get('content-type') };
}

/** Sends a Text message to `target` through the admin API and expects it accepted. */
export async function sendText(base: string, target: string, text: string, token?: string): Promise<void> {
  const r = await adminCall(base, '/v1/messages', {
    body: { target, typename: 'ops/Text', value: JSON.stringify(text) },
    token,
  });
  if (r.status !== 200) throw new Error(`sending to ${target} answered ${r.status}: ${r.text}`);
}
