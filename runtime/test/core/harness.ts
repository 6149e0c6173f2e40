// In-process fixtures for tests of the core: functions written directly against the protocol
// (no HTTP), routers for them, and a runtime on the embedded log and state store.
import type { Address, EgressMessage, FromFunction, ToFunction, TypedValue } from '@continuum/sdk/protocol';
import {
  decodeKafkaProducerRecord,
  decodeInt,
  encodeInt,
  KAFKA_PRODUCER_RECORD_TYPENAME,
} from '@continuum/sdk/protocol';
import { EmbeddedLog } from '../../src/log/embedded-log.js';
import { EmbeddedStateStore } from '../../src/state/embedded-state-store.js';
import { Runtime } from '../../src/runtime.js';
import type { Log } from '../../src/log/log.js';
import type { Logger } from '../../src/logger.js';
import type { StateStore } from '../../src/state/state-store.js';
import type { TaskConfig, TaskHooks } from '../../src/core/partition-task.js';
import type { EgressRouter, FunctionRouter, FunctionTarget } from '../../src/core/routing.js';
import type { FunctionCall, FunctionClient } from '../../src/transport/function-client.js';
import { FunctionCallError } from '../../src/transport/function-client.js';
import type { HttpEndpointConfig } from '../../src/module/types.js';
import type { FakeTime } from './fake-time.js';

export type Handler = (req: ToFunction, call: FunctionCall) => Promise<FromFunction> | FromFunction;

export function endpoint(functions: string, maxNumBatchRequests = 1000): HttpEndpointConfig {
  const slash = functions.indexOf('/');
  return {
    kind: 'io.statefun.endpoints.v2/http',
    functions,
    match: functions.endsWith('/*')
      ? { kind: 'namespace', namespace: functions.slice(0, slash) }
      : { kind: 'exact', typename: functions },
    urlPathTemplate: `http://in-process/${functions}`,
    maxNumBatchRequests,
    transport: {
      type: 'async',
      callTimeoutMs: 1000,
      connectTimeoutMs: 1000,
      poolTtlMs: 0,
      poolSize: 1,
      payloadMaxBytes: 1 << 20,
    },
    source: { file: 'test', document: 1 },
  };
}

/** Calls handlers in-process; a handler that throws is a failed call (dead-lettered). */
export class InProcessClient implements FunctionClient {
  readonly calls: { address: Address; invocations: number }[] = [];
  constructor(private readonly handlers: Record<string, Handler>) {}

