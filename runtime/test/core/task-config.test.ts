import { describe, expect, it } from 'vitest';
import { defaultTaskConfig } from '../../src/core/partition-task.js';
import { resolveTaskConfig } from '../../src/core/task-config.js';
import { embeddedRuntime } from './harness.js';

describe('the partition task configuration', () => {
  it('is the defaults with the overrides applied, an undefined override keeping its default', () => {
    const config = resolveTaskConfig({ maxPendingTimers: 7, checkpointMaxRecords: undefined });
    expect(config).toEqual({ ...defaultTaskConfig, maxPendingTimers: 7 });
    expect(resolveTaskConfig()).toEqual(defaultTaskConfig);
  });

  it('is deeply frozen, and leaves the defaults it came from alone', () => {
    const config = resolveTaskConfig({ requestMemory: { retentionMs: 1000, maxIds: 3 } });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.requestMemory)).toBe(true);
    expect(() => ((config as { timerBatch: number }).timerBatch = 1)).toThrow(TypeError);
    expect(defaultTaskConfig.requestMemory).not.toBe(config.requestMemory);
    expect(Object.isFrozen(defaultTaskConfig)).toBe(false);
  });

  it('names every field that is wrong', () => {
    expect(() =>
      resolveTaskConfig({
        maxOutstandingRecords: 0,
        overloadBackoffMs: 1.5,
        deadLetterTopic: '',
        requestMemory: { retentionMs: -1, maxIds: 10 },
      }),
    ).toThrow(
      expect.objectContaining({
        code: 'TASK_CONFIG',
        message:
          'invalid partition task configuration: maxOutstandingRecords must be at least 1; ' +
          'deadLetterTopic must be a non-empty topic name; overloadBackoffMs must be an integer; ' +
          'requestMemory.retentionMs must be at least 0',
      }),
    );
    expect(() => resolveTaskConfig({ maxPendingTimer: 5 } as never)).toThrow(
      'invalid partition task configuration: unknown field "maxPendingTimer"',
    );
  });

  it('a runtime refuses an invalid task configuration before it starts', async () => {
    await expect(embeddedRuntime({ handlers: {}, task: { stateCacheAddresses: 0 } })).rejects.toThrow(
      'stateCacheAddresses must be at least 1',
    );
  });
});
