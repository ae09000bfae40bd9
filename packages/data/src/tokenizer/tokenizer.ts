/** Token ids as a tokenizer returns them (a fresh array the caller may keep). */
export type TokenIds = Uint8Array | Uint16Array | Uint32Array;

/**
 * Text <-> token ids. Implementations: {@link ByteLevelTokenizer}, {@link ByteLevelBpeTokenizer}
 * (trained here, fast encoder) and {@link HuggingFaceTokenizer} (any `tokenizer.json`).
 */
export interface Tokenizer {
  /** Human-readable identity, recorded in manifests (e.g. `byte-level`, `bpe-1024`). */
  readonly id: string;
  /** Hex SHA-256 of the tokenizer's definition; two tokenizers with equal hashes encode identically. */
  readonly hash: string;
  /** Number of ids: every id returned by `encode` is in `[0, vocabSize)`. */
  readonly vocabSize: number;
  /** Encodes one document. No special tokens are added. */
  encode(text: string): TokenIds;
  /** Decodes ids back to text (invalid UTF-8 becomes U+FFFD). */
  decode(ids: ArrayLike<number>): string;
}
