import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Effect } from 'effect';
import { prepareCorpus } from '../../src/prepare.js';

/**
 * A small real-text corpus for study tests: this package's own TypeScript
 * sources (copied as `.txt`, since plain text is recognised by extension),
 * byte-level tokenized with `prepareCorpus` as `dynconv prepare` does.
 */
export const prepareSourceCorpus = async (outDir: string): Promise<string> => {
  const srcDir = fileURLToPath(new URL('../../src/', import.meta.url));
  const textDir = `${outDir}-text`;
  mkdirSync(textDir, { recursive: true });
  const inputs = readdirSync(srcDir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .sort()
    .map((f, i) => {
      const path = join(textDir, `${String(i).padStart(4, '0')}.txt`);
      copyFileSync(join(srcDir, f), path);
      return path;
    });
  await Effect.runPromise(prepareCorpus({ inputs, outDir, tokenizer: 'byte-level', textSplit: 'file' }));
  return outDir;
};
