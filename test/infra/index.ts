// Public surface of @continuum/test-infra: real Kafka and Redis for integration tests, and helpers.
// kafkajs' read_committed filter leaks records of aborted transactions; fix it before kafkajs loads.
import '@continuum/runtime/kafkajs-patch';
export { InfraError } from './errors.js';
export type { InfraErrorCode } from './errors.js';
export { startKafka } from './kafka.js';
export type { KafkaHandle, StartKafkaOptions } from './kafka.js';
export { startRedis } from './redis.js';
export type { RedisHandle, StartRedisOptions } from './redis.js';
export { dockerReachable, infraSetting, resolveMode } from './mode.js';
export type { InfraMode, InfraSetting } from './mode.js';
export {
  createKafkaClient,
  createRedisClient,
  createTopic,
  pingRedis,
  probeKafkaTransactions,
  readTopic,
  uniqueName,
  appendEndMarkers,
  END_MARKER_HEADER,
} from './helpers.js';
export type { CreateTopicOptions, KafkaClientOptions, ReadTopicOptions, TopicRecord } from './helpers.js';
export { freePort } from './ports.js';
export { crashPointArgs, RuntimeFleet } from './runtime-fleet.js';
export type { RuntimeFleetOptions } from './runtime-fleet.js';
export type { ProvidedInfra } from './provided-context.js';
export { waitUntil } from './wait-until.js';
export type { WaitUntilOptions } from './wait-until.js';
