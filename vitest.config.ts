import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'],
    setupFiles: ['test/support/setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Most tests wait on sockets and timers, not the CPU: three files at once on a 2-core runner (vitest's default
    // would be one) more than halves the wall time.
    maxWorkers: 3,
    reporters: ['default'],
  },
});
