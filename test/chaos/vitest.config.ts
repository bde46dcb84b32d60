import { defineConfig } from 'vitest/config';

// `npm run chaos` only (test/chaos/cli.mjs runs it): a campaign is long and never part of
// `npm test`, whose include is test/**/*.test.ts (these files end in .chaos.ts). The 10-fault
// run that is part of `npm test` is test/cluster/chaos.test.ts.
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.chaos.ts'],
    environment: 'node',
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 24 * 3600_000,
    hookTimeout: 180_000,
  },
});
