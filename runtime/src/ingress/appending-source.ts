// An ingress source that appends to the internal log (the playground ingress): stamps messages
// with their ingress time when they carry no event time, appends them one batch at a time, and
// after each batch appends the watermark mark that covers it, so every partition sees the mark
// after the data. Quiet for its idle timeout, the source announces that it is idle.
import type { WatermarkMark } from '../core/watermarks.js';
import { ContinuumError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { EventTimeConfig } from '../module/types.js';
import type { IngressMessage } from '../observers.js';
import { SourceWatermark, type SourceIdentity } from './event-time.js';

export interface AppendingSourceOptions {
  config: EventTimeConfig;
  identity: SourceIdentity;
  /** Appends messages durably (the runtime's `send`). */
  send(messages: readonly IngressMessage[]): Promise<void>;
  /** Appends a watermark mark to every internal partition. */
  appendMarks(mark: WatermarkMark): Promise<void>;
  logger?: Logger | undefined;
  /** Messages waiting for (or in) their append before new ones are refused (default 10,000). */
  maxQueued?: number | undefined;
  clock?: (() => number) | undefined;
}

interface Pending {
  messages: IngressMessage[];
  resolve(): void;
  reject(err: unknown): void;
}

export class AppendingSource {
  private readonly opts: AppendingSourceOptions;
  private readonly now: () => number;
  private readonly watermark: SourceWatermark;
  private readonly idleCheck: NodeJS.Timeout | undefined;
  private queue: Pending[] = [];
  private queued = 0;
  private pumping: Promise<void> | undefined;
  private lastStamp = 0;
  private closed = false;

  constructor(opts: AppendingSourceOptions) {
    this.opts = opts;
    this.now = opts.clock ?? Date.now;
    this.watermark = new SourceWatermark(opts.config, opts.identity, this.now());
    const idle = opts.config.idleTimeoutMs;
    if (idle > 0) {
      this.idleCheck = setInterval(() => this.kick(), Math.max(20, Math.min(1000, idle / 2)));
      this.idleCheck.unref();
    }
  }

  /**
   * Appends messages (those without an event time get the ingress time, never earlier than one
   * handed out before); resolves once they are durable.
   * @throws ContinuumError `INGRESS_OVERLOADED` (retryable) when too many messages are waiting.
   */
  send(messages: readonly IngressMessage[]): Promise<void> {
    if (this.closed)
      return Promise.reject(new ContinuumError('INGRESS_CLOSED', 'the ingress is shutting down'));
    const max = this.opts.maxQueued ?? 10_000;
    if (this.queued + messages.length > max) {
      return Promise.reject(
        new ContinuumError(
          'INGRESS_OVERLOADED',
          `${this.queued} messages are waiting to be appended (at most ${max}); retry later`,
          { retryable: true },
        ),
      );
    }
    const stamp = Math.max(this.now(), this.lastStamp);
    this.lastStamp = stamp;
    const stamped = messages.map((m) => (m.eventTime === undefined ? { ...m, eventTime: stamp } : m));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ messages: stamped, resolve, reject });
      this.queued += stamped.length;
      this.kick();
    });
  }

  /** Stops taking messages and waits for the queued ones. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.idleCheck !== undefined) clearInterval(this.idleCheck);
    await this.pumping;
  }

  private kick(): void {
    this.pumping ??= this.pump().finally(() => {
      this.pumping = undefined;
      if (this.queue.length > 0) this.kick();
    });
  }

  private async pump(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      const messages = batch.flatMap((p) => p.messages);
      try {
        await this.opts.send(messages);
      } catch (err) {
        for (const p of batch) p.reject(err);
        continue;
      } finally {
        // Counted until appended: the bound covers the append in progress too.
        this.queued -= messages.length;
      }
      const now = this.now();
      for (const m of messages) this.watermark.observe(m.eventTime!, now);
      for (const p of batch) p.resolve();
      await this.appendMark(this.watermark.takeMark());
    }
    // A mark that failed before is tried again; then, if quiet long enough, the idle mark.
    await this.appendMark(this.watermark.takeMark());
    if (!this.closed) await this.appendMark(this.watermark.takeIdle(this.now()));
  }

  private async appendMark(mark: WatermarkMark | undefined): Promise<void> {
    if (mark === undefined) return;
    try {
      await this.opts.appendMarks(mark);
    } catch (err) {
      this.watermark.unsent(mark);
      this.opts.logger?.warn('appending a watermark mark failed; it is tried again', { err });
    }
  }
}
