import { describe, expect, it } from 'vitest';
import { decodeConfig, transformer } from '../src/index.js';

const decode = (v: object) => decodeConfig(transformer.configSchema, v);

describe('transformer FLOPs per token (training = 3 × forward)', () => {
  it('counts matmuls, attention 2·2·T·d per layer, and the DSC terms (hand-computed tiny case)', () => {
    const c = decode({
      vocabSize: 10,
      dModel: 8,
      nLayers: 2,
      nHeads: 2,
      mlpHidden: 16,
      conv: 'dynamic-qkv',
      dsc: { rank: 2, width: 3 },
    });
    const projections = 2 * (4 * 8 * 8);
    const attention = 2 * 2 * 32 * 8;
    const mlp = 2 * (2 * 8 * 16 + 16 * 8);
    // Per stream: generator 2·d·R + taps 2·R·W·D + static add W·D + conv 2·W·D + residual D.
    const dsc = 3 * (2 * 8 * 2 + 2 * 2 * 3 * 8 + 3 * 8 + 2 * 3 * 8 + 8);
    const head = 2 * 8 * 10;
    expect(transformer.flopsPerToken(c, 32)).toBe(3 * (2 * (projections + attention + mlp + dsc) + head));
  });

  it('paper 300M at T = 4096: 6N + attention; QKV DSC adds 0.53 MFLOP per layer forward (method.md §1.8)', () => {
    const paper = { vocabSize: 100352, dModel: 1024, nLayers: 16, nHeads: 16, mlpHidden: 2752 };
    const base = transformer.flopsPerToken(decode(paper), 4096);
    const nonEmbedding = 305_169_408 - 100352 * 1024 - 1024 - 16 * 2 * 1024;
    expect(base).toBe(6 * nonEmbedding + 6 * 1024 * 100352 + 3 * 16 * 2 * 2 * 4096 * 1024);
    const dsc = transformer.flopsPerToken(decode({ ...paper, conv: 'dynamic-qkv' }), 4096);
    expect((dsc - base) / 3 / 16).toBe(531_456);
    // Pre-projection + skip: +7d² matmul FLOPs per layer per token (forward).
    const pre = transformer.flopsPerToken(decode({ ...paper, preProjection: 'on+skip' }), 4096);
    expect((pre - base) / 3 / 16).toBe(2 * (2 * 1024 * 1280 + 1024 * 1024));
  });
});
