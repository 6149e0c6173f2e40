// Kafka connection settings and the kafkajs client factory, with kafkajs logs routed to ours and
// kafkajs errors mapped to the runtime's error codes.
import './kafkajs-patch.js';
import { Kafka, logLevel, type KafkaConfig, type SASLOptions } from 'kafkajs';
import { causeChain, ContinuumError } from '../../errors.js';
import type { Logger } from '../../logger.js';

export interface KafkaConnection {
  brokers: string[];
  clientId?: string | undefined;
  ssl?: boolean | undefined;
  sasl?:
    | { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string }
    | undefined;
  /** Connection timeout per broker (ms). */
  connectionTimeoutMs?: number | undefined;
}

export function createKafka(conn: KafkaConnection, logger: Logger): Kafka {
  if (conn.brokers.length === 0) {
    throw new ContinuumError(
      'KAFKA_CONFIG_INVALID',
      'no Kafka brokers configured (set CONTINUUM_KAFKA_BROKERS or --kafka)',
    );
  }
  const config: KafkaConfig = {
    clientId: conn.clientId ?? 'continuum',
    brokers: conn.brokers,
    connectionTimeout: conn.connectionTimeoutMs ?? 5000,
    retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 5000 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log }) => {
        const { message, ...rest } = log;
        const fields = { source: 'kafkajs', ...pick(rest) };
        if (level === logLevel.ERROR) logger.debug(message, fields);
        else if (level === logLevel.WARN) logger.debug(message, fields);
      },
  };
  if (conn.ssl === true) config.ssl = true;
  if (conn.sasl !== undefined) config.sasl = conn.sasl as SASLOptions;
  return new Kafka(config);
}

function pick(rest: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ['groupId', 'topic', 'partition', 'error', 'transactionalId'])
    if (k in rest) out[k] = rest[k];
  return out;
}

const FENCED_TYPES = new Set([
  'INVALID_PRODUCER_EPOCH',
  'PRODUCER_FENCED',
  'INVALID_PRODUCER_ID_MAPPING',
  'TRANSACTION_COORDINATOR_FENCED',
]);

/** Walks an error's cause chain for a kafkajs protocol error type. */
export function kafkaErrorType(err: unknown): string | undefined {
  for (const e of causeChain(err, 5)) {
    const type = (e as { type?: unknown }).type;
    if (typeof type === 'string') return type;
  }
  return undefined;
}

/** A runtime error for a failed Kafka operation: FENCED when a newer owner exists. */
export function kafkaError(what: string, err: unknown): ContinuumError {
  const type = kafkaErrorType(err);
  const detail = err instanceof Error ? err.message : String(err);
  if (type !== undefined && FENCED_TYPES.has(type)) {
    return new ContinuumError('FENCED', `${what}: a newer owner fenced this producer (${type})`, {
      cause: err,
    });
  }
  return new ContinuumError('KAFKA_UNAVAILABLE', `${what}: ${detail}${type ? ` (${type})` : ''}`, {
    cause: err,
    retryable: true,
  });
}
