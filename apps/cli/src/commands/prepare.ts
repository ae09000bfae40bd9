import { prepareCorpus } from '@dynconv/trainer';
import { Effect } from 'effect';
import { Argument, Command, Flag } from 'effect/cli';
import { asUserError } from '../errors.js';
import { println } from '../output.js';

/** `dynconv prepare` */
export const prepareCommand = Command.make(
  'prepare',
  {
    inputs: Argument.String('inputs').pipe(
      Argument.withDescription('Text files (.txt, .md, .jsonl, .parquet, .arrow)'),
      Argument.atLeast(1),
    ),
    out: Flag.String('out').pipe(
      Flag.withAlias('o'),
      Flag.withDescription('Corpus folder to write'),
      Flag.withDefault('corpora/tinyshakespeare'),
    ),
    tokenizer: Flag.String('tokenizer').pipe(
      Flag.withDescription('byte-level, or bpe:<vocab size> (trained on the inputs)'),
      Flag.withDefault('byte-level'),
    ),
    split: Flag.Literals('split', ['file', 'line', 'paragraph']).pipe(
      Flag.withDescription('How plain text is cut into documents'),
      Flag.withDefault('paragraph'),
    ),
  },
  (f) =>
    Effect.gen(function* () {
      const r = yield* prepareCorpus({
        inputs: f.inputs,
        outDir: f.out,
        tokenizer: f.tokenizer,
        textSplit: f.split,
      }).pipe(asUserError);
      yield* println(
        `${r.reused ? 'up to date' : 'wrote'} ${r.manifestPath}: ${r.manifest.documents} documents, ${r.manifest.tokens} tokens (${r.manifest.tokenizer.id}, vocabulary ${r.manifest.tokenizer.vocabSize})`,
      );
      yield* println(`train on it: dynconv train --preset tinylm-dsc --set data.path=${f.out}`);
    }),
).pipe(
  Command.withDescription(
    'Tokenize text into a corpus folder (Arrow shards + manifest) for corpus runs (tinylm-* presets).',
  ),
);
