import { beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../support/wait.js';

describe('waitFor, the one poll the tests use', () => {
  let fromHook: number;
  beforeAll(async () => {
    let n = 0;
    fromHook = await waitFor('three tries in a hook', () => (++n >= 3 ? n : undefined), { interval: 1 });
  });

  it('when the check turns truthy, then it returns that value, in a test as in a beforeAll', async () => {
    let n = 0;
    expect(await waitFor('three tries', () => (++n >= 3 ? { n } : false), { interval: 1 })).toEqual({ n: 3 });
    expect(fromHook).toBe(3);
  });

  it('when the check throws before it passes, then it is tried again', async () => {
    let n = 0;
    const value = await waitFor('a flaky read', async () => {
      if (++n < 3) throw new Error('not yet');
      return 'read';
    }, { interval: 1 });
    expect(value).toBe('read');
  });

  it('when the check never passes, then it fails within its timeout, saying what it waited for', async () => {
    const started = Date.now();
    await expect(waitFor('the impossible', () => false, { timeout: 100, interval: 10 })).rejects.toThrow(/waiting for the impossible/);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
