import { defineConfig, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared.ts';

// The tests spawn the bundled CLI (built once in globalSetup) as child processes.
export default mergeConfig(
  shared,
  defineConfig({ test: { pool: 'forks', isolate: false, globalSetup: ['test/global-setup.ts'] } }),
);
