import { defineConfig } from 'vitest/config';

// Integration tests (test/integration) start real tandemd processes and real initiators, so
// timeouts are long and at most two test files run at once (CI machines have 2 cores). Ports
// never clash: tandemd listens on 127.0.0.1:0 and reports its port (test/helpers/daemon.ts).
// TANDEM_TEST_JSON=FILE adds vitest's JSON report (.ci/run reads it for its summary line).
const jsonReport = process.env.TANDEM_TEST_JSON;

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['**/node_modules/**', 'dist/**'],
    environment: 'node',
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    ...(jsonReport ? { reporters: ['default', 'json'], outputFile: { json: jsonReport } } : {}),
  },
});
