import { defineConfig, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared.ts';

// One Dawn device per worker, shared across files: forks without isolation.
export default mergeConfig(shared, defineConfig({ test: { pool: 'forks', isolate: false } }));
