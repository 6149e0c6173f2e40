// Kafka components (`io.statefun.kafka.v1/ingress|egress`): topic routing, start position, delivery
// semantic and property lists, with StateFun's defaults and its precedence of named keys.

import { z } from 'zod';
import { parseEventTime } from './event-time.js';
import type { ComponentScope, PathSegment } from './scope.js';
import {
  describeValue,
  duration,
  integer,
  leaf,
  list,
  mapping,
  nonEmptyText,
  oneOf,
  problem,
  propertyList,
  typeName,
  validate,
} from './schema.js';
import type { KafkaEgressConfig, KafkaIngressConfig, StartupPosition } from './types.js';

export const KAFKA_INGRESS_KIND = 'io.statefun.kafka.v1/ingress';
export const KAFKA_EGRESS_KIND = 'io.statefun.kafka.v1/egress';

/** The format of `startupPosition.date`, as StateFun (Java `DateTimeFormatter`) writes it. */
export const STARTUP_DATE_PATTERN = 'yyyy-MM-dd HH:mm:ss.SSS Z';

const STARTUP_TYPES = ['group-offsets', 'earliest', 'latest', 'specific-offsets', 'date'] as const;
const SEMANTICS = ['at-least-once', 'exactly-once', 'none'] as const;

const brokersText = nonEmptyText('bootstrap servers as text, e.g. "kafka:9092" or "k1:9092,k2:9092"');

const topicSchema = mapping({
  topic: nonEmptyText('a Kafka topic name'),
  valueType: typeName('the type name of the record values'),
  targets: list(typeName('a function type'), 'function type'),
});

const ingressSchema = mapping({
  id: typeName('the ingress id'),
  address: brokersText.nullish(),
  consumerGroupId: nonEmptyText('a consumer group id').nullish(),
  topics: list(topicSchema, 'topic routing {topic, valueType, targets}'),
  autoOffsetResetPosition: oneOf(['earliest', 'latest'], { caseInsensitive: true }).nullish(),
  startupPosition: mapping({
    type: oneOf(STARTUP_TYPES),
    offsets: z.unknown().nullish(),
    date: z.unknown().nullish(),
  }).nullish(),
  properties: z.unknown().nullish(),
  eventTime: z.unknown().nullish(),
});

const egressSchema = mapping({
  id: typeName('the egress id'),
  address: brokersText.nullish(),
  deliverySemantic: mapping({
    type: oneOf(SEMANTICS),
    transactionTimeout: z.unknown().nullish(),
    transactionTimeoutMillis: z.unknown().nullish(),
  }).nullish(),
  properties: z.unknown().nullish(),
});

const offsetEntry = leaf<readonly [string, number]>(
  'a single-key mapping "<topic>/<partition>": <offset>, e.g. "orders/0": 42',
  (input) => {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) return { ok: false };
    const entries = Object.entries(input as Record<string, unknown>);
    if (entries.length !== 1) return { ok: false, reason: `${entries.length} keys` };
    const [key, offset] = entries[0] ?? ['', undefined];
    const slash = key.lastIndexOf('/');
    const partition = key.slice(slash + 1);
    if (slash <= 0 || !/^\d+$/u.test(partition)) {
      return { ok: false, reason: `the key ${JSON.stringify(key)} is not "<topic>/<partition>"` };
    }
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
      return { ok: false, reason: `the offset ${describeValue(offset)} is not a whole number of at least 0` };
    }
    return { ok: true, value: [`${key.slice(0, slash)}/${Number(partition)}`, offset] };
  },
);

const startupDate = leaf<number>(
  `a date in the format "${STARTUP_DATE_PATTERN}", e.g. "2024-05-01 13:45:00.000 +0200"`,
  (input) => {
    if (typeof input !== 'string') return { ok: false };
    const epochMs = parseStartupDate(input);
    return epochMs === undefined ? { ok: false } : { ok: true, value: epochMs };
  },
);

