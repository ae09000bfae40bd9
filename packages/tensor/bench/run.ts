/**
 * `pnpm bench [name]`: bundles `bench/<name>.ts` (default `gpu-bench`) with
 * esbuild (Node's type stripping cannot follow the sources' `.js` import
 * specifiers to `.ts` files) and runs it. This file itself only uses Node
 * built-ins and esbuild, so strip-types runs it.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const name = process.argv[2] ?? 'gpu-bench';
const outfile = join(here, '..', 'dist-bundle', name === 'gpu-bench' ? 'bench.mjs' : `${name}.mjs`);
await build({
  entryPoints: [join(here, `${name}.ts`)],
  bundle: true,
  platform: 'node',
  format: 'esm',
  external: ['webgpu'],
  conditions: ['@dynconv/source'],
  outfile,
  logLevel: 'warning',
});
await import(pathToFileURL(outfile).href);
