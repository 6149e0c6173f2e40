// Event time at the ingress: reading a record's event time (core/event-time.ts, re-exported
// here), and the watermark of one source (a Kafka ingress partition, the playground ingress):
// the highest event time seen minus the disorder bound, announced with marks, and "idle" once the
// source has been quiet for its idle timeout.
import type { WatermarkMark } from '../core/watermarks.js';
import { PLAYGROUND_INGRESS_ID } from '../module/playground.js';
import type { EventTimeConfig, ModuleConfig } from '../module/types.js';

export { extractEventTime, type ExtractedTime } from '../core/event-time.js';

/** The watermark source group of a playground ingress (one per configured port). */
export function playgroundSourceGroup(port: number): string {
  return `${PLAYGROUND_INGRESS_ID}:${port}`;
}

/**
 * The source groups whose marks make up the watermark of every partition: each Kafka ingress (dev
 * mode reads its topics from the embedded log or a broker, as production reads them from Kafka)
 * and each playground ingress.
 */
export function watermarkGroupsOf(module: ModuleConfig): string[] {
  return [
    ...module.kafkaIngresses.map((i) => i.id),
    ...module.playgroundIngresses.map((i) => playgroundSourceGroup(i.port)),
  ];
}

/** Who a source is: its group (ingress id), its member id and every member of the group. */
export interface SourceIdentity {
  group: string;
  source: string;
  members: string;
}

/**
 * The watermark of one source. Marks are only worth writing when something changed: the watermark
 * advanced, or the source came back from idleness; an idle mark is written once per quiet spell.
 */
export class SourceWatermark {
  private maxEventTime = -Infinity;
  private emitted = -Infinity;
  private idle = false;
  /** Records arrived after an idle mark: the next mark announces the source again. */
  private woke = false;
  private lastActivity: number;

  constructor(
    private readonly config: EventTimeConfig,
    private readonly identity: SourceIdentity,
    now: number,
  ) {
    this.lastActivity = now;
  }

  /** A record with this event time went out (or is about to, in the same append/transaction). */
  observe(eventTime: number, now: number): void {
    if (eventTime > this.maxEventTime) this.maxEventTime = eventTime;
    this.lastActivity = now;
    if (this.idle) {
      this.idle = false;
      this.woke = true;
    }
  }

  /** Max event time seen minus the disorder bound; -Infinity before the first record. */
  get watermark(): number {
    return this.maxEventTime - this.config.maxOutOfOrdernessMs;
  }

  /** Whether a call to {@link takeMark} would return a mark. */
  get hasNews(): boolean {
    return Number.isFinite(this.watermark) && (this.watermark > this.emitted || this.woke);
  }

  /** The mark to write now, if there is news; it counts as written. */
  takeMark(): WatermarkMark | undefined {
    if (!this.hasNews) return undefined;
    this.emitted = this.watermark;
    this.woke = false;
    return { ...this.identity, watermark: this.emitted };
  }

  /** A mark from {@link takeMark} or {@link takeIdle} did not make it to the log: take it again. */
  unsent(mark: WatermarkMark): void {
    if (mark.watermark === 'idle') this.idle = false;
    else this.woke = true;
  }

  /** Whether the source has been quiet for its idle timeout and has not said so yet. */
  idleDue(now: number): boolean {
    const timeout = this.config.idleTimeoutMs;
    return timeout > 0 && !this.idle && now - this.lastActivity >= timeout;
  }

  /** When the source becomes idle if nothing arrives meanwhile; undefined when it cannot. */
  idleDueAt(): number | undefined {
    const timeout = this.config.idleTimeoutMs;
    return timeout > 0 && !this.idle ? this.lastActivity + timeout : undefined;
  }

  /** The idle mark, once the source has been quiet for its idle timeout (once per quiet spell). */
  takeIdle(now: number): WatermarkMark | undefined {
    if (!this.idleDue(now)) return undefined;
    this.idle = true;
    return { ...this.identity, watermark: 'idle' };
  }
}
