// The benchmark's counter function, served in a process of its own so that its CPU can be measured
// apart from the runtime's and the load generator's. Plain JavaScript because it runs under bare
// `node` (no TypeScript loader in a child process); it loads the built SDKs.
//
//   node bench/function-service.mjs --sdk official|own --topic <egress topic>
//
// Prints `PORT <n>` on stdout once it listens on 127.0.0.1. Function type `bench/counter`, state
// `count` (io.statefun.types/int): every message adds one and sends `<id>|<message>|<count>` to
// the Kafka egress `bench/out`. Function type `bench/ask` (the request-response scenario), state
// `count` likewise: every message adds one and answers its caller (a waiting HTTP request) with
// `<id>|<message>|<count>` as an io.statefun.types/string.
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { sdk: { type: 'string', default: 'official' }, topic: { type: 'string', default: 'bench-out' } },
});
const topic = values.topic;

/** The official Apache Flink StateFun JS SDK 3.3.0, served as its documentation shows. */
async function serveOfficial() {
  const { StateFun, kafkaEgressMessage, messageBuilder } = createRequire(import.meta.url)(
    'apache-flink-statefun',
  );
  const statefun = new StateFun();
  statefun.bind({
    typename: 'bench/counter',
    specs: [{ name: 'count', type: StateFun.intType() }],
    fn(ctx, message) {
      const count = (ctx.storage.count ?? 0) + 1;
      ctx.storage.count = count;
      ctx.send(
        kafkaEgressMessage({
          typename: 'bench/out',
          topic,
          key: ctx.self.id,
          value: `${ctx.self.id}|${message.rawValueBytes.toString('utf8')}|${count}`,
        }),
      );
    },
  });
  statefun.bind({
    typename: 'bench/ask',
    specs: [{ name: 'count', type: StateFun.intType() }],
    fn(ctx, message) {
      const count = (ctx.storage.count ?? 0) + 1;
      ctx.storage.count = count;
      // The official SDK's way to answer: a message to whoever called.
      if (ctx.caller)
        ctx.send(
          messageBuilder({
            typename: ctx.caller.typename,
            id: ctx.caller.id,
            value: `${ctx.self.id}|${message.rawValueBytes.toString('utf8')}|${count}`,
          }),
        );
    },
  });
  const handle = statefun.handler();
  const server = createServer((req, res) => void handle(req, res));
  // Default keep-alive timeout (5 s) would close the runtime's pooled connections between steps.
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  return server.address().port;
}

/** The project's own SDK (`@continuum/sdk`), with its standalone `serve`. */
async function serveOwn() {
  const { serve, statefulFunction, valueSpec, types, kafkaEgressMessage } = await import('@continuum/sdk');
  const decoder = new TextDecoder();
  const counter = statefulFunction({
    typename: 'bench/counter',
    specs: { count: valueSpec(types.int) },
    handler(ctx, message) {
      const count = (ctx.storage.count ?? 0) + 1;
      ctx.storage.count = count;
      ctx.sendEgress(
        kafkaEgressMessage({
          typename: 'bench/out',
          topic,
          key: ctx.self.id,
          value: `${ctx.self.id}|${decoder.decode(message.rawValue)}|${count}`,
        }),
      );
    },
  });
  const ask = statefulFunction({
    typename: 'bench/ask',
    specs: { count: valueSpec(types.int) },
    handler(ctx, message) {
      const count = (ctx.storage.count ?? 0) + 1;
      ctx.storage.count = count;
      ctx.reply(`${ctx.self.id}|${decoder.decode(message.rawValue)}|${count}`);
    },
  });
  const server = await serve({ functions: [counter, ask], port: 0, logger: false });
  server.app.server.keepAliveTimeout = 60_000;
  return server.port;
}

if (values.sdk !== 'official' && values.sdk !== 'own') {
  process.stderr.write(`function-service: --sdk must be official or own, not ${values.sdk}\n`);
  process.exit(2);
}
const port = values.sdk === 'official' ? await serveOfficial() : await serveOwn();
process.stdout.write(`PORT ${port}\n`);
// The benchmark ends this process with SIGTERM; exit at once, nothing to flush.
process.on('SIGTERM', () => process.exit(0));
