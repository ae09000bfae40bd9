import { defaultClientConditions, defineConfig } from 'vite';
import { forbidNodeBuiltins } from './build/forbid-node-builtins.ts';

// Workspace packages are bundled from their TypeScript sources (the custom
// condition), so the page never needs a prior `tsc -b` of the packages.
export default defineConfig({
  base: './',
  resolve: { conditions: ['@dynconv/source', ...defaultClientConditions] },
  plugins: [forbidNodeBuiltins()],
  build: { target: 'es2023', outDir: 'dist', emptyOutDir: true, sourcemap: true },
});
