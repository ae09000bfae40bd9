import { builtinModules } from 'node:module';
import type { Plugin } from 'vite';

const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

/**
 * Fails the browser build when any module imports a Node built-in. Vite would
 * otherwise swap in an empty stub with a warning and the page would break at
 * run time; the error names the importing file so the culprit is obvious.
 */
export function forbidNodeBuiltins(): Plugin {
  return {
    name: 'dynconv:forbid-node-builtins',
    enforce: 'pre',
    resolveId(source, importer) {
      if (source.startsWith('node:') || builtins.has(source))
        this.error(
          `Node built-in "${source}" imported by ${importer ?? '(entry)'}: the page must be browser-only`,
        );
      return null;
    },
  };
}
