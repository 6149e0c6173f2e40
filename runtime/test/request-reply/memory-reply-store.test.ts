// The dev-mode reply store against the ReplyStore contract.
import { MemoryReplyStore } from '../../src/request-reply/reply-store.js';
import { describeReplyStoreContract } from './reply-store-contract.js';

describeReplyStoreContract('the memory reply store', () => Promise.resolve(new MemoryReplyStore()));
