import { describe, expect, it } from 'vitest';
import { clusterView, type MemberReport } from '../../src/cluster/membership.js';

const at = Date.parse('2026-01-01T00:00:10Z');
const member = (
  instance: string,
  partitions: number[],
  reportedAt = '2026-01-01T00:00:08Z',
): MemberReport => ({
  instance,
  startedAt: '2026-01-01T00:00:00Z',
  reportedAt,
  ready: true,
  partitions: partitions.map((partition) => ({ partition, status: 'running', lag: 0, watermark: undefined })),
});

describe('clusterView', () => {
  it('lists members by name with the age of their reports, and finds unowned and contested partitions', () => {
    const v = clusterView(6, [member('b', [2, 3]), member('a', [0, 1, 3], '2026-01-01T00:00:09.5Z')], at);
    expect(v.members.map((m) => [m.instance, m.reportAgeMs])).toEqual([
      ['a', 500],
      ['b', 2000],
    ]);
    expect(v.unowned).toEqual([4, 5]);
    expect(v.contested).toEqual([3]);
    expect(v.totalPartitions).toBe(6);
  });

  it('with no reports every partition is unowned', () => {
    expect(clusterView(3, [], at)).toEqual({
      totalPartitions: 3,
      members: [],
      unowned: [0, 1, 2],
      contested: [],
    });
  });
});
