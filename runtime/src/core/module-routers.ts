// Routers built from a loaded module: function type → endpoint (exact type beats namespace
// wildcard), and egress id → log record (Kafka egress records, playground egress records).
import type { EgressMessage } from '@continuum/sdk/protocol';
import { decodeKafkaProducerRecord, KAFKA_PRODUCER_RECORD_TYPENAME } from '@continuum/sdk/protocol';
import { endpointUrl, resolveEndpoint } from '../module/resolve.js';
import type { ModuleConfig } from '../module/types.js';
import type { EgressRoute, EgressRouter, FunctionRouter, FunctionTarget } from './routing.js';

export const PLAYGROUND_EGRESS_ID = 'io.statefun.playground/egress';
export const PLAYGROUND_EGRESS_RECORD_TYPENAME = 'io.statefun.playground/EgressRecord';

/** The log topic that holds a playground egress topic's records. */
export function playgroundTopic(topic: string): string {
  return `continuum-playground.${topic}`;
}

export function moduleFunctionRouter(module: ModuleConfig): FunctionRouter {
  const cache = new Map<string, FunctionTarget | undefined>();
  return {
    resolve(functionType: string): FunctionTarget | undefined {
      if (cache.has(functionType)) return cache.get(functionType);
      const endpoint = resolveEndpoint(module, functionType);
      const target =
        endpoint === undefined
          ? undefined
          : { endpoint, url: endpointUrl(endpoint, functionType), maxBatch: endpoint.maxNumBatchRequests };
      // Function types come from data (messages), so the cache is bounded.
      if (cache.size >= 10_000) cache.clear();
      cache.set(functionType, target);
      return target;
    },
  };
}

export function moduleEgressRouter(module: ModuleConfig): EgressRouter {
  const kafka = new Set(module.kafkaEgresses.map((e) => e.id));
  const playground = new Map<string, Set<string>>(
    module.playgroundEgresses.map((e) => [e.id, new Set(e.topics)]),
  );
  const decoder = new TextDecoder('utf-8', { fatal: true });
  return {
    route(message: EgressMessage, eventTime: number): EgressRoute {
      const id = `${message.egressNamespace}/${message.egressType}`;
      const arg = message.argument;
      if (kafka.has(id)) {
        if (arg.typename !== KAFKA_PRODUCER_RECORD_TYPENAME) {
          return {
            code: 'EGRESS_VALUE_INVALID',
            error: `Kafka egress ${id} takes values of type ${KAFKA_PRODUCER_RECORD_TYPENAME}, got ${arg.typename}`,
          };
        }
        let rec;
        try {
          rec = decodeKafkaProducerRecord(arg.value);
        } catch (err) {
          return {
            code: 'EGRESS_VALUE_INVALID',
            error: `Kafka egress ${id}: undecodable KafkaProducerRecord: ${String(err)}`,
          };
        }
        if (rec.topic === '')
          return { code: 'EGRESS_VALUE_INVALID', error: `Kafka egress ${id}: the record names no topic` };
        return {
          record: {
            topic: rec.topic,
            key: rec.key === '' ? null : rec.key,
            value: rec.valueBytes,
            timestamp: eventTime,
          },
        };
      }
      const topics = playground.get(id);
      if (topics !== undefined) {
        if (arg.typename !== PLAYGROUND_EGRESS_RECORD_TYPENAME) {
          return {
            code: 'EGRESS_VALUE_INVALID',
            error: `playground egress takes values of type ${PLAYGROUND_EGRESS_RECORD_TYPENAME}, got ${arg.typename}`,
          };
        }
        let parsed: unknown;
        try {
          parsed = JSON.parse(decoder.decode(arg.value));
        } catch {
          return {
            code: 'EGRESS_VALUE_INVALID',
            error: 'playground egress record is not UTF-8 JSON {"topic","payload"}',
          };
        }
        const { topic, payload } = (parsed ?? {}) as { topic?: unknown; payload?: unknown };
        if (typeof topic !== 'string' || !topics.has(topic)) {
          return {
            code: 'EGRESS_TOPIC_UNKNOWN',
            error: `playground egress topic ${JSON.stringify(topic)} is not one of the declared topics [${[...topics].join(', ')}]`,
          };
        }
        const text = typeof payload === 'string' ? payload : JSON.stringify(payload ?? null);
        return {
          record: {
            topic: playgroundTopic(topic),
            key: null,
            value: new TextEncoder().encode(text),
            timestamp: eventTime,
          },
        };
      }
      return { code: 'EGRESS_UNKNOWN', error: `no egress with id ${id} is declared in module.yaml` };
    },
  };
}
