import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';

export const APP_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface BuiltFile {
  readonly path: string;
  readonly bytes: number;
  readonly gzipBytes: number;
}

export interface BuiltPage {
  readonly outDir: string;
  /** Shipped files (source maps excluded), sorted by path. */
  readonly files: readonly BuiltFile[];
}

/** A production build of the page with the app's own vite.config.ts, into a fresh temporary folder. */
export async function buildPage(): Promise<BuiltPage> {
  const outDir = await mkdtemp(join(tmpdir(), 'dynconv-playground-'));
  await build({
    root: APP_ROOT,
    configFile: join(APP_ROOT, 'vite.config.ts'),
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true },
  });
  const files: BuiltFile[] = [];
  for (const entry of await readdir(outDir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || extname(entry.name) === '.map') continue;
    const content = await readFile(join(entry.parentPath, entry.name));
    files.push({
      path: relative(outDir, join(entry.parentPath, entry.name)),
      bytes: content.byteLength,
      gzipBytes: gzipSync(content, { level: 9 }).byteLength,
    });
  }
  files.sort((a, b) => a.path.localeCompare(b.path));
  return { outDir, files };
}
