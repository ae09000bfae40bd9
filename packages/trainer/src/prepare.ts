import { join } from 'node:path';
import {
  ByteLevelTokenizer,
  ingest,
  readTextDocuments,
  type TextSplit,
  type Tokenizer,
  trainByteLevelBpe,
} from '@dynconv/data';
import { Effect } from 'effect';
import { DataError } from './errors.js';

/** What `dynconv prepare` asks for. */
export interface PrepareRequest {
  readonly inputs: readonly string[];
  readonly outDir: string;
  /** `byte-level` (default) or `bpe:<vocab size>` (trained on the inputs, saved as `tokenizer.json`). */
  readonly tokenizer: string;
  readonly textSplit: TextSplit;
}

const tokenizerFor = (spec: string, inputs: readonly string[], split: TextSplit, outDir: string) =>
  Effect.tryPromise({
    try: async (): Promise<Tokenizer> => {
      if (spec === 'byte-level') return new ByteLevelTokenizer();
      const m = /^bpe:(\d+)$/.exec(spec);
      if (!m) throw new Error(`unknown tokenizer '${spec}' (use byte-level or bpe:<vocab size>)`);
      async function* documents() {
        for (const path of inputs)
          for await (const d of readTextDocuments(path, split)) if (d.text !== null) yield d.text;
      }
      const bpe = await trainByteLevelBpe(documents(), { vocabSize: Number(m[1]) });
      await bpe.save(join(outDir, 'tokenizer.json'));
      return bpe;
    },
    catch: (e) => new DataError({ reason: (e as Error).message }),
  });

/** Tokenizes text files into a corpus folder the `corpus` data kind (and `tinylm-*` presets) train on. */
export const prepareCorpus = (request: PrepareRequest) =>
  Effect.gen(function* () {
    const tokenizer = yield* tokenizerFor(
      request.tokenizer,
      request.inputs,
      request.textSplit,
      request.outDir,
    );
    return yield* Effect.tryPromise({
      try: () =>
        ingest({ inputs: request.inputs, outDir: request.outDir, tokenizer, textSplit: request.textSplit }),
      catch: (e) => new DataError({ reason: (e as Error).message }),
    });
  });