/** Validates an `io.statefun.kafka.v1/ingress` spec. */
export function parseKafkaIngress(scope: ComponentScope, spec: unknown): KafkaIngressConfig | undefined {
  const parsed = validate(scope, ingressSchema, spec, []);
  const properties = parsePropertiesOf(scope, spec);
  const eventTime = parseEventTime(scope, spec, 'kafka');
  if (parsed === undefined || properties === undefined || eventTime === undefined) return undefined;

  const seen = new Map<string, number>();
  let valid = true;
  parsed.topics.forEach((route, index) => {
    const first = seen.get(route.topic);
    if (first !== undefined) {
      valid = false;
      scope.error(
        ['topics', index, 'topic'],
        `found ${JSON.stringify(route.topic)} again (first at ${scope.describe(['topics', first, 'topic'])}); ` +
          'expected each topic once: merge the targets into one entry',
      );
    } else {
      seen.set(route.topic, index);
    }
  });

  const consumerGroupId = parsed.consumerGroupId ?? properties['group.id'];
  const startupPosition = parseStartupPosition(scope, parsed.startupPosition ?? undefined, seen);
  if (startupPosition === undefined) return undefined;
  if (startupPosition.type === 'group-offsets' && consumerGroupId === undefined) {
    scope.error(
      ['startupPosition', 'type'],
      'found group-offsets, but no consumer group is set; expected consumerGroupId (or a group.id property), ' +
        'whose committed offsets to start from',
    );
    return undefined;
  }
  if (!valid) return undefined;

  return {
    kind: KAFKA_INGRESS_KIND,
    id: parsed.id,
    brokers: brokersOf(parsed.address ?? properties['bootstrap.servers']),
    consumerGroupId,
    topics: parsed.topics.map((route) => ({
      topic: route.topic,
      valueType: route.valueType,
      targets: route.targets,
    })),
    autoOffsetResetPosition: parsed.autoOffsetResetPosition ?? 'latest',
    startupPosition,
    properties,
    eventTime,
    source: scope.source,
  };
}

