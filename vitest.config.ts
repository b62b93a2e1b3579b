import { defineConfig } from 'vitest/config';

// Slow tests (real QEMU, real browser, real Slurm) are named *.slow.test.ts; `npm run test:fast` skips them.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 300_000,
    pool: 'forks',
  },
});
