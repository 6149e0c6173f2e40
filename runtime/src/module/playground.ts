// Playground components (`io.statefun.playground.v1/ingress|egress`): the HTTP ingress and the
// pollable egress of StateFun's playground image, with their fixed ids.

import { z } from 'zod';
import { parseEventTime } from './event-time.js';
import type { ComponentScope } from './scope.js';
import { integer, list, mapping, nonEmptyText, port, validate } from './schema.js';
import type { PlaygroundEgressConfig, PlaygroundIngressConfig } from './types.js';

export const PLAYGROUND_INGRESS_KIND = 'io.statefun.playground.v1/ingress';
export const PLAYGROUND_EGRESS_KIND = 'io.statefun.playground.v1/egress';
/** The playground ingress has no `id` key; this is its fixed id. */
export const PLAYGROUND_INGRESS_ID = 'io.statefun.playground/ingress';
/** Functions address the playground egress by this fixed id. */
export const PLAYGROUND_EGRESS_ID = 'io.statefun.playground/egress';

/** Largest request body the playground ingress takes when module.yaml does not say. */
export const DEFAULT_PLAYGROUND_BODY_LIMIT = 4 * 1024 * 1024;
/** `bodyLimit` may not exceed this: the ingress holds each body in memory. */
export const MAX_PLAYGROUND_BODY_LIMIT = 1024 * 1024 * 1024;

const ingressSchema = mapping({
  port,
  bodyLimit: integer({
    min: 1,
    max: MAX_PLAYGROUND_BODY_LIMIT,
    expected: `the largest request body in bytes, a whole number from 1 to ${MAX_PLAYGROUND_BODY_LIMIT} (1 GiB)`,
  }).nullish(),
  eventTime: z.unknown().nullish(),
});
const egressSchema = mapping({ port, topics: list(nonEmptyText('a topic name'), 'topic name') });

/** Validates an `io.statefun.playground.v1/ingress` spec. */
export function parsePlaygroundIngress(
  scope: ComponentScope,
  spec: unknown,
): PlaygroundIngressConfig | undefined {
  const parsed = validate(scope, ingressSchema, spec, []);
  const eventTime = parseEventTime(scope, spec, 'playground');
  if (parsed === undefined || eventTime === undefined) return undefined;
  return {
    kind: PLAYGROUND_INGRESS_KIND,
    port: parsed.port,
    bodyLimit: parsed.bodyLimit ?? DEFAULT_PLAYGROUND_BODY_LIMIT,
    eventTime,
    source: scope.source,
  };
}

/** Validates an `io.statefun.playground.v1/egress` spec. */
export function parsePlaygroundEgress(
  scope: ComponentScope,
  spec: unknown,
): PlaygroundEgressConfig | undefined {
  const parsed = validate(scope, egressSchema, spec, []);
  if (parsed === undefined) return undefined;
  const topics = [...new Set(parsed.topics)];
  if (topics.length !== parsed.topics.length) scope.warning(['topics'], 'a topic is listed more than once');
  return {
    kind: PLAYGROUND_EGRESS_KIND,
    id: PLAYGROUND_EGRESS_ID,
    port: parsed.port,
    topics,
    source: scope.source,
  };
}
