import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Effect } from 'effect';
import { prepareCorpus } from '../../src/prepare.js';

/**
 * A small real-text corpus for study tests: 160 KB of this package's
 * TypeScript sources, frozen as `.txt` files in `test/fixtures/corpus/`
 * (a snapshot, not the live sources: the study tests assert on loss
 * differences of 1e-3, and a corpus that changed with every source edit
 * flipped them), byte-level tokenized with `prepareCorpus` as `dynconv
 * prepare` does.
 */
export const prepareSourceCorpus = async (outDir: string): Promise<string> => {
  const textDir = fileURLToPath(new URL('../fixtures/corpus/', import.meta.url));
  const inputs = readdirSync(textDir)
    .filter((f) => f.endsWith('.txt'))
    .sort()
    .map((f) => join(textDir, f));
  await Effect.runPromise(prepareCorpus({ inputs, outDir, tokenizer: 'byte-level', textSplit: 'file' }));
  return outDir;
};
