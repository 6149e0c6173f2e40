import { describe, expect, it } from 'vitest';
import { playgroundEgressRecordType, types } from '@continuum/sdk';
import { invoke, testMessage } from '@continuum/sdk/testing';
import { GreetRequest, greeter, GREETS_EGRESS, playgroundGreeter } from '../src/greeter.js';

describe('greeter', () => {
  it('welcomes a first-time visitor through the Kafka egress, keyed by the user id', async () => {
    const result = await invoke(greeter, { id: 'alice', messages: ['Alice'] });
    expect(result.state.seen).toBe(1);
    expect(result.egress).toHaveLength(1);
    expect(result.egress[0]!.egress).toBe(GREETS_EGRESS);
    const record = result.egress[0]!.asKafkaRecord();
    expect([record.topic, record.key, record.valueAsString()]).toEqual([
      'greetings',
      'alice',
      'Hello Alice! Welcome.',
    ]);
  });

  it('counts the visits of each user across invocations and within a batch', async () => {
    const result = await invoke(greeter, {
      id: 'bob',
      state: { seen: 2 },
      messages: ['Bob', testMessage(GreetRequest, { name: 'Bobby' })],
    });
    expect(result.state.seen).toBe(4);
    expect(result.egress.map((e) => e.asKafkaRecord().valueAsString())).toEqual([
      'Hello Bob! Nice to see you again (visit #3).',
      'Hello Bobby! Nice to see you again (visit #4).',
    ]);
  });

  it('replies through the playground egress in its playground variant', async () => {
    const result = await invoke(playgroundGreeter, { id: 'carol', messages: ['Carol'] });
    expect(result.egress[0]!.egress).toBe('io.statefun.playground/egress');
    expect(result.egress[0]!.as(playgroundEgressRecordType)).toEqual({
      topic: 'greetings',
      payload: 'Hello Carol! Welcome.',
    });
  });

  it('fails on a message of an unexpected type, naming the types it reads', async () => {
    await expect(invoke(greeter, { messages: [testMessage(types.int, 1)] })).rejects.toThrow(
      /reads example\/GreetRequest or io.statefun.types\/string messages, not io.statefun.types\/int/,
    );
  });
});
