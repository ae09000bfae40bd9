/**
 * `pnpm bench`: bundles `gpu-bench.ts` with esbuild (Node's type stripping
 * cannot follow the sources' `.js` import specifiers to `.ts` files) and runs it.
 * This file itself only uses Node built-ins and esbuild, so strip-types runs it.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const outfile = join(here, '..', 'dist-bundle', 'bench.mjs');
await build({
  entryPoints: [join(here, 'gpu-bench.ts')],
  bundle: true,
  platform: 'node',
  format: 'esm',
  external: ['webgpu'],
  conditions: ['@dynconv/source'],
  outfile,
  logLevel: 'warning',
});
await import(pathToFileURL(outfile).href);
