import { argmax, narrow, noGrad, tensor } from '@dynconv/tensor';
import { describe, expect, it } from 'vitest';
import { generate, SamplingRng, sampleRow, samplingDistribution, transformer } from '../src/index.js';
import { cpu, randomIds, randomizeParameters, tinyConfig } from './helpers.js';

const logits = [2, 0, 1, -1, 3]; // probabilities order: 4, 0, 2, 1, 3

const frequencies = (o: Parameters<typeof sampleRow>[1], draws = 4000, seed = 1) => {
  const rng = new SamplingRng(seed);
  const counts = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < draws; i++) counts[sampleRow(logits, o, rng.next())]!++;
  return counts.map((c) => c / draws);
};

describe('sampling', () => {
  it('temperature 0 is greedy', () => {
    expect(sampleRow(logits, { temperature: 0 }, 0.99)).toBe(4);
  });

  it('samples the softmax at temperature 1 and sharpens as the temperature drops', () => {
    const z = logits.reduce((s, l) => s + Math.exp(l), 0);
    const f = frequencies({});
    for (const [i, l] of logits.entries()) expect(Math.abs(f[i]! - Math.exp(l) / z)).toBeLessThan(0.03);
    expect(frequencies({ temperature: 0.3 })[4]).toBeGreaterThan(f[4]! + 0.2);
  });

  it('top-k keeps the k most likely tokens, top-p the smallest nucleus reaching p', () => {
    expect(samplingDistribution(logits, { topK: 2 }).ids).toEqual([4, 0]);
    const f = frequencies({ topK: 2 });
    expect(f[1]! + f[2]! + f[3]!).toBe(0);
    const e = Math.exp(1);
    expect(samplingDistribution(logits, { topK: 2 }).probs[0]).toBeCloseTo(e / (e + 1), 10);
    // Probabilities ≈ [0.231, 0.031, 0.085, 0.011, 0.629] (by id): 0.629 < 0.8 ≤ 0.629 + 0.231.
    expect(samplingDistribution(logits, { topP: 0.8 }).ids).toEqual([4, 0]);
    expect(samplingDistribution(logits, { topP: 0.5 }).ids).toEqual([4]);
    expect(samplingDistribution(logits, { topP: 0.9 }).ids).toEqual([4, 0, 2]);
  });

  it('a seed reproduces the draws; another seed differs', () => {
    const draw = (seed: number) =>
      Array.from(
        { length: 20 },
        (
          (rng) => () =>
            sampleRow(logits, {}, rng.next())
        )(new SamplingRng(seed)),
      );
    expect(draw(5)).toEqual(draw(5));
    expect(draw(5)).not.toEqual(draw(6));
  });
});

describe('generate', () => {
  it('greedy generation continues like argmax of the full forward', async () => {
    const config = tinyConfig({ conv: 'dynamic-qkv', nKvHeads: 2 });
    const model = transformer.build(config, { backend: cpu, seed: 1 });
    randomizeParameters(model, 2, 0.5);
    const prompt = randomIds(2, 4, config.vocabSize, 3);
    const promptRows = [
      Array.from(await narrow(prompt, 0, 0, 1).contiguous().data()),
      Array.from(await narrow(prompt, 0, 1, 1).contiguous().data()),
    ];
    const out = await generate(model, promptRows, { maxNewTokens: 5, temperature: 0 });
    expect(out.map((r) => r.length)).toEqual([5, 5]);
    // Re-derive each token by a full forward over the sequence so far.
    for (let b = 0; b < 2; b++) {
      const seq = [...promptRows[b]!];
      for (let i = 0; i < 5; i++) {
        const ids = tensor(Int32Array.from(seq), { shape: [1, seq.length], backend: cpu });
        const next = noGrad(() => argmax(narrow(model.forward({ ids }), 1, seq.length - 1, 1), -1));
        const token = (await next.data())[0]!;
        expect(out[b]![i]).toBe(token);
        seq.push(token);
      }
    }
    const sampled = await generate(model, promptRows, { maxNewTokens: 4, temperature: 1, topK: 5, seed: 9 });
    expect(await generate(model, promptRows, { maxNewTokens: 4, temperature: 1, topK: 5, seed: 9 })).toEqual(
      sampled,
    );
    model.dispose();
  });
});
