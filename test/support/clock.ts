/**
 * A clock for the `now` that the app (createTestApp / startTestServer), its services, the reconciler, the notification
 * sender and the simulator take, so a test moves time on instead of sleeping through a timeout or a back-off.
 */
export interface TestClock {
  now: () => Date;
  /** Moves the clock `ms` forward. */
  advance(ms: number): void;
}

/** Real time plus whatever the test adds: safe for a whole app, whose tokens, timers and timestamps keep running. */
export function runningClock(): TestClock {
  let offset = 0;
  return {
    now: () => new Date(Date.now() + offset),
    advance(ms) {
      offset += ms;
    },
  };
}

/** Stands still at `at` until the test moves it: for exact timestamps. */
export function frozenClock(at: Date): TestClock {
  let t = at.getTime();
  return {
    now: () => new Date(t),
    advance(ms) {
      t += ms;
    },
  };
}
