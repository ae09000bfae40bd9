import { concat, narrow, type Tensor, tensor, tidy } from '@dynconv/tensor';
import { describe, expect, it } from 'vitest';
import { decodeConfig, hybrid, type ModelV1, transformer } from '../src/index.js';
import { cpu, randomIds, randomizeParameters, tinyConfig } from './helpers.js';

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return a.length === b.length ? m : Number.POSITIVE_INFINITY;
};

/**
 * Prefill `prefill` tokens, then decode one at a time; compare all logits with
 * one full forward, and the final caches with the declared state shapes.
 */
async function checkDecode(
  model: ModelV1,
  shapes: Record<string, readonly number[]>,
  vocab: number,
  prefill: number,
): Promise<void> {
  const [B, T] = [2, 7];
  const ids = randomIds(B, T, vocab, 11);
  const full = model.forward({ ids });
  const before = cpu.liveBuffers();
  let state = model.initState(B, T);
  const chunks: Tensor[] = [];
  const spans: [number, number][] = [[0, prefill]];
  for (let t = prefill; t < T; t++) spans.push([t, 1]);
  for (const [s, n] of spans) {
    const chunk = tidy(() => narrow(ids, 1, s, n).contiguous());
    const r = model.step(chunk, state);
    chunk.dispose();
    state = r.state;
    chunks.push(r.logits);
  }
  expect(state.position).toBe(T);
  const stepped = concat(chunks, 1);
  expect(maxAbsDiff(await stepped.data(), await full.data())).toBeLessThan(5e-5);
  stepped.dispose();
  // Filled to maxLength (= T here), every cache has its declared shape.
  expect(Object.fromEntries([...state.tensors].map(([k, t]) => [k, t.shape]))).toEqual(shapes);
  model.disposeState(state);
  for (const c of chunks) c.dispose();
  // Each step's intermediates are gone; with the state freed, nothing remains.
  expect(cpu.liveBuffers()).toBe(before);
  full.dispose();
  ids.dispose();
}

const variants: [string, Record<string, unknown>][] = [
  ['no conv', {}],
  ['static-qkv', { conv: 'static-qkv' }],
  ['dynamic-qkv low-rank', { conv: 'dynamic-qkv', dsc: { rank: 3 } }],
  ['dynamic-qkv head-wise', { conv: 'dynamic-qkv', dsc: { variant: 'head-wise', headSize: 4, width: 3 } }],
  ['dynamic-all-linear', { conv: 'dynamic-all-linear', dsc: { rank: 2, width: 3 } }],
  [
    'dynamic-all-linear head-wise + GELU',
    {
      conv: 'dynamic-all-linear',
      mlp: 'gelu',
      dsc: { variant: 'head-wise', headSize: 8, staticFilter: false },
    },
  ],
  ['pre-projection on+skip', { preProjection: 'on+skip' }],
  ['QK-norm', { qkNorm: true }],
  ['GQA + partial rotary, untied', { nKvHeads: 2, rotaryFraction: 0.5, tieEmbeddings: false }],
  [
    'everything',
    { conv: 'dynamic-all-linear', preProjection: 'on+skip', qkNorm: true, nKvHeads: 1, dsc: { rank: 2 } },
  ],
];

describe.each(variants)('transformer decode: %s', (_name, overrides) => {
  it('token by token with caches equals the full forward', async () => {
    const config = tinyConfig(overrides);
    const model = transformer.build(config, { backend: cpu, seed: 3 });
    randomizeParameters(model, 4);
    await checkDecode(model, transformer.decodeStateShapes(config, 2, 7), config.vocabSize, 3);
    model.dispose();
  });
});

describe('hybrid decode', () => {
  it('a per-layer mixer list decodes like its full forward', async () => {
    const config = decodeConfig(hybrid.configSchema, {
      vocabSize: 13,
      dModel: 12,
      mlpHidden: 20,
      layers: [
        { mixer: 'attention', nHeads: 3, conv: 'dynamic-qkvo', dsc: { rank: 2, width: 2 } },
        { mixer: 'attention', nHeads: 2, nKvHeads: 1, qkNorm: true, preProjection: 'on+skip' },
        { mixer: 'attention', nHeads: 4, headDim: 2, conv: 'static-qkv' },
      ],
    });
    const model = hybrid.build(config, { backend: cpu, seed: 5 });
    randomizeParameters(model, 6);
    await checkDecode(model, hybrid.decodeStateShapes(config, 2, 7), 13, 1);
    model.dispose();
  });
});

describe('packed documents', () => {
  it('a row holding two documents gives each the logits it gets alone (attention and every conv)', async () => {
    const config = tinyConfig({ conv: 'dynamic-all-linear', preProjection: 'on+skip', dsc: { rank: 2 } });
    const model = transformer.build(config, { backend: cpu, seed: 1 });
    randomizeParameters(model, 2);
    const ids = randomIds(1, 8, config.vocabSize, 3);
    const docStart = tensor(Int32Array.from([0, 0, 0, 3, 3, 3, 3, 3]), { shape: [1, 8], backend: cpu });
    const packed = await model.forward({ ids, docStart }).data();
    const second = await tidy(() => model.forward({ ids: narrow(ids, 1, 3, 5).contiguous() })).data();
    const first = await tidy(() => model.forward({ ids: narrow(ids, 1, 0, 3).contiguous() })).data();
    const v = config.vocabSize;
    expect(maxAbsDiff(packed.slice(0, 3 * v), first)).toBeLessThan(1e-5);
    expect(maxAbsDiff(packed.slice(3 * v), second)).toBeLessThan(1e-5);
    model.dispose();
  });
});