  async invoke(call: FunctionCall): Promise<FromFunction> {
    const type = `${call.address.namespace}/${call.address.type}`;
    const h = this.handlers[type];
    this.calls.push({ address: call.address, invocations: call.request.invocation?.invocations.length ?? 0 });
    if (h === undefined) throw new Error(`no handler for ${type}`);
    try {
      return await h(call.request, call);
    } catch (err) {
      throw new FunctionCallError('FUNCTION_CALL_FAILED', `handler failed: ${String(err)}`, {
        address: call.address,
        attempts: 1,
        elapsedMs: 0,
        cause: err,
        retryable: false,
      });
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export function routers(
  maxBatch = 1000,
  types?: string[],
): { functions: FunctionRouter; egress: EgressRouter } {
  const functions: FunctionRouter = {
    resolve(functionType: string): FunctionTarget | undefined {
      if (types !== undefined && !types.includes(functionType)) return undefined;
      return {
        endpoint: endpoint(functionType, maxBatch),
        url: `http://in-process/${functionType}`,
        maxBatch,
      };
    },
  };
  const egress: EgressRouter = {
    route(m: EgressMessage) {
      if (m.argument.typename !== KAFKA_PRODUCER_RECORD_TYPENAME) {
        return { code: 'EGRESS_VALUE_INVALID', error: `egress expects ${KAFKA_PRODUCER_RECORD_TYPENAME}` };
      }
      const r = decodeKafkaProducerRecord(m.argument.value);
      return { record: { topic: r.topic, key: r.key === '' ? null : r.key, value: r.valueBytes } };
    },
  };
  return { functions, egress };
}

export const INT = 'io.statefun.types/int';
export const intValue = (n: number): TypedValue => ({ typename: INT, hasValue: true, value: encodeInt(n) });
export const readInt = (v: TypedValue | undefined): number | undefined =>
  v === undefined || !v.hasValue ? undefined : decodeInt(v.value);

export function emptyResult(): FromFunction {
  return {
    invocationResult: {
      stateMutations: [],
      outgoingMessages: [],
      delayedInvocations: [],
      outgoingEgresses: [],
    },
  };
}

export interface EmbeddedRuntime {
  runtime: Runtime;
  log: EmbeddedLog;
  store: EmbeddedStateStore;
  client: InProcessClient;
}

export async function embeddedRuntime(opts: {
  handlers: Record<string, Handler>;
  dir?: string;
  partitions?: number;
  maxBatch?: number;
  types?: string[];
  task?: Partial<TaskConfig>;
  hooks?: TaskHooks;
  /** Runs the tasks' timers and checkpoint pacing on this fake time instead of the real one. */
  time?: FakeTime;
}): Promise<EmbeddedRuntime> {
  const log = await EmbeddedLog.open({ dir: opts.dir, partitions: opts.partitions ?? 4 });
  const store = new EmbeddedStateStore({ dir: opts.dir === undefined ? undefined : `${opts.dir}/state` });
  const client = new InProcessClient(opts.handlers);
  const runtime = new Runtime({
    log,
    store,
    client,
    ...routers(opts.maxBatch ?? 1000, opts.types),
    task: { checkpointIntervalMs: 20, ...opts.task },
    hooks: opts.hooks,
    restartBackoffMs: 20,
    clock: opts.time?.now,
    scheduler: opts.time,
  });
  await runtime.start();
  return { runtime, log, store, client };
}

/** A runtime on any log and store, with in-process functions. */
export async function runtimeOn(opts: {
  log: Log;
  store: StateStore;
  handlers: Record<string, Handler>;
  maxBatch?: number;
  task?: Partial<TaskConfig>;
  hooks?: TaskHooks;
  logger?: Logger;
}): Promise<{ runtime: Runtime; client: InProcessClient }> {
  const client = new InProcessClient(opts.handlers);
  const runtime = new Runtime({
    log: opts.log,
    store: opts.store,
    client,
    ...routers(opts.maxBatch ?? 1000),
    task: { checkpointIntervalMs: 50, ...opts.task },
    hooks: opts.hooks,
    logger: opts.logger,
    restartBackoffMs: 50,
  });
  await runtime.start();
  return { runtime, client };
}

export const addr = (type: string, id: string): Address => {
  const [namespace, name] = type.split('/') as [string, string];
  return { namespace, type: name, id };
};

/** A counter function: state `n` (int) += message; replies to the caller, egresses the count. */
export function counter(opts: { egressTopic?: string; delayMs?: () => number } = {}): Handler {
  return async (req) => {
    const inv = req.invocation!;
    if (!inv.state.some((s) => s.stateName === 'n')) {
      return { incompleteInvocationContext: { missingValues: [{ stateName: 'n', typeTypename: INT }] } };
    }
    const d = opts.delayMs?.() ?? 0;
    if (d > 0) await new Promise((r) => setTimeout(r, d));
    let n = readInt(inv.state.find((s) => s.stateName === 'n')!.stateValue) ?? 0;
    const egress: EgressMessage[] = [];
    for (const i of inv.invocations) {
      n += readInt(i.argument) ?? 0;
      if (opts.egressTopic !== undefined) {
        egress.push(kafkaEgress(opts.egressTopic, inv.target.id, `${inv.target.id}:${n}`));
      }
    }
    return {
      invocationResult: {
        stateMutations: [{ mutationType: 1, stateName: 'n', stateValue: intValue(n) }],
        outgoingMessages: [],
        delayedInvocations: [],
        outgoingEgresses: egress,
      },
    };
  };
}

export function kafkaEgress(topic: string, key: string, value: string): EgressMessage {
  // Built by hand so this harness does not depend on the SDK's builders.
  const enc = new TextEncoder();
  const k = enc.encode(key);
  const v = enc.encode(value);
  const t = enc.encode(topic);
  const bytes = [
    0x0a,
    ...varint(k.length),
    ...k,
    0x12,
    ...varint(v.length),
    ...v,
    0x1a,
    ...varint(t.length),
    ...t,
  ];
  return {
    egressNamespace: 'test',
    egressType: 'out',
    argument: { typename: KAFKA_PRODUCER_RECORD_TYPENAME, hasValue: true, value: new Uint8Array(bytes) },
  };
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

export async function readAll(
  log: EmbeddedLog,
  topic: string,
): Promise<{ key: string | null; value: string; headers: Record<string, string> }[]> {
  const reader = log.reader(topic);
  const parts = await reader.partitions();
  const out: { key: string | null; value: string; headers: Record<string, string> }[] = [];
  for (let p = 0; p < parts; p++) {
    for (const r of await reader.read(p, 0, Number.MAX_SAFE_INTEGER)) {
      out.push({
        key: r.key,
        value: r.value === null ? '' : Buffer.from(r.value).toString('utf8'),
        headers: { ...r.headers },
      });
    }
  }
  return out;
}
