/**
 * GPT-2's pre-tokenization split, exactly as the Hugging Face `ByteLevel` pre-tokenizer
 * (`use_regex: true`) applies it: contractions, optional-space + letters / numbers / other,
 * and whitespace runs. BPE merges never cross these pieces.
 */
export const BYTE_LEVEL_SPLIT =
  /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Splits text into pre-tokenization pieces (see {@link BYTE_LEVEL_SPLIT}). */
export const splitPieces = (text: string): string[] => text.match(BYTE_LEVEL_SPLIT) ?? [];

/**
 * GPT-2's reversible byte -> printable character map used by `tokenizer.json` byte-level
 * vocabularies: printable Latin-1 bytes map to themselves, the other 68 to U+0100 upwards.
 * Index = byte value.
 */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const keep = (b: number) =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const out: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) out.push(String.fromCharCode(keep(b) ? b : next++));
  return out;
})();

/** Inverse of {@link BYTE_TO_CHAR}. */
export const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));
