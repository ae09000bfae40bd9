/** @dynconv/cli — the `dynconv` command (entry point: `main.ts`, bundled to `dist-bundle/dynconv.mjs`). */
export { cli, VERSION } from './cli.js';
