import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { describe, expect, it } from 'vitest';
import {
  ByteLevelBpeTokenizer,
  ByteLevelTokenizer,
  HuggingFaceTokenizer,
  splitPieces,
  trainByteLevelBpe,
} from '../src/index.js';
import { Rng, randomProse, randomText, tempDir } from './helpers.js';

describe('ByteLevelTokenizer', () => {
  it('round-trips random unicode text through UTF-8 bytes', () => {
    const tok = new ByteLevelTokenizer();
    const rng = new Rng(1);
    for (let i = 0; i < 50; i++) {
      const text = randomText(rng, rng.nextInt(300), { newlines: true });
      const ids = tok.encode(text);
      expect(ids.length).toBe(Buffer.byteLength(text, 'utf8'));
      expect(Math.max(0, ...ids)).toBeLessThan(256);
      expect(tok.decode(ids)).toBe(text);
      expect(tok.decode(Array.from(ids))).toBe(text);
    }
  });

  it('has a stable identity', () => {
    expect(new ByteLevelTokenizer().hash).toBe(new ByteLevelTokenizer().hash);
    expect(new ByteLevelTokenizer().vocabSize).toBe(256);
  });
});

describe('trainByteLevelBpe', () => {
  const corpus = (seed: number) => {
    const rng = new Rng(seed);
    return Array.from({ length: 40 }, () => randomProse(rng, 50 + rng.nextInt(100)));
  };

  it('learns the requested vocabulary size and round-trips text', async () => {
    const bpe = await trainByteLevelBpe(corpus(2), { vocabSize: 300 });
    expect(bpe.vocabSize).toBe(300);
    expect(bpe.id).toBe('byte-level-bpe-300');
    const rng = new Rng(3);
    for (let i = 0; i < 30; i++) {
      const text = i % 2 ? randomProse(rng, 30) : randomText(rng, 100, { newlines: true });
      const ids = bpe.encode(text);
      expect(Math.max(0, ...ids)).toBeLessThan(300);
      expect(bpe.decode(ids)).toBe(text);
    }
    // Merges actually compress prose.
    const prose = randomProse(new Rng(4), 200);
    expect(bpe.encode(prose).length).toBeLessThan(Buffer.byteLength(prose) * 0.6);
  });

  it('is deterministic and accepts async iterables', async () => {
    const docs = corpus(5);
    async function* stream() {
      yield* docs;
    }
    const a = await trainByteLevelBpe(docs, { vocabSize: 280 });
    const b = await trainByteLevelBpe(stream(), { vocabSize: 280 });
    expect(b.hash).toBe(a.hash);
    const c = await trainByteLevelBpe(corpus(6), { vocabSize: 280 });
    expect(c.hash).not.toBe(a.hash);
  });

  it('stops early on a corpus too small for the vocabulary', async () => {
    const bpe = await trainByteLevelBpe(['abab abab'], { vocabSize: 1000 });
    expect(bpe.vocabSize).toBeGreaterThan(256);
    expect(bpe.vocabSize).toBeLessThan(270);
    expect(bpe.decode(bpe.encode('abab abab x'))).toBe('abab abab x');
  });

  it('rejects vocabulary sizes outside [256, 2^20]', async () => {
    await expect(trainByteLevelBpe(['x'], { vocabSize: 255 })).rejects.toThrow(RangeError);
    await expect(trainByteLevelBpe(['x'], { vocabSize: 2 ** 20 + 1 })).rejects.toThrow(RangeError);
  });

  it('saves a tokenizer.json that @huggingface/tokenizers loads and encodes identically', async () => {
    const bpe = await trainByteLevelBpe(corpus(7), { vocabSize: 300 });
    expect(bpe.vocabSize).toBe(300);
    const dir = await tempDir();
    const path = join(dir, 'tokenizer.json');
    await bpe.save(path);

    // Straight through the library, no wrapper.
    const raw = new HfTokenizer(JSON.parse(await readFile(path, 'utf8')), {});
    const hf = await HuggingFaceTokenizer.load(path);
    expect(hf.vocabSize).toBe(300);
    expect(hf.hash).toBe(bpe.hash);

    const reloaded = await ByteLevelBpeTokenizer.load(path);
    expect(reloaded.hash).toBe(bpe.hash);

    const rng = new Rng(8);
    for (let i = 0; i < 40; i++) {
      const text = i % 3 === 0 ? randomText(rng, 150, { newlines: true }) : randomProse(rng, 60);
      const ours = Array.from(bpe.encode(text));
      expect(raw.encode(text, { add_special_tokens: false }).ids).toEqual(ours);
      expect(Array.from(hf.encode(text))).toEqual(ours);
      expect(Array.from(reloaded.encode(text))).toEqual(ours);
      expect(raw.decode(ours, { clean_up_tokenization_spaces: false })).toBe(text);
      expect(hf.decode(ours)).toBe(text);
    }
  });

  it('matches the GPT-2 pre-tokenizer split', () => {
    expect(splitPieces("Hello  world, it's 2024!\n\n  x")).toEqual([
      'Hello',
      ' ',
      ' world',
      ',',
      ' it',
      "'s",
      ' 2024',
      '!',
      '\n\n ',
      ' x',
    ]);
  });
});

