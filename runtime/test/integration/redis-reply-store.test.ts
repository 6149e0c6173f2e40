// The Redis reply store against the ReplyStore contract on a real Redis.
import { afterAll, inject } from 'vitest';
import { Redis } from 'ioredis';
import { uniqueName } from '@continuum/test-infra';
import { RedisReplyStore } from '../../src/request-reply/redis-reply-store.js';
import { describeReplyStoreContract } from '../request-reply/reply-store-contract.js';

const redisUrl = inject('redisUrl');
const clients: Redis[] = [];

describeReplyStoreContract('the Redis reply store', () => {
  const redis = new Redis(redisUrl);
  clients.push(redis);
  return Promise.resolve(new RedisReplyStore({ redis, keyPrefix: uniqueName('replies') }));
});

afterAll(() => {
  for (const c of clients) c.disconnect();
});
