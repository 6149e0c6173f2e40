// An event-time application on a dev runtime, for the operability tests of event time: a playground
// ingress that reads each event's time from its `ts` field (5 s disorder bound, never idle) and a
// function served with @continuum/sdk that, for each event, sets an event-time timer at the end of
// the event's minute and, on its first event, a delayed message an hour on.
import {
  jsonType,
  messageBuilder,
  serve,
  statefulFunction,
  types,
  valueSpec,
  type ServerHandle,
} from '@continuum/sdk';
import { startDevRuntime, type DevRuntime } from '../../src/dev-runtime.js';
import { silentLogger } from '../../src/logger.js';
import { parseModule } from '../../src/module/index.js';
import { freePorts } from '../dev/support.js';

/** Disorder bound of the ingress: the watermark trails the newest event time by this much. */
export const MAX_OUT_OF_ORDERNESS_MS = 5_000;
/** The delayed message the function sends itself on its first event. */
export const REMINDER_DELAY_MS = 3_600_000;

const Click = jsonType<{ ts: number }>('ops/Click');

export interface EventTimeApp {
  dev: DevRuntime;
  /** Base URL of the admin server. */
  admin: string;
  /** Sends an event for `key` with event time `ts` through the playground ingress. */
  ingest(key: string, ts: number): Promise<void>;
  /** Event times of the events ops/window received, per key. */
  events: Map<string, number[]>;
  close(): Promise<void>;
}

/** The window end (next full minute) of an event time. */
export function windowEnd(ts: number): number {
  return Math.floor(ts / 60_000) * 60_000 + 60_000;
}

export async function startEventTimeApp(opts: {
  partitions: number;
  adminToken?: string | undefined;
}): Promise<EventTimeApp> {
  const events = new Map<string, number[]>();
  const window = statefulFunction({
    typename: 'ops/window',
    specs: { seen: valueSpec(types.int) },
    handler(ctx, message) {
      if (!message.is(Click)) return; // a timer or the reminder
      const ts = ctx.eventTime!;
      events.set(ctx.self.id, [...(events.get(ctx.self.id) ?? []), ts]);
      const end = windowEnd(ts);
      ctx.sendAtEventTime(end, messageBuilder({ target: ctx.self, value: `close ${end}` }), {
        cancellationToken: `close-${end}-${ts}`,
      });
      if (ctx.storage.seen === undefined) {
        ctx.sendAfter(REMINDER_DELAY_MS, messageBuilder({ target: ctx.self, value: 'reminder' }), {
          cancellationToken: 'reminder',
        });
      }
      ctx.storage.seen = (ctx.storage.seen ?? 0) + 1;
    },
  });
  const service: ServerHandle = await serve({ functions: [window], port: 0, logger: false });
  let dev: DevRuntime | undefined;
  try {
    const [ingressPort] = (await freePorts(1)) as [number];
    const module = [
      'kind: io.statefun.endpoints.v2/http',
      'spec:',
      '  functions: ops/*',
      `  urlPathTemplate: http://127.0.0.1:${service.port}/{function.name}`,
      '---',
      'kind: io.statefun.playground.v1/ingress',
      'spec:',
      `  port: ${ingressPort}`,
      '  eventTime:',
      `    maxOutOfOrderness: ${MAX_OUT_OF_ORDERNESS_MS}ms`,
      '    idleTimeout: 0',
      '    extractor: {type: json-field, field: ts}',
    ].join('\n');
    dev = await startDevRuntime({
      module: parseModule(module, 'event-time-ops.yaml'),
      partitions: opts.partitions,
      adminPort: 0,
      adminToken: opts.adminToken,
      logger: silentLogger,
      task: { checkpointIntervalMs: 20 },
    });
    const started = dev;
    return {
      dev: started,
      admin: `http://127.0.0.1:${started.servers.find((s) => s.name === 'admin')!.port}`,
      async ingest(key, ts) {
        const res = await fetch(`http://127.0.0.1:${ingressPort}/ops/window/${key}`, {
          method: 'PUT',
          headers: { 'content-type': 'application/vnd.ops/Click' },
          body: JSON.stringify({ ts }),
          signal: AbortSignal.timeout(10_000),
        });
        if (res.status !== 200) throw new Error(`the ingress answered ${res.status}: ${await res.text()}`);
      },
      events,
      async close() {
        await started.stop();
        await service.close();
      },
    };
  } catch (err) {
    await dev?.stop();
    await service.close();
    throw err;
  }
}
