import { expect as globalExpect, vi, type ExpectStatic } from 'vitest';

/** The default wait: generous, because a loaded 2-core CI runner can take seconds over what takes milliseconds here. */
export const WAIT_MS = 10_000;

export interface WaitOptions {
  /** How long to keep trying; WAIT_MS unless said. */
  timeout?: number;
  /** Pause between tries; 25 ms unless said. */
  interval?: number;
  /** A concurrent test's own `expect` (from its context); the global one otherwise. */
  expect?: ExpectStatic;
}

/**
 * The one way tests wait for something real to happen (a callback travelling, a prompt finishing, a process
 * starting): vitest's expect.poll, until `check` returns something truthy, which is returned. A `check` that throws is
 * tried again; on the last try its error (or "waiting for <what>") fails the test. In a beforeAll, where expect.poll
 * cannot run, vi.waitFor does the same. Waiting for a clock to pass is not this helper's job: give the code a test clock
 * (test/support/clock.ts) and move it.
 */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, opts: WaitOptions = {}): Promise<Exclude<T, false | null | undefined | 0 | ''>> {
  const expect = opts.expect ?? globalExpect;
  const timeout = opts.timeout ?? WAIT_MS;
  const interval = opts.interval ?? 25;
  let value: T | undefined;
  let poll: ReturnType<typeof expect.poll> | undefined;
  try {
    poll = expect.poll(async () => (value = await check()), { timeout, interval, message: `waiting for ${what}` });
  } catch {
    // Not in a test (expect.poll refuses hooks).
  }
  if (poll) {
    await poll.toBeTruthy();
  } else {
    value = await vi.waitFor(async () => {
      const v = await check();
      if (!v) throw new Error(`timed out waiting for ${what}`);
      return v;
    }, { timeout, interval });
  }
  return value as Exclude<T, false | null | undefined | 0 | ''>;
}
