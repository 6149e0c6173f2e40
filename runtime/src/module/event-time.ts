// The `eventTime` key of an ingress (an extension of ours; StateFun ignores unknown spec keys):
// where a record's event time comes from, the bound on disorder that sets the watermark, and when
// a quiet source counts as idle.

import type { ComponentScope } from './scope.js';
import { duration, mapping, nonEmptyText, oneOf, problem, validate } from './schema.js';
import type { EventTimeConfig, EventTimeExtractor } from './types.js';

/** What an ingress gets without an `eventTime` key (or for the keys it leaves out). */
export const EVENT_TIME_DEFAULTS = {
  maxOutOfOrdernessMs: 0,
  idleTimeoutMs: 30_000,
} as const;

/** The extractor types an ingress kind accepts; the first is its default. */
export const EXTRACTORS = {
  kafka: ['record-timestamp', 'json-field'],
  playground: ['ingress-time', 'json-field'],
} as const;

/**
 * Validates `spec.eventTime` of an ingress. Returns the defaults when the key is absent, undefined
 * (with errors in the scope) when it is invalid.
 */
export function parseEventTime(
  scope: ComponentScope,
  spec: unknown,
  ingress: keyof typeof EXTRACTORS,
): EventTimeConfig | undefined {
  const types = EXTRACTORS[ingress];
  const value =
    spec !== null && typeof spec === 'object' && !Array.isArray(spec)
      ? (spec as Record<string, unknown>)['eventTime']
      : undefined;
  if (value === undefined || value === null) {
    return Object.freeze({ ...EVENT_TIME_DEFAULTS, extractor: Object.freeze({ type: types[0] }) });
  }
  const schema = mapping({
    maxOutOfOrderness: duration({ allowZero: true }).nullish(),
    idleTimeout: duration({ allowZero: true }).nullish(),
    extractor: mapping({
      type: oneOf(types),
      field: nonEmptyText('a JSON field name, or a dotted path such as "event.ts"').nullish(),
    }).nullish(),
  });
  const parsed = validate(scope, schema, value, ['eventTime']);
  if (parsed === undefined) return undefined;
  let extractor: EventTimeExtractor = { type: types[0] };
  if (parsed.extractor !== undefined && parsed.extractor !== null) {
    const { type, field } = parsed.extractor;
    if (type === 'json-field') {
      if (field === undefined || field === null) {
        scope.error(
          ['eventTime', 'extractor', 'field'],
          problem(
            undefined,
            'the JSON field holding the event time (ms since the epoch or ISO-8601 text), e.g. field: ts',
          ),
        );
        return undefined;
      }
      extractor = { type, field };
    } else {
      if (field !== undefined && field !== null) {
        scope.warning(['eventTime', 'extractor', 'field'], `ignored: extractor ${type} reads no field`);
      }
      extractor = { type };
    }
  }
  return Object.freeze({
    maxOutOfOrdernessMs: parsed.maxOutOfOrderness ?? EVENT_TIME_DEFAULTS.maxOutOfOrdernessMs,
    idleTimeoutMs: parsed.idleTimeout ?? EVENT_TIME_DEFAULTS.idleTimeoutMs,
    extractor: Object.freeze(extractor),
  });
}
