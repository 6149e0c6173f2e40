// vitest globalSetup of the integration and chaos projects: one Kafka broker and one Redis for the
// whole run, handed to tests as inject('kafkaBrokers') and inject('redisUrl').
import '@continuum/runtime/kafkajs-patch';
import type { TestProject } from 'vitest/node';
import { startKafka } from './kafka.js';
import type { KafkaHandle } from './kafka.js';
import './provided-context.js';
import { startRedis } from './redis.js';
import type { RedisHandle } from './redis.js';

/** Starts the shared servers and returns the teardown that stops them. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [kafka, redis] = await Promise.allSettled([startKafka(), startRedis()]);
  const started = [kafka, redis].flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = [kafka, redis].flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (failed.length > 0) {
    await Promise.allSettled(started.map((s) => s.stop()));
    throw failed[0];
  }
  const kafkaHandle = (kafka as PromiseFulfilledResult<KafkaHandle>).value;
  const redisHandle = (redis as PromiseFulfilledResult<RedisHandle>).value;
  project.provide('kafkaBrokers', kafkaHandle.brokers.join(','));
  project.provide('redisUrl', redisHandle.url);
  return async () => {
    await Promise.allSettled([kafkaHandle.stop(), redisHandle.stop()]);
  };
}