function parseStartupPosition(
  scope: ComponentScope,
  parsed: { type: (typeof STARTUP_TYPES)[number]; offsets?: unknown; date?: unknown } | undefined,
  topics: ReadonlyMap<string, number>,
): StartupPosition | undefined {
  // StateFun's code starts from `latest` when nothing is said (its docs claim group-offsets).
  if (parsed === undefined) return { type: 'latest' };
  const at: PathSegment[] = ['startupPosition'];
  switch (parsed.type) {
    case 'group-offsets':
    case 'earliest':
    case 'latest':
      return { type: parsed.type };
    case 'date': {
      const epochMs = validate(scope, startupDate, parsed.date, [...at, 'date']);
      return epochMs === undefined ? undefined : { type: 'date', epochMs };
    }
    case 'specific-offsets': {
      const schema = list(offsetEntry, '"<topic>/<partition>": <offset> mapping');
      const entries = validate(scope, schema, parsed.offsets, [...at, 'offsets']);
      if (entries === undefined) return undefined;
      const offsets: Record<string, number> = {};
      entries.forEach(([key, offset], index) => {
        const topic = key.slice(0, key.lastIndexOf('/'));
        if (!topics.has(topic)) {
          scope.warning(
            [...at, 'offsets', index],
            `topic ${JSON.stringify(topic)} is not among this ingress's topics; its offset is ignored`,
          );
        }
        Object.defineProperty(offsets, key, {
          value: offset,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      });
      return { type: 'specific-offsets', offsets };
    }
  }
}

/** Validates an `io.statefun.kafka.v1/egress` spec. */
export function parseKafkaEgress(scope: ComponentScope, spec: unknown): KafkaEgressConfig | undefined {
  const parsed = validate(scope, egressSchema, spec, []);
  const properties = parsePropertiesOf(scope, spec);
  if (parsed === undefined || properties === undefined) return undefined;

  const semantic = parsed.deliverySemantic ?? { type: 'at-least-once' as const };
  let deliverySemantic: KafkaEgressConfig['deliverySemantic'] = { type: semantic.type };
  if (semantic.type === 'exactly-once') {
    const transactionTimeoutMs = transactionTimeout(scope, parsed.deliverySemantic ?? {});
    if (transactionTimeoutMs === undefined) return undefined;
    deliverySemantic = { type: 'exactly-once', transactionTimeoutMs };
  }
  return {
    kind: KAFKA_EGRESS_KIND,
    id: parsed.id,
    brokers: brokersOf(parsed.address ?? properties['bootstrap.servers']),
    deliverySemantic,
    properties,
    source: scope.source,
  };
}

function transactionTimeout(
  scope: ComponentScope,
  semantic: { transactionTimeout?: unknown; transactionTimeoutMillis?: unknown },
): number | undefined {
  const at: PathSegment[] = ['deliverySemantic'];
  const millis = semantic.transactionTimeoutMillis;
  // The deprecated key wins when present, and is a plain number of milliseconds, as in StateFun.
  if (millis !== undefined && millis !== null) {
    const hint =
      typeof millis === 'string' && !/^\s*\d+\s*$/u.test(millis)
        ? `; to write a duration use transactionTimeout: ${millis}`
        : '';
    const schema = integer({ min: 1, expected: `a whole number of milliseconds greater than 0${hint}` });
    const ms = validate(scope, schema, millis, [...at, 'transactionTimeoutMillis']);
    if (ms === undefined) return undefined;
    scope.warning(
      [...at, 'transactionTimeoutMillis'],
      semantic.transactionTimeout !== undefined && semantic.transactionTimeout !== null
        ? 'deprecated, and it takes priority over transactionTimeout, which is ignored; keep only transactionTimeout'
        : 'deprecated; write transactionTimeout with a unit instead, e.g. transactionTimeout: 15min',
    );
    return ms;
  }
  if (semantic.transactionTimeout === undefined || semantic.transactionTimeout === null) {
    scope.error(
      [...at, 'transactionTimeout'],
      problem(
        undefined,
        'a transaction timeout for exactly-once delivery, e.g. transactionTimeout: 15min ' +
          "(at most the broker's transaction.max.timeout.ms)",
      ),
    );
    return undefined;
  }
  return validate(scope, duration({ allowZero: false }), semantic.transactionTimeout, [
    ...at,
    'transactionTimeout',
  ]);
}

function parsePropertiesOf(scope: ComponentScope, spec: unknown): Record<string, string> | undefined {
  const value =
    spec !== null && typeof spec === 'object' && !Array.isArray(spec)
      ? (spec as Record<string, unknown>)['properties']
      : undefined;
  if (value === undefined || value === null) return {};
  return propertyList(scope, value, ['properties']);
}

function brokersOf(address: string | undefined): string[] {
  if (address === undefined) return [];
  return address
    .split(',')
    .map((broker) => broker.trim())
    .filter((broker) => broker !== '');
}

/**
 * Parses `yyyy-MM-dd HH:mm:ss.SSS Z` (e.g. `2024-05-01 13:45:00.000 +0200`) to epoch milliseconds;
 * undefined when the text does not match or names an impossible date.
 */
export function parseStartupDate(text: string): number | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{3}) ([+-])(\d{2})(\d{2})$/u.exec(
    text.trim(),
  );
  if (match === null) return undefined;
  const [year, month, day, hour, minute, second, milli, , offsetHours, offsetMinutes] = match
    .slice(1)
    .map((part) => Number(part));
  const sign = match[8] === '-' ? -1 : 1;
  if (
    year === undefined ||
    month === undefined ||
    day === undefined ||
    hour === undefined ||
    minute === undefined ||
    second === undefined ||
    milli === undefined ||
    offsetHours === undefined ||
    offsetMinutes === undefined
  ) {
    return undefined;
  }
  if (
    month < 1 ||
    month > 12 ||
    hour > 23 ||
    minute > 59 ||
    second > 59 ||
    offsetHours > 18 ||
    offsetMinutes > 59
  ) {
    return undefined;
  }
  // Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear does not.
  const utc = (y: number, m: number, d: number): Date => {
    const date = new Date(0);
    date.setUTCFullYear(y, m, d);
    return date;
  };
  const daysInMonth = utc(year, month, 0).getUTCDate();
  if (day < 1 || day > daysInMonth) return undefined;
  const local = utc(year, month - 1, day).getTime() + ((hour * 60 + minute) * 60 + second) * 1000 + milli;
  return local - sign * (offsetHours * 60 + offsetMinutes) * 60_000;
}
