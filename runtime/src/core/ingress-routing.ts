// The ingress router: one record read from an ingress topic (Kafka, or its dev-mode stand-in)
// becomes a message to each target of its topic's route in the internal log, or a dead letter
// saying why it cannot (no route, no key, no value, an unreadable event time). Spec §5: key →
// address id, valueType → typename, the raw value bytes → the argument, no caller.
import type { Address } from '@continuum/sdk/protocol';
import type { LogRecord, OutRecord } from '../log/log.js';
import type { EventTimeExtractor, KafkaIngressTopic } from '../module/types.js';
import type { MoveObservation, RuntimeObserver } from '../observers.js';
import { parseTypeName, type Partitioning } from './address.js';
import { deadLetterRecord, sourceOf, toInternalRecord } from './envelope.js';
import { extractEventTime } from './event-time.js';
import type { DeadLetterCode } from './dead-letter-codes.js';

/** What one ingress record becomes. */
export interface RoutedRecord {
  records: OutRecord[];
  deadLetter: boolean;
  eventTime?: number | undefined;
  /** The observer's hold on the move (tracing): ended once its transaction settles. */
  observation?: MoveObservation | undefined;
}

/** Where the routed records of one ingress go. */
export interface IngressRouting {
  internalTopic: string;
  /** Partitions of the internal topic. */
  partitions: number;
  /** How a target picks its partition (the deployment's). */
  partitioning: Partitioning;
  deadLetterTopic: string;
  /** Names the ingress in dead-letter reasons and in the records' source sequences. */
  ingressId: string;
  /** Where the event time comes from (default: the record timestamp). */
  extractor?: EventTimeExtractor | undefined;
  observer?: RuntimeObserver | undefined;
}

/**
 * Maps one ingress record to internal-log records (or a dead letter). Pure apart from the
 * observer, which adds its headers (trace context) to every internal record.
 */
export function routeIngressRecord(
  record: LogRecord,
  route: KafkaIngressTopic | undefined,
  opts: IngressRouting,
  now: number,
): RoutedRecord {
  const dead = (code: DeadLetterCode, reason: string): { records: OutRecord[]; deadLetter: boolean } => ({
    deadLetter: true,
    records: [
      deadLetterRecord(
        opts.deadLetterTopic,
        {
          code,
          reason: `ingress ${opts.ingressId}: ${reason}`,
          source: sourceOf(record),
          key: record.key,
          value: record.value,
        },
        now,
      ),
    ],
  });
  if (route === undefined) return dead('INGRESS_TOPIC_UNKNOWN', `topic ${record.topic} has no routing`);
  if (record.key === null)
    return dead('INGRESS_KEY_MISSING', 'the record has no key, so it names no function id');
  if (record.value === null) return dead('INGRESS_VALUE_MISSING', 'the record has no value (tombstone)');
  const time = extractEventTime(
    opts.extractor ?? { type: 'record-timestamp' },
    record.value,
    record.timestamp,
    now,
  );
  if (!time.ok) return dead('INGRESS_EVENT_TIME_INVALID', time.reason);
  const { key: id, value } = record;
  const targets: Address[] = route.targets.map((target) => {
    const { namespace, name } = parseTypeName(target);
    return { namespace, type: name, id };
  });
  const observation = opts.observer?.moving?.(`kafka:${opts.ingressId}`, record, targets);
  const extra = observation?.headers;
  const records = targets.map((target, index) => {
    const out = toInternalRecord(
      opts.internalTopic,
      opts.partitions,
      {
        target,
        argument: { typename: route.valueType, hasValue: true, value },
        eventTime: time.eventTime,
        // Kafka reads committed consumer offsets without asking for stable ones, so right after a
        // takeover a new owner can start a little before where the old one committed and move a
        // few records twice; the partition tasks drop them by source and offset. One sequence per
        // target: the targets of one record share its offset, and may share an internal partition,
        // where the second must not look like a record moved twice.
        source: {
          name: `${opts.ingressId}|${record.topic}|${record.partition}|${index}`,
          offset: record.offset,
        },
      },
      opts.partitioning,
    );
    return extra === undefined ? out : { ...out, headers: { ...out.headers, ...extra } };
  });
  return { records, deadLetter: false, eventTime: time.eventTime, observation };
}