describe('ByteLevelBpeTokenizer.fromTokenizerJson', () => {
  it('rejects tokenizer.json files it cannot reproduce', async () => {
    const bpe = await trainByteLevelBpe(['aa bb aa bb'], { vocabSize: 260 });
    const json = JSON.parse(bpe.toTokenizerJson());
    expect(() => ByteLevelBpeTokenizer.fromTokenizerJson({ ...json, normalizer: { type: 'NFC' } })).toThrow(
      /normalizer/,
    );
    expect(() =>
      ByteLevelBpeTokenizer.fromTokenizerJson({
        ...json,
        pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true },
      }),
    ).toThrow(/pre_tokenizer/);
    // ... which HuggingFaceTokenizer still loads.
    const hf = new HuggingFaceTokenizer(
      JSON.stringify({ ...json, pre_tokenizer: { ...json.pre_tokenizer, add_prefix_space: true } }),
    );
    expect(hf.decode(hf.encode('aa bb'))).toBe(' aa bb');
  });
});

describe('ByteLevelBpeTokenizer merge order', () => {
  it('agrees with @huggingface/tokenizers when two merges spell the same token and ranks interleave', () => {
    const b = (s: string) => new TextEncoder().encode(s);
    const vocab = [
      ...Array.from({ length: 256 }, (_, i) => Uint8Array.of(i)),
      b('ab'),
      b('bc'),
      b('abc'),
      b('cc'),
      b('abcc'),
    ];
    const [A, B, C] = [97, 98, 99];
    const merges = [
      { left: B, right: C, merged: 257 },
      { left: A, right: B, merged: 256 },
      { left: 256, right: C, merged: 258 },
      { left: C, right: C, merged: 259 },
      { left: 256, right: 259, merged: 260 },
      { left: A, right: 257, merged: 258 }, // same bytes as rank 2
    ];
    const bpe = new ByteLevelBpeTokenizer(vocab, merges);
    const hf = new HuggingFaceTokenizer(bpe.toTokenizerJson());
    const rng = new Rng(9);
    for (let i = 0; i < 300; i++) {
      const text = Array.from({ length: 1 + rng.nextInt(12) }, () => 'abc '[rng.nextInt(4)]).join('');
      expect(Array.from(bpe.encode(text)), text).toEqual(Array.from(hf.encode(text)));
    }
    // "abc": (b,c) has rank 0, then (a,bc) at rank 5 gives the shared "abc" id.
    expect(Array.from(bpe.encode('abc'))).toEqual([258]);
  });
});
