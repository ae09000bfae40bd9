import { defineConfig, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared.ts';

// The browser test builds the page, installs Chromium when missing and trains
// on SwiftShader: give its hooks room for a first-time `apt-get install`.
export default mergeConfig(shared, defineConfig({ test: { testTimeout: 180_000, hookTimeout: 600_000 } }));
