import { readFile } from 'node:fs/promises';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { sha256Hex } from '../checksum.js';
import type { Tokenizer } from './tokenizer.js';

/** Options of {@link HuggingFaceTokenizer}. */
export interface HuggingFaceTokenizerOptions {
  /** Identity for manifests; default `hf-<model type>-<vocabSize>`. */
  readonly id?: string;
  /** Contents of `tokenizer_config.json`, if any (BOS/EOS names, cleanup flags). */
  readonly config?: object;
  /** Let the post-processor add special tokens (BOS/EOS) when encoding; default false. */
  readonly addSpecialTokens?: boolean;
}

/**
 * Any Hugging Face `tokenizer.json` (BPE, WordPiece, Unigram...) through `@huggingface/tokenizers`.
 * The hash is the SHA-256 of the `tokenizer.json` text (plus the config, when given).
 */
export class HuggingFaceTokenizer implements Tokenizer {
  readonly id: string;
  readonly hash: string;
  readonly vocabSize: number;
  /** The underlying `@huggingface/tokenizers` instance. */
  readonly inner: HfTokenizer;
  private readonly addSpecialTokens: boolean;

  /** @param json the `tokenizer.json` text */
  constructor(json: string, options: HuggingFaceTokenizerOptions = {}) {
    const parsed = JSON.parse(json) as Record<string, unknown>;
    parsed['added_tokens'] ??= []; // the JS library iterates it unconditionally
    this.inner = new HfTokenizer(parsed, options.config ?? {});
    let maxId = -1;
    for (const id of this.inner.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    const modelType = (parsed['model'] as { type?: string } | undefined)?.type ?? 'model';
    this.id = options.id ?? `hf-${modelType.toLowerCase()}-${this.vocabSize}`;
    this.hash = sha256Hex(options.config === undefined ? json : `${json}\n${JSON.stringify(options.config)}`);
    this.addSpecialTokens = options.addSpecialTokens ?? false;
  }

  /** Loads `tokenizer.json` (and optionally `tokenizer_config.json`) from disk. */
  static async load(
    path: string,
    options: Omit<HuggingFaceTokenizerOptions, 'config'> & { readonly configPath?: string } = {},
  ): Promise<HuggingFaceTokenizer> {
    const json = await readFile(path, 'utf8');
    const { configPath, ...rest } = options;
    const config =
      configPath !== undefined ? (JSON.parse(await readFile(configPath, 'utf8')) as object) : undefined;
    return new HuggingFaceTokenizer(json, config !== undefined ? { ...rest, config } : rest);
  }

  /** Encodes one document. Throws if the tokenizer yields a piece it cannot map to an id (no `unk_token`). */
  encode(text: string): Uint32Array {
    const ids = this.inner.encode(text, { add_special_tokens: this.addSpecialTokens }).ids;
    const out = new Uint32Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (typeof id !== 'number')
        throw new Error(`tokenizer ${this.id} has no id for a piece of the input (no unk_token)`);
      out[i] = id;
    }
    return out;
  }

  /** Decodes without "clean-up" of spaces before punctuation, so encode/decode round-trips. */
  decode(ids: ArrayLike<number>): string {
    return this.inner.decode(Array.from(ids), {
      skip_special_tokens: false,
      clean_up_tokenization_spaces: false,
    });
  }
}
