import { defineConfig } from 'vitest/config';

// `node test/bench/copy-census.mjs` only: the copy census is a measurement, never part of
// `npm test` (whose include is test/**/*.test.ts; this file ends in .census.ts).
export default defineConfig({
  test: {
    include: ['test/bench/**/*.census.ts'],
    environment: 'node',
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 600_000,
    hookTimeout: 60_000,
  },
});
