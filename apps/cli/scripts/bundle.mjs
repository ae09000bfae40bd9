// Bundles the CLI into one ESM file so it starts fast; Dawn stays external.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/main.ts'],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  outfile: 'dist-bundle/dynconv.mjs',
  external: ['webgpu'],
  conditions: ['@dynconv/source'],
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  },
  logLevel: 'warning',
});
