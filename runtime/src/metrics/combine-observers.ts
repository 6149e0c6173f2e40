// Combines the runtime observers of metrics, tracing and the reply feed into the one a runtime takes.
import type {
  BatchObservation,
  IngressMessage,
  MoveObservation,
  ObservedBatch,
  RuntimeObserver,
  SendObservation,
} from '../observers.js';

/**
 * One observer that calls each of `observers` in order. Batch calls nest (the first observer's
 * `around` is outermost) and record headers merge.
 *
 * Callbacks run on the partition tasks' hot path, so the combination costs nothing it need not: a
 * hook no observer has is left out (its callers skip the work of building its event), a hook only
 * one observer has is that observer's own function, and when only one observer answers a batch,
 * a send or a move, its observation is used as it is.
 */
export function combineObservers(...observers: (RuntimeObserver | undefined)[]): RuntimeObserver {
  const all = observers.filter((o): o is RuntimeObserver => o !== undefined);
  if (all.length === 1) return all[0]!;
  const combined: RuntimeObserver = {};

  const batchStarted = listeners(all, 'batchStarted');
  if (batchStarted.length === 1) combined.batchStarted = batchStarted[0];
  else if (batchStarted.length > 1)
    combined.batchStarted = (batch: ObservedBatch) => combineBatch(batchStarted.map((f) => f(batch)));

  // Notifications (nothing comes back): each observer's, in order.
  for (const hook of ['deadLettered', 'stateLookup', 'committed', 'checkpointed'] as const) {
    const each = listeners(all, hook) as ((...args: unknown[]) => void)[];
    if (each.length === 1) (combined as Record<Hook, unknown>)[hook] = each[0];
    else if (each.length > 1)
      (combined as Record<Hook, unknown>)[hook] = (...args: unknown[]) => {
        for (const f of each) f(...args);
      };
  }

  const sending = listeners(all, 'sending');
  if (sending.length === 1) combined.sending = sending[0];
  else if (sending.length > 1)
    combined.sending = (source, messages) =>
      combineSend(
        messages,
        sending.map((f) => f(source, messages)),
      );

  const moving = listeners(all, 'moving');
  if (moving.length === 1) combined.moving = moving[0];
  else if (moving.length > 1)
    combined.moving = (source, record, targets) => combineMove(moving.map((f) => f(source, record, targets)));

  return combined;
}

type Hook = keyof RuntimeObserver;

/** The observers' functions for `hook`, bound to their observer, in order. */
function listeners<K extends Hook>(
  all: readonly RuntimeObserver[],
  hook: K,
): NonNullable<RuntimeObserver[K]>[] {
  const out: NonNullable<RuntimeObserver[K]>[] = [];
  for (const o of all) {
    const f = o[hook];
    if (typeof f === 'function') out.push(f.bind(o) as NonNullable<RuntimeObserver[K]>);
  }
  return out;
}

function present<T>(parts: readonly (T | undefined)[]): T[] {
  return parts.filter((p): p is T => p !== undefined);
}

function combineBatch(answers: readonly (BatchObservation | undefined)[]): BatchObservation | undefined {
  const parts = present(answers);
  if (parts.length <= 1) return parts[0];
  const headers = Object.assign({}, ...parts.map((p) => p.recordHeaders ?? {})) as Record<string, string>;
  return {
    around<T>(call: () => Promise<T>): Promise<T> {
      let run = call;
      for (let i = parts.length - 1; i >= 0; i--) {
        const p = parts[i]!;
        const inner = run;
        if (p.around !== undefined) run = () => p.around!(inner);
      }
      return run();
    },
    ended(end) {
      for (const p of parts) p.ended?.(end);
    },
    recordHeaders: Object.keys(headers).length === 0 ? undefined : headers,
  };
}

function combineSend(
  messages: readonly IngressMessage[],
  answers: readonly (SendObservation | undefined)[],
): SendObservation | undefined {
  const parts = present(answers);
  if (parts.length <= 1) return parts[0];
  const withHeaders = parts.filter((p) => p.headers !== undefined);
  return {
    headers:
      withHeaders.length === 0
        ? undefined
        : withHeaders.length === 1
          ? withHeaders[0]!.headers
          : messages.map((_, i) => {
              const merged = Object.assign({}, ...withHeaders.map((p) => p.headers?.[i] ?? {})) as Record<
                string,
                string
              >;
              return Object.keys(merged).length === 0 ? undefined : merged;
            }),
    ended(error) {
      for (const p of parts) p.ended?.(error);
    },
  };
}

function combineMove(answers: readonly (MoveObservation | undefined)[]): MoveObservation | undefined {
  const parts = present(answers);
  if (parts.length <= 1) return parts[0];
  const headers = Object.assign({}, ...parts.map((p) => p.headers ?? {})) as Record<string, string>;
  return {
    headers: Object.keys(headers).length === 0 ? undefined : headers,
    ended(error) {
      for (const p of parts) p.ended?.(error);
    },
  };
}
