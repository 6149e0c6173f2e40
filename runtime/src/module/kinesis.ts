// Kinesis components (`io.statefun.kinesis.v1/ingress|egress`): recognised and validated so that a
// StateFun module carrying them gets precise errors, but this runtime has no Kinesis connector.

import { z } from 'zod';
import type { ComponentScope } from './scope.js';
import { integer, list, mapping, nonEmptyText, oneOf, propertyList, typeName, validate } from './schema.js';

export const KINESIS_INGRESS_KIND = 'io.statefun.kinesis.v1/ingress';
export const KINESIS_EGRESS_KIND = 'io.statefun.kinesis.v1/egress';

const awsRegion = mapping({
  type: oneOf(['default', 'specific', 'custom-endpoint']),
  id: nonEmptyText('an AWS region id').nullish(),
  endpoint: nonEmptyText('an endpoint URL').nullish(),
}).nullish();

const awsCredentials = mapping({
  type: oneOf(['default', 'basic', 'profile']),
  accessKeyId: nonEmptyText().nullish(),
  secretAccessKey: nonEmptyText().nullish(),
  profileName: nonEmptyText().nullish(),
  profilePath: nonEmptyText().nullish(),
}).nullish();

const ingressSchema = mapping({
  id: typeName('the ingress id'),
  awsRegion,
  awsCredentials,
  startupPosition: mapping({
    type: oneOf(['latest', 'earliest', 'date']),
    date: z.unknown().nullish(),
  }).nullish(),
  streams: list(
    mapping({
      stream: nonEmptyText('a Kinesis stream name'),
      valueType: typeName('the type name of the record values'),
      targets: list(typeName('a function type'), 'function type'),
    }),
    'stream routing {stream, valueType, targets}',
  ),
  clientConfigProperties: z.unknown().nullish(),
});

const egressSchema = mapping({
  id: typeName('the egress id'),
  awsRegion,
  awsCredentials,
  maxOutstandingRecords: integer({ min: 1 }).nullish(),
  clientConfigProperties: z.unknown().nullish(),
});

/** Validates a Kinesis spec; returns its id when valid. */
export function validateKinesis(
  scope: ComponentScope,
  kind: string,
  spec: unknown,
): { id: string } | undefined {
  const parsed = validate(scope, kind === KINESIS_INGRESS_KIND ? ingressSchema : egressSchema, spec, []);
  const raw =
    spec !== null && typeof spec === 'object' && !Array.isArray(spec)
      ? (spec as Record<string, unknown>)['clientConfigProperties']
      : undefined;
  const properties =
    raw === undefined || raw === null ? {} : propertyList(scope, raw, ['clientConfigProperties']);
  if (parsed === undefined || properties === undefined) return undefined;
  return { id: parsed.id };
}
