import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    setupFiles: ['test/setup/edge-cleanup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration files share one broker and one Redis on a 2-core machine: run files one
    // after another so timing-sensitive failover tests are not starved by their neighbours.
    fileParallelism: false,
    reporters: ['default'],
  },
});
