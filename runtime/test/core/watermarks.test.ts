// The partition watermark: the minimum over the active sources of the expected groups, unknown
// members holding it back, idle ones left out, never decreasing, and restored from a snapshot.
import { describe, expect, it } from 'vitest';
import { expandMembers, WatermarkTracker, type WatermarkMark } from '../../src/core/watermarks.js';

const mark = (
  source: string,
  watermark: number | 'idle',
  group = 'ex/clicks',
  members = 'clicks:2',
): WatermarkMark => ({
  group,
  source,
  members,
  watermark,
});

describe('the watermark tracker', () => {
  it('is the minimum over the members of a group; a declared member not heard from holds it back', () => {
    const t = new WatermarkTracker(['ex/clicks']);
    expect(t.watermark).toBe(-Infinity);
    expect(t.apply(mark('clicks/0', 100))).toBe(false);
    expect(t.watermark).toBe(-Infinity);
    expect(t.apply(mark('clicks/1', 80))).toBe(true);
    expect(t.watermark).toBe(80);
    t.apply(mark('clicks/1', 150));
    expect(t.watermark).toBe(100);
  });

  it('is the minimum over groups; a group not heard from at all holds it back', () => {
    const t = new WatermarkTracker(['ex/clicks', 'ex/views']);
    t.apply(mark('clicks/0', 100, 'ex/clicks', 'clicks:1'));
    expect(t.watermark).toBe(-Infinity);
    t.apply(mark('views/0', 300, 'ex/views', 'views:1'));
    expect(t.watermark).toBe(100);
  });

  it('never decreases, per source or for the partition', () => {
    const t = new WatermarkTracker(['ex/clicks']);
    t.apply(mark('clicks/0', 100));
    t.apply(mark('clicks/1', 100));
    expect(t.apply(mark('clicks/0', 50))).toBe(false);
    expect(t.watermark).toBe(100);
    t.apply(mark('clicks/1', 200));
    expect(t.watermark).toBe(100); // clicks/0 kept 100, not 50
  });

  it('leaves idle sources out until they send a watermark again, and stays put when every source is idle', () => {
    const t = new WatermarkTracker(['ex/clicks']);
    t.apply(mark('clicks/0', 100));
    t.apply(mark('clicks/1', 'idle'));
    expect(t.watermark).toBe(100);
    t.apply(mark('clicks/0', 400));
    expect(t.watermark).toBe(400);
    // Back from idleness behind the others: it holds further progress, the watermark stays.
    t.apply(mark('clicks/1', 250));
    expect(t.watermark).toBe(400);
    t.apply(mark('clicks/0', 900));
    expect(t.watermark).toBe(400);
    t.apply(mark('clicks/1', 500));
    expect(t.watermark).toBe(500);
    t.apply(mark('clicks/0', 'idle'));
    t.apply(mark('clicks/1', 'idle'));
    expect(t.watermark).toBe(500);
  });

  it('a group whose members are all idle does not hold the others back', () => {
    const t = new WatermarkTracker(['ex/clicks', 'ex/views']);
    t.apply(mark('views/0', 'idle', 'ex/views', 'views:1'));
    t.apply(mark('clicks/0', 70));
    t.apply(mark('clicks/1', 90));
    expect(t.watermark).toBe(70);
  });

  it('ignores groups it does not expect, and counts members beyond the declared ones (a topic grew)', () => {
    const t = new WatermarkTracker(['ex/clicks']);
    expect(t.apply(mark('other/0', 1_000, 'ex/other', 'other:1'))).toBe(false);
    t.apply(mark('clicks/0', 100));
    t.apply(mark('clicks/1', 100));
    t.apply(mark('clicks/2', 50)); // not declared in clicks:2, still a source
    t.apply(mark('clicks/0', 300));
    t.apply(mark('clicks/1', 300));
    expect(t.watermark).toBe(100); // held back by clicks/2
    t.apply(mark('clicks/2', 200));
    expect(t.watermark).toBe(200);
  });

  it('survives serialisation (recovery), and drops groups that left the module', () => {
    const t = new WatermarkTracker(['ex/clicks', 'ex/gone']);
    t.apply(mark('clicks/0', 100));
    t.apply(mark('clicks/1', 'idle'));
    t.apply(mark('gone/0', 500, 'ex/gone', 'gone:1'));
    expect(t.watermark).toBe(100);
    const restored = WatermarkTracker.restore(t.serialize(), ['ex/clicks', 'ex/gone']);
    expect(restored.watermark).toBe(100);
    expect(restored.serialize()).toBe(t.serialize());
    restored.apply(mark('clicks/0', 50));
    expect(restored.watermark).toBe(100);
    // clicks/1 is still idle after the restore: clicks/0 alone moves the watermark.
    restored.apply(mark('clicks/0', 160));
    expect(restored.watermark).toBe(160);

    const narrowed = WatermarkTracker.restore(t.serialize(), ['ex/clicks']);
    narrowed.apply(mark('clicks/0', 120));
    expect(narrowed.watermark).toBe(120);
    expect(JSON.parse(narrowed.serialize()).g).not.toHaveProperty('ex/gone');
    expect(WatermarkTracker.restore(undefined, ['ex/clicks']).watermark).toBe(-Infinity);
    expect(() => WatermarkTracker.restore('{"v":7}', ['ex/clicks'])).toThrow(/unknown watermark snapshot/);
  });

  it('without expected groups it never advances', () => {
    const t = new WatermarkTracker([]);
    expect(t.apply(mark('clicks/0', 100))).toBe(false);
    expect(t.watermark).toBe(-Infinity);
  });

  it('expands member declarations and skips malformed entries', () => {
    expect(expandMembers('a:2,b.c-d:1')).toEqual(['a/0', 'a/1', 'b.c-d/0']);
    expect(expandMembers('x,y:z,:3,w:-1')).toEqual([]);
  });
});
