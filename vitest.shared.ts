import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// vite conditions replace the defaults, so spread them back. The custom
// condition points workspace imports at TypeScript sources: no build needed.
export default defineConfig({
  ssr: { resolve: { conditions: ['@dynconv/source', ...defaultServerConditions] } },
  resolve: { conditions: ['@dynconv/source', ...defaultServerConditions] },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    env: { EGL_PLATFORM: 'surfaceless', XDG_RUNTIME_DIR: '/tmp', DYNCONV_TEST: '1' },
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
