import { defineConfig } from 'vitest/config';

// `npm run soak:hostile` only: soak runs are long and never part of `npm test` (whose include
// is test/**/*.test.ts; these files end in .soak.ts).
export default defineConfig({
  test: {
    include: ['test/soak/**/*.soak.ts'],
    environment: 'node',
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 24 * 3600_000,
    hookTimeout: 120_000,
  },
});
