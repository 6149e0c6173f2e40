// The public interface of what a function sees while it handles a message (implemented in context-impl.ts).
import type { Address } from './address.js';
import type { EgressMessage, OutgoingMessage } from './message.js';
import type { Specs, Storage } from './spec.js';
import type { Type } from './types.js';

/** Specs of a function that declares no state. */
export type NoSpecs = Record<never, never>;

/** Options of {@link Context.sendAfter}. */
export interface SendAfterOptions {
  /**
   * A token to cancel the message with ({@link Context.cancelDelayedMessage}) while it is pending.
   * Tokens belong to the sending address; reusing a token that is still pending is an error in the runtime.
   * @example `ctx.sendAfter(15 * 60_000, expire, { cancellationToken: `reservation-${orderId}` })`
   */
  cancellationToken?: string;
}

/** Options of {@link Context.sendAtEventTime}. */
export interface SendAtEventTimeOptions {
  /**
   * A token to cancel the timer with ({@link Context.cancelDelayedMessage}) while it is pending. Tokens of
   * delayed messages and event-time timers share one namespace per sending address.
   * @example `ctx.sendAtEventTime(windowEnd, close, { cancellationToken: `window-${windowEnd}` })`
   */
  cancellationToken?: string;
}

/**
 * What a function sees while it handles a message: its address, the caller, its state, and the effects it
 * can produce. Effects take place (exactly once) only when the whole batch of invocations succeeds.
 *
 * @example
 * ```ts
 * handler(ctx, message) {
 *   ctx.storage.seen = (ctx.storage.seen ?? 0) + 1;
 *   ctx.send(messageBuilder({ typename: 'example/audit', id: ctx.self.id, value: 'seen' }));
 * }
 * ```
 */
export interface Context<S extends Specs = NoSpecs> {
  /** The address of this function instance. */
  readonly self: Address;
  /** The sender of the current message, or `undefined` for a message from an ingress. */
  readonly caller: Address | undefined;
  /**
   * The event time of the current message in ms since the epoch: the ingress record's timestamp (or the
   * time its extractor read from the value), the playground ingress time, the timer's time for an
   * event-time timer, or the event time of the invocation that sent it. `undefined` when the runtime does
   * not tell (a StateFun runtime).
   */
  readonly eventTime: number | undefined;
  /**
   * The watermark at the current message's position in the log, in ms since the epoch: every ingress has
   * promised that no more events at or before it are to come (events behind it are late). `undefined`
   * while there is no watermark yet, or when the runtime does not tell.
   */
  readonly watermark: number | undefined;
  /**
   * The state of this address, one property per declared spec: `undefined` when empty; assign a value to
   * write it, `undefined` (or `null`) to delete it. Objects read from storage may be changed in place: the
   * change is detected and written back.
   */
  readonly storage: Storage<S>;
  /** Sends a message to a function (possibly this one). */
  send(message: OutgoingMessage): void;
  /**
   * Sends a message after `delayMs` milliseconds (processing time; survives failures).
   * @param delayMs a non-negative integer.
   */
  sendAfter(delayMs: number, message: OutgoingMessage, options?: SendAfterOptions): void;
  /**
   * An event-time timer: sends `message` once the watermark reaches `time` (ms since the epoch), exactly
   * once, in timestamp order with the other timers of the partition. The delivered message carries `time`
   * as its event time. A time the watermark has already passed fires at once. On a runtime without event
   * time (StateFun), the message is sent right away.
   * @param time a positive integer of ms since the epoch, e.g. the end of a window.
   * @example `ctx.sendAtEventTime(windowEnd, messageBuilder({ target: ctx.self, value: String(windowEnd) }))`
   */
  sendAtEventTime(time: number, message: OutgoingMessage, options?: SendAtEventTimeOptions): void;
  /**
   * Cancels a pending delayed message or event-time timer of this address by its token. Best effort: an
   * unknown or already delivered token is ignored.
   */
  cancelDelayedMessage(cancellationToken: string): void;
  /** Sends a message to an egress, e.g. a {@link kafkaEgressMessage}. */
  sendEgress(message: EgressMessage): void;
  /**
   * Answers the caller: sends `value` to {@link Context.caller}. For a message from the runtime's
   * request-response HTTP ingress the caller stands for the waiting HTTP request, whose response
   * this becomes (its typename the Content-Type); a request gets one reply, the first. Short for
   * `ctx.send(messageBuilder({ target: ctx.caller!, value, valueType }))`.
   * @throws SdkError `NO_CALLER` when the current message has no caller (it came from an ingress
   *   that does not wait for an answer).
   * @example `ctx.reply({ reserved: true }, ReservationResult)`
   * @example `ctx.reply('done')` (a string, typed io.statefun.types/string)
   */
  reply<T>(value: T, valueType?: Type<T>): void;
}
