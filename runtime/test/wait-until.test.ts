// The shared test helper every test waits with: it returns the condition's value, and its timeout
// error names what was awaited (and the condition's last error).
import { describe, expect, it } from 'vitest';
import { waitUntil } from '@continuum/test-infra/wait-until';

describe('waitUntil', () => {
  it('returns the first value of the condition that is not undefined, null or false', async () => {
    let calls = 0;
    const value = await waitUntil(() => (++calls >= 3 ? { calls } : undefined), {
      timeoutMs: 5_000,
      what: 'the third call',
      intervalMs: 1,
    });
    expect(value).toEqual({ calls: 3 });
  });

  it('fails after timeoutMs naming what it waited for and the last error of the condition', async () => {
    const failing = waitUntil(
      () => {
        throw new Error('not connected yet');
      },
      { timeoutMs: 50, what: 'the broker to answer' },
    );
    await expect(failing).rejects.toThrow(
      'timed out after 50 ms waiting for the broker to answer (last error: not connected yet)',
    );
    await expect(waitUntil(() => false, { timeoutMs: 20, what: 'a flag' })).rejects.toMatchObject({
      code: 'TIMEOUT',
      message: 'timed out after 20 ms waiting for a flag',
    });
  });
});
