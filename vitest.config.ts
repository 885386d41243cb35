import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests start their own servers; two cores cannot run many at once.
    fileParallelism: true,
    maxWorkers: 2,
    pool: 'forks',
  },
});
