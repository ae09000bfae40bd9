import { sha256Hex } from '../checksum.js';
import type { Tokenizer } from './tokenizer.js';

/**
 * The built-in tokenizer: one token per UTF-8 byte, ids 0..255. Lossless for any text and
 * needs no training, which makes it the default for small experiments and tests.
 */
export class ByteLevelTokenizer implements Tokenizer {
  readonly id = 'byte-level';
  readonly hash = sha256Hex('dynconv/tokenizer/byte-level/v1');
  readonly vocabSize = 256;
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });

  /** UTF-8 bytes of `text` (the ids are the byte values). */
  encode(text: string): Uint8Array {
    return this.encoder.encode(text);
  }

  decode(ids: ArrayLike<number>): string {
    return this.decoder.decode(ids instanceof Uint8Array ? ids : Uint8Array.from(ids as ArrayLike<number>));
  }
}
