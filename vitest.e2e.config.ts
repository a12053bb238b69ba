import { defineConfig } from 'vitest/config';

// End-to-end tests: the real app as a child process, driven by Debian's Chromium. One file at a time (each starts
// its own app and browser; CI machines have 2 cores), with timeouts generous enough for a slow runner.
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.test.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 90_000,
    teardownTimeout: 30_000,
    reporters: ['default'],
  },
});
