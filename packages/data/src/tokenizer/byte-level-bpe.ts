import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../atomic-write.js';
import { sha256Hex } from '../checksum.js';
import { BYTE_LEVEL_SPLIT, BYTE_TO_CHAR, CHAR_TO_BYTE } from './byte-level-pretokenize.js';
import type { Tokenizer } from './tokenizer.js';

/** Ids are packed as `left * PAIR_BASE + right` into one number (exact below 2^53). */
const PAIR_BASE = 1 << 20;
/** Largest vocabulary the pair packing supports. */
export const MAX_BPE_VOCAB = PAIR_BASE;

/** The parts of a `tokenizer.json` that {@link ByteLevelBpeTokenizer.fromTokenizerJson} inspects. */
interface TokenizerJson {
  readonly normalizer?: unknown;
  readonly added_tokens?: readonly unknown[];
  readonly pre_tokenizer?: {
    readonly type?: string;
    readonly add_prefix_space?: boolean;
    readonly use_regex?: boolean;
  } | null;
  readonly model?: {
    readonly type?: string;
    readonly continuing_subword_prefix?: string | null;
    readonly end_of_word_suffix?: string | null;
    readonly byte_fallback?: boolean;
    readonly vocab?: Record<string, number>;
    readonly merges?: ReadonlyArray<string | readonly [string, string]>;
  } | null;
}

/** A merge rule: `left` followed by `right` becomes `merged`. Index in the list = rank (lower first). */
export interface BpeMerge {
  readonly left: number;
  readonly right: number;
  readonly merged: number;
}

/** Options of the {@link ByteLevelBpeTokenizer} constructor and loaders. */
export interface ByteLevelBpeOptions {
  /** Identity recorded in manifests; default `byte-level-bpe-<vocabSize>`. */
  readonly id?: string;
}

/**
 * A GPT-2-style byte-level BPE (ids 0..255 are the bytes; merges add the rest), with its own
 * encoder that reproduces the Hugging Face `tokenizers` algorithm exactly: GPT-2 pre-tokenization,
 * then within each piece repeatedly merge the adjacent pair of lowest rank, leftmost first.
 * Serialises to a standard `tokenizer.json` that `@huggingface/tokenizers` (and Python
 * `tokenizers`) load.
 */
