// Appends of concurrent callers (HTTP requests, ingress batches) share produce requests: while
// one request is in flight, the records of the appends that arrive meanwhile wait and go out
// together in the next one. The producer is idempotent with one request in flight (ordered), so
// without this each append queues behind the others for a broker round trip of its own.
import { ContinuumError } from '../../errors.js';
import type { OutRecord } from '../log.js';

interface Waiting {
  records: readonly OutRecord[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface AppendBatcherOptions {
  /** Sends one batch durably (one produce request). */
  send: (records: readonly OutRecord[]) => Promise<void>;
  /** Records per produce request at most (an append is never split; default 5,000). */
  maxBatchRecords?: number | undefined;
  /** Records waiting before appends are refused (retryable; default 50,000). */
  maxQueuedRecords?: number | undefined;
}

export class AppendBatcher {
  private queue: Waiting[] = [];
  private queued = 0;
  private sending = false;
  /** Produce requests sent, and appends they carried (tests, tuning). */
  readonly stats = { requests: 0, appends: 0 };

  constructor(private readonly opts: AppendBatcherOptions) {}

  append(records: readonly OutRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    const max = this.opts.maxQueuedRecords ?? 50_000;
    if (this.queued > 0 && this.queued + records.length > max) {
      return Promise.reject(
        new ContinuumError(
          'INGRESS_OVERLOADED',
          `${this.queued} records are waiting for their append to the log; retry shortly`,
          { retryable: true },
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ records, resolve, reject });
      this.queued += records.length;
      this.pump();
    });
  }

  private pump(): void {
    if (this.sending || this.queue.length === 0) return;
    const max = this.opts.maxBatchRecords ?? 5_000;
    let n = 0;
    let size = 0;
    while (n < this.queue.length) {
      const next = this.queue[n]!.records.length;
      if (n > 0 && size + next > max) break;
      size += next;
      n++;
    }
    const batch = this.queue.splice(0, n);
    this.queued -= size;
    this.sending = true;
    this.stats.requests++;
    this.stats.appends += batch.length;
    const records = batch.length === 1 ? batch[0]!.records : batch.flatMap((w) => w.records);
    this.opts
      .send(records)
      .then(
        () => {
          for (const w of batch) w.resolve();
        },
        (err: unknown) => {
          for (const w of batch) w.reject(err);
        },
      )
      .finally(() => {
        this.sending = false;
        this.pump();
      });
  }
}
