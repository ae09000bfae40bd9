import { defineConfig } from 'vitest/config';

// Root config used by `pnpm test` and CI: every package is a project, one summary.
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*'],
    reporters: ['default', './.ci/summary-reporter.ts'],
  },
});
