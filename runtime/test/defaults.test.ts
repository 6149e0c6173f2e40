// DEFAULTS is the one place for the runtime's defaults; the Helm chart, the README and the modules
// that keep a default of their own must say the same.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { defaultTaskConfig } from '../src/core/partition-task.js';
import { DEFAULTS } from '../src/defaults.js';
import { DEFAULT_REPLIES_TOPIC } from '../src/request-reply/reply-address.js';

const repo = new URL('../../', import.meta.url);

describe('DEFAULTS', () => {
  it('is frozen', () => {
    for (const part of [DEFAULTS, DEFAULTS.dev, DEFAULTS.run, DEFAULTS.task])
      expect(Object.isFrozen(part)).toBe(true);
  });

  it('the Helm chart values default to the same as the runtime where they overlap', () => {
    const values = parse(readFileSync(new URL('helm/continuum/values.yaml', repo), 'utf8')) as {
      runtime: Record<string, unknown> & { limits: Record<string, unknown> };
    };
    const { runtime } = values;
    expect({
      partitions: runtime.partitions,
      checkpointIntervalMs: runtime.checkpointIntervalMs,
      commitLingerMs: runtime.commitLingerMs,
      ingressHandOff: runtime.ingressHandOff,
      adminPort: runtime.adminPort,
      sessionTimeoutMs: runtime.kafkaSessionTimeoutMs,
      checkpointMaxRecords: runtime.limits.checkpointMaxRecords,
      maxOutstandingRecords: runtime.limits.maxOutstandingRecords,
      stateCacheAddresses: runtime.limits.stateCacheAddresses,
      processStateCacheAddresses: runtime.limits.processStateCacheAddresses,
      maxHandedOverRecords: runtime.limits.maxHandedOverRecords,
      ingressMaxQueuedRecords: runtime.limits.ingressMaxQueuedRecords,
      ingressFetchMaxBytes: runtime.limits.ingressFetchMaxBytes,
      maxPendingTimers: runtime.limits.maxPendingTimers,
    }).toEqual({
      partitions: DEFAULTS.run.partitions,
      checkpointIntervalMs: DEFAULTS.run.checkpointIntervalMs,
      commitLingerMs: DEFAULTS.run.commitLingerMs,
      ingressHandOff: DEFAULTS.run.ingressHandOff,
      adminPort: DEFAULTS.adminPort,
      sessionTimeoutMs: DEFAULTS.run.sessionTimeoutMs,
      checkpointMaxRecords: DEFAULTS.task.checkpointMaxRecords,
      maxOutstandingRecords: DEFAULTS.task.maxOutstandingRecords,
      stateCacheAddresses: DEFAULTS.task.stateCacheAddresses,
      processStateCacheAddresses: DEFAULTS.task.processStateCacheAddresses,
      maxHandedOverRecords: DEFAULTS.run.maxHandedOverRecords,
      ingressMaxQueuedRecords: DEFAULTS.run.ingressMaxQueuedRecords,
      ingressFetchMaxBytes: DEFAULTS.run.ingressFetchMaxBytes,
      maxPendingTimers: DEFAULTS.task.maxPendingTimers,
    });
  });

  it("the README's tables of variables give the same defaults", () => {
    const readme = readFileSync(new URL('README.md', repo), 'utf8');
    const documented = new Map<string, string>();
    // `| \`A\`, \`B\` | 1, 500 |`: several variables, their defaults in the same order.
    for (const [, names, values] of readme.matchAll(/^\| (`CONTINUUM_[^|]+) \| ([^|]+) \|/gmu)) {
      const defaults = values!.trim().split(', ');
      for (const [i, [, name]] of [...names!.matchAll(/`(CONTINUUM_\w+)`/gu)].entries())
        documented.set(name!, defaults[i]!);
    }
    const number = (text: string | undefined): number => Number(text?.replaceAll(',', ''));
    const expected = {
      CONTINUUM_COMMIT_LINGER_MS: DEFAULTS.run.commitLingerMs,
      CONTINUUM_CHECKPOINT_INTERVAL_MS: DEFAULTS.run.checkpointIntervalMs,
      CONTINUUM_TRANSACTION_TIMEOUT_MS: DEFAULTS.run.transactionTimeoutMs,
      CONTINUUM_FETCH_MIN_BYTES: DEFAULTS.run.fetchMinBytes,
      CONTINUUM_FETCH_MAX_WAIT_MS: DEFAULTS.run.fetchMaxWaitMs,
      CONTINUUM_CHECKPOINT_MAX_RECORDS: DEFAULTS.task.checkpointMaxRecords,
      CONTINUUM_MAX_OUTSTANDING_RECORDS: DEFAULTS.task.maxOutstandingRecords,
      CONTINUUM_STATE_CACHE_ADDRESSES: DEFAULTS.task.stateCacheAddresses,
      CONTINUUM_PROCESS_STATE_CACHE_ADDRESSES: DEFAULTS.task.processStateCacheAddresses,
      CONTINUUM_MAX_HANDED_OVER_RECORDS: DEFAULTS.run.maxHandedOverRecords,
      CONTINUUM_INGRESS_MAX_QUEUED_RECORDS: DEFAULTS.run.ingressMaxQueuedRecords,
      CONTINUUM_INGRESS_FETCH_MAX_BYTES: DEFAULTS.run.ingressFetchMaxBytes,
      CONTINUUM_MAX_PENDING_TIMERS: DEFAULTS.task.maxPendingTimers,
    };
    expect(Object.fromEntries(Object.keys(expected).map((k) => [k, number(documented.get(k))]))).toEqual(
      expected,
    );
    expect(documented.get('CONTINUUM_INGRESS_HANDOFF')).toBe(String(DEFAULTS.run.ingressHandOff));
  });

  it('the partition task and the request-reply code keep the same defaults', () => {
    expect(defaultTaskConfig).toMatchObject({
      checkpointIntervalMs: DEFAULTS.task.checkpointIntervalMs,
      checkpointMaxRecords: DEFAULTS.task.checkpointMaxRecords,
      maxOutstandingRecords: DEFAULTS.task.maxOutstandingRecords,
      stateCacheAddresses: DEFAULTS.task.stateCacheAddresses,
      processStateCacheAddresses: DEFAULTS.task.processStateCacheAddresses,
      maxPendingTimers: DEFAULTS.task.maxPendingTimers,
      deadLetterTopic: DEFAULTS.deadLetterTopic,
      repliesTopic: DEFAULTS.repliesTopic,
    });
    expect(DEFAULT_REPLIES_TOPIC).toBe(DEFAULTS.repliesTopic);
  });
});
