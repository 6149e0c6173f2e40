// Combines the runtime observers of metrics and tracing into the one a runtime takes.
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
 */
export function combineObservers(...observers: (RuntimeObserver | undefined)[]): RuntimeObserver {
  const all = observers.filter((o): o is RuntimeObserver => o !== undefined);
  if (all.length === 1) return all[0]!;
  return {
    batchStarted(batch: ObservedBatch): BatchObservation | undefined {
      const parts = all.map((o) => o.batchStarted?.(batch)).filter((b) => b !== undefined);
      if (parts.length === 0) return undefined;
      const headers = Object.assign({}, ...parts.map((p) => p.recordHeaders ?? {})) as Record<string, string>;
      return {
        around<T>(call: () => Promise<T>): Promise<T> {
          let run = call;
          for (const p of [...parts].reverse()) {
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
    },
    deadLettered(partition, code) {
      for (const o of all) o.deadLettered?.(partition, code);
    },
    stateLookup(partition, hit) {
      for (const o of all) o.stateLookup?.(partition, hit);
    },
    committed(checkpoint) {
      for (const o of all) o.committed?.(checkpoint);
    },
    checkpointed(checkpoint) {
      for (const o of all) o.checkpointed?.(checkpoint);
    },
    sending(source: string, messages: readonly IngressMessage[]): SendObservation | undefined {
      const parts = all.map((o) => o.sending?.(source, messages)).filter((s) => s !== undefined);
      if (parts.length === 0) return undefined;
      return {
        headers: messages.map((_, i) => {
          const merged = Object.assign({}, ...parts.map((p) => p.headers?.[i] ?? {})) as Record<
            string,
            string
          >;
          return Object.keys(merged).length === 0 ? undefined : merged;
        }),
        ended(error) {
          for (const p of parts) p.ended?.(error);
        },
      };
    },
    moving(source, record, targets): MoveObservation | undefined {
      const parts = all.map((o) => o.moving?.(source, record, targets)).filter((m) => m !== undefined);
      if (parts.length === 0) return undefined;
      const headers = Object.assign({}, ...parts.map((p) => p.headers ?? {})) as Record<string, string>;
      return {
        headers: Object.keys(headers).length === 0 ? undefined : headers,
        ended(error) {
          for (const p of parts) p.ended?.(error);
        },
      };
    },
  };
}
