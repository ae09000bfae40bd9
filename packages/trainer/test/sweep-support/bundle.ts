import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

/**
 * Dawn stays external (a native addon), but the bundle lives in a temp
 * folder where bare `webgpu` does not resolve: point it at the copy the
 * tensor package depends on, by absolute path.
 */
const externalWebgpu: Plugin = {
  name: 'external-webgpu',
  setup(b) {
    const fromTensor = createRequire(fileURLToPath(new URL('../../../tensor/package.json', import.meta.url)));
    b.onResolve({ filter: /^webgpu$/ }, () => ({ path: fromTensor.resolve('webgpu'), external: true }));
  },
};

/**
 * Bundles the sweep test entry (`sweep-process.ts`) into one ESM file, the
 * way the CLI is shipped, so tests can spawn it as a real Node process.
 * Returns the bundle's path.
 */
export const bundleSweepProcess = async (): Promise<string> => {
  const outfile = join(mkdtempSync(join(tmpdir(), 'dynconv-sweep-bin-')), 'sweep-process.mjs');
  await build({
    entryPoints: [fileURLToPath(new URL('./sweep-process.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    outfile,
    plugins: [externalWebgpu],
    conditions: ['@dynconv/source'],
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
    logLevel: 'warning',
  });
  return outfile;
};

/** Path of the toy run script used as the sweeps' command executor. */
export const toyRunScript = fileURLToPath(new URL('./toy-run.mjs', import.meta.url));
