import { describe, expect, it } from 'vitest';
import { ProcessBudget, StateCacheBudget } from '../../src/core/process-budget.js';

describe('process budget', () => {
  it('refuses past its limit and wakes each waiter once when the use falls to half', () => {
    const budget = new ProcessBudget('CONTINUUM_X', 4);
    expect(budget.tryTake(3)).toBe(true);
    expect(budget.tryTake(2)).toBe(false);
    expect(budget.inUse).toBe(3);
    let woken = 0;
    const waiter = (): void => void woken++;
    budget.whenRoom(waiter);
    budget.whenRoom(waiter);
    budget.release(0);
    budget.release(); // 2 = half: room again
    expect(woken).toBe(1);
    budget.release();
    expect(woken).toBe(1);
    budget.take(9); // input already in memory is counted past the limit
    expect(budget.hasRoom()).toBe(false);
    budget.release(20);
    expect(budget.inUse).toBe(0);
  });

  it('a forgotten waiter is not called', () => {
    const budget = new ProcessBudget('CONTINUUM_X', 2);
    budget.take(2);
    let woken = 0;
    const waiter = (): void => void woken++;
    budget.whenRoom(waiter);
    budget.forget(waiter);
    budget.release(2);
    expect(woken).toBe(0);
  });

  it('names the setting when its limit is not a positive integer', () => {
    expect(() => new ProcessBudget('CONTINUUM_MAX_HANDED_OVER_RECORDS', 0)).toThrow(
      'CONTINUUM_MAX_HANDED_OVER_RECORDS must be a positive integer, not 0',
    );
    expect(() => new StateCacheBudget(1.5)).toThrow('at least 1 address, not 1.5');
  });
});