export class ByteLevelBpeTokenizer implements Tokenizer {
  readonly id: string;
  readonly hash: string;
  readonly vocabSize: number;
  /** Merge rules in rank order. */
  readonly merges: readonly BpeMerge[];
  /** UTF-8 bytes of each id. */
  private readonly tokenBytes: readonly Uint8Array[];
  private readonly rankOf = new Map<number, number>();
  /** Id of each single byte (0..255 for vocabularies trained here). */
  private readonly byteId = new Int32Array(256).fill(-1);
  private readonly cache = new Map<string, Uint32Array>();
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });
  private readonly json: string;

  /**
   * @param tokenBytes bytes of every id; every single byte must have an id (trained ones use ids 0..255)
   * @param merges merge rules in rank order; `merged`'s bytes must be `left`'s then `right`'s
   */
  constructor(
    tokenBytes: readonly Uint8Array[],
    merges: readonly BpeMerge[],
    options: ByteLevelBpeOptions = {},
  ) {
    if (tokenBytes.length < 256 || tokenBytes.length > MAX_BPE_VOCAB) {
      throw new RangeError(`vocabulary size ${tokenBytes.length} outside [256, ${MAX_BPE_VOCAB}]`);
    }
    const seen = new Map<string, number>();
    tokenBytes.forEach((t, id) => {
      const key = Buffer.from(t).toString('latin1');
      if (seen.has(key)) throw new RangeError(`ids ${seen.get(key)} and ${id} have the same bytes`);
      seen.set(key, id);
      if (t.length === 1) this.byteId[t[0]!] = id;
    });
    const missing = this.byteId.indexOf(-1);
    if (missing >= 0)
      throw new RangeError(`no id for the single byte ${missing}: byte-level BPE needs all 256`);
    merges.forEach((m, rank) => {
      const l = tokenBytes[m.left];
      const r = tokenBytes[m.right];
      const o = tokenBytes[m.merged];
      if (
        !l ||
        !r ||
        !o ||
        o.length !== l.length + r.length ||
        !o.every((x, i) => x === (i < l.length ? l[i] : r[i - l.length]))
      ) {
        throw new RangeError(
          `merge ${rank} (${m.left}, ${m.right}) -> ${m.merged} is inconsistent with the vocabulary`,
        );
      }
      const key = m.left * PAIR_BASE + m.right;
      if (!this.rankOf.has(key)) this.rankOf.set(key, rank);
    });
    this.tokenBytes = tokenBytes;
    this.merges = merges;
    this.vocabSize = tokenBytes.length;
    this.id = options.id ?? `byte-level-bpe-${this.vocabSize}`;
    this.json = this.buildTokenizerJson();
    this.hash = sha256Hex(this.json);
  }

  /**
   * Reads a byte-level BPE `tokenizer.json` (as written by {@link save}): ByteLevel
   * pre-tokenizer with the GPT-2 regex and no prefix space, BPE model, no normalizer, no added
   * tokens. Anything else throws: use {@link HuggingFaceTokenizer} for general files.
   */
  static fromTokenizerJson(
    source: string | object,
    options: ByteLevelBpeOptions = {},
  ): ByteLevelBpeTokenizer {
    const json = (typeof source === 'string' ? JSON.parse(source) : source) as TokenizerJson;
    const pre = json.pre_tokenizer;
    const model = json.model;
    const unsupported = (what: string): never => {
      throw new Error(
        `not a plain byte-level BPE tokenizer.json (${what}); load it with HuggingFaceTokenizer`,
      );
    };
    if (json.normalizer != null) unsupported('has a normalizer');
    if (Array.isArray(json.added_tokens) && json.added_tokens.length > 0) unsupported('has added tokens');
    if (pre?.type !== 'ByteLevel' || pre.add_prefix_space || pre.use_regex === false) {
      unsupported('pre_tokenizer is not ByteLevel(add_prefix_space=false)');
    }
    if (
      model?.type !== 'BPE' ||
      model.continuing_subword_prefix ||
      model.end_of_word_suffix ||
      model.byte_fallback
    ) {
      return unsupported('model is not plain BPE');
    }
    if (model.vocab === undefined || model.merges === undefined)
      return unsupported('model has no vocab or merges');
    const vocab = model.vocab;
    const tokenBytes: Uint8Array[] = [];
    for (const [token, id] of Object.entries(vocab)) {
      const bytes = new Uint8Array(token.length);
      for (let i = 0; i < token.length; i++) {
        const b = CHAR_TO_BYTE.get(token[i]!);
        if (b === undefined) unsupported(`token ${JSON.stringify(token)} is not byte-level`);
        bytes[i] = b!;
      }
      tokenBytes[id] = bytes;
    }
    for (let id = 0; id < tokenBytes.length; id++)
      if (!tokenBytes[id]) unsupported(`id ${id} is missing from the vocabulary`);
    const merges = model.merges.map((m, rank) => {
      const [l, r] = typeof m === 'string' ? (m.split(' ', 2) as [string, string]) : m;
      const left = vocab[l];
      const right = vocab[r];
      const merged = vocab[l + r];
      if (left === undefined || right === undefined || merged === undefined)
        unsupported(`merge ${rank} names unknown tokens`);
      return { left: left!, right: right!, merged: merged! };
    });
    return new ByteLevelBpeTokenizer(tokenBytes, merges, options);
  }

  /** Loads a `tokenizer.json` file (see {@link fromTokenizerJson}). */
  static async load(path: string, options: ByteLevelBpeOptions = {}): Promise<ByteLevelBpeTokenizer> {
    return ByteLevelBpeTokenizer.fromTokenizerJson(await readFile(path, 'utf8'), options);
  }

  /** The canonical `tokenizer.json` text (its SHA-256 is {@link hash}). */
  toTokenizerJson(): string {
    return this.json;
  }

  /** Writes `tokenizer.json` atomically. */
  async save(path: string): Promise<void> {
    await writeFileAtomic(path, this.json);
  }

  /** Encodes one document; ids in a `Uint32Array`. */
  encode(text: string): Uint32Array {
    let out = new Uint32Array(Math.max(16, text.length));
    let n = 0;
    BYTE_LEVEL_SPLIT.lastIndex = 0;
    for (const match of text.matchAll(BYTE_LEVEL_SPLIT)) {
      const piece = match[0];
      let ids = this.cache.get(piece);
      if (ids === undefined) {
        ids = this.encodePiece(piece);
        if (this.cache.size >= 1 << 18) this.cache.clear(); // bound memory on huge vocabularies of pieces
        this.cache.set(piece, ids);
      }
      if (n + ids.length > out.length) {
        const grown = new Uint32Array(Math.max(out.length * 2, n + ids.length));
        grown.set(out.subarray(0, n));
        out = grown;
      }
      out.set(ids, n);
      n += ids.length;
    }
    return out.slice(0, n);
  }

  /** Applies merges to one pre-tokenized piece: lowest rank first, leftmost on ties (HF's order). */
  private encodePiece(piece: string): Uint32Array {
    const word = Array.from(this.encoder.encode(piece), (b) => this.byteId[b]!);
    for (;;) {
      let best = -1;
      let bestRank = Number.POSITIVE_INFINITY;
      for (let i = 0; i + 1 < word.length; i++) {
        const rank = this.rankOf.get(word[i]! * PAIR_BASE + word[i + 1]!);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = i;
        }
      }
      if (best < 0) break;
      word.splice(best, 2, this.merges[bestRank]!.merged);
    }
    return Uint32Array.from(word);
  }

  decode(ids: ArrayLike<number>): string {
    let length = 0;
    for (let i = 0; i < ids.length; i++) length += this.bytesOf(ids[i]!).length;
    const bytes = new Uint8Array(length);
    let o = 0;
    for (let i = 0; i < ids.length; i++) {
      const t = this.bytesOf(ids[i]!);
      bytes.set(t, o);
      o += t.length;
    }
    return this.decoder.decode(bytes);
  }

  /** UTF-8 bytes of one id. */
  bytesOf(id: number): Uint8Array {
    const t = this.tokenBytes[id];
    if (t === undefined) throw new RangeError(`token id ${id} outside vocabulary of ${this.vocabSize}`);
    return t;
  }

  private buildTokenizerJson(): string {
    const chars = (bytes: Uint8Array) => Array.from(bytes, (b) => BYTE_TO_CHAR[b]!).join('');
    const vocab: Record<string, number> = {};
    this.tokenBytes.forEach((t, id) => {
      vocab[chars(t)] = id;
    });
    const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
    // Field order and values follow what Python `tokenizers` writes for a byte-level BPE.
    return JSON.stringify({
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [],
      normalizer: null,
      pre_tokenizer: byteLevel,
      post_processor: { ...byteLevel, trim_offsets: false },
      decoder: byteLevel,
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: false,
        vocab,
        merges: this.merges.map((m) => [chars(this.tokenBytes[m.left]!), chars(this.tokenBytes[m.right]!)]),
      },
    });
  }
}
