import { Generator, matmul, sum, tensor, tidy } from '@dynconv/tensor';
import { checkOp } from '@dynconv/tensor/testing';
import { describe, expect, it } from 'vitest';
import {
  embed,
  fusedLinear,
  initEmbedding,
  initLayerNorm,
  initLinear,
  initRMSNorm,
  layerNorm,
  linear,
  outputLogits,
  rmsNorm,
} from '../src/index.js';
import { cpu, maxAbsDiff, randomTensor } from './helpers.js';

describe('linear', () => {
  it('is x Wᵀ + b and its gradients match finite differences', async () => {
    await checkOp('linear', [{ shape: [2, 3, 5] }, { shape: [4, 5] }, { shape: [4] }], ([x, w, b]) =>
      linear({ weight: w!, bias: b! }, x!),
    );
  });

  it('fusedLinear equals the separate layers, values and weight gradients', async () => {
    const g = new Generator(1);
    const layers = [4, 3, 2].map((out, i) =>
      initLinear({ inFeatures: 5, outFeatures: out, bias: i === 1, generator: g, backend: cpu }),
    );
    const x = randomTensor([2, 3, 5], 7);
    const run = (fused: boolean) => {
      const outs = tidy(() => {
        const ys = fused ? fusedLinear(layers, x) : layers.map((l) => linear(l, x));
        sum(ys.map((y, i) => sum(y.mul(i + 1))).reduce((a, b) => a.add(b))).backward();
        return ys;
      });
      const grads = layers.map((l) => l.weight.grad!.data());
      return {
        outs,
        grads,
        done: () => {
          for (const l of layers) {
            l.weight.zeroGrad();
            l.bias?.zeroGrad();
          }
        },
      };
    };
    const a = run(true);
    const aOut = await Promise.all(a.outs.map((t) => t.data()));
    const aGrad = await Promise.all(a.grads);
    a.done();
    const b = run(false);
    const bOut = await Promise.all(b.outs.map((t) => t.data()));
    const bGrad = await Promise.all(b.grads);
    b.done();
    for (const [i, o] of aOut.entries()) expect(maxAbsDiff(o, bOut[i]!)).toBeLessThan(1e-6);
    for (const [i, o] of aGrad.entries()) expect(maxAbsDiff(o, bGrad[i]!)).toBeLessThan(1e-5);
    expect(a.outs.map((t) => t.shape)).toEqual([
      [2, 3, 4],
      [2, 3, 3],
      [2, 3, 2],
    ]);
  });

  it('init: kaiming-uniform bound, zeros, N(0, std²)', async () => {
    const g = new Generator(3);
    const k = initLinear({
      inFeatures: 64,
      outFeatures: 32,
      init: 'kaiming-uniform',
      generator: g,
      backend: cpu,
    });
    const kv = await k.weight.data();
    expect(Math.max(...Array.from(kv, Math.abs))).toBeLessThanOrEqual(1 / 8);
    expect(Math.max(...Array.from(kv, Math.abs))).toBeGreaterThan(0.1);
    const z = initLinear({ inFeatures: 4, outFeatures: 4, init: 'zeros', generator: g, backend: cpu });
    expect(Array.from(await z.weight.data())).toEqual(new Array(16).fill(0));
    const n = initLinear({ inFeatures: 100, outFeatures: 100, init: 0.01, generator: g, backend: cpu });
    const nv = Array.from(await n.weight.data());
    const std = Math.sqrt(nv.reduce((s, v) => s + v * v, 0) / nv.length);
    expect(std).toBeGreaterThan(0.009);
    expect(std).toBeLessThan(0.011);
    expect(n.weight.requiresGrad).toBe(true);
  });
});

describe('embedding', () => {
  it('looks rows up and the tied head is h Eᵀ', async () => {
    const e = initEmbedding({ numEmbeddings: 7, embeddingDim: 3, generator: new Generator(2), backend: cpu });
    const ids = tensor(Int32Array.from([1, 6, 0]), { shape: [1, 3], backend: cpu });
    const { rows, logits, ref } = tidy(() => {
      const r = embed(e, ids);
      return { rows: r, logits: outputLogits(e, r), ref: matmul(r, e.weight.T) };
    });
    const w = await e.weight.data();
    const r = await rows.data();
    expect(rows.shape).toEqual([1, 3, 3]);
    expect(Array.from(r.slice(0, 3))).toEqual(Array.from(w.slice(3, 6)));
    expect(Array.from(r.slice(3, 6))).toEqual(Array.from(w.slice(18, 21)));
    expect(logits.shape).toEqual([1, 3, 7]);
    expect(maxAbsDiff(await logits.data(), await ref.data())).toBeLessThan(1e-6);
  });
});

describe('norms', () => {
  it('RMSNorm and LayerNorm layers: gradients match finite differences', async () => {
    await checkOp('rmsNorm layer', [{ shape: [3, 6] }, { shape: [6] }], ([x, w]) =>
      rmsNorm({ weight: w!, eps: 1e-6 }, x!),
    );
    await checkOp('layerNorm layer', [{ shape: [3, 6] }, { shape: [6] }, { shape: [6] }], ([x, w, b]) =>
      layerNorm({ weight: w!, bias: b!, eps: 1e-5 }, x!),
    );
  });

  it('init: weight 1 (and LayerNorm bias 0), no random stream needed', async () => {
    const r = initRMSNorm({ dim: 4, backend: cpu });
    const l = initLayerNorm({ dim: 4, backend: cpu });
    expect(Array.from(await r.weight.data())).toEqual([1, 1, 1, 1]);
    expect(Array.from(await l.bias!.data())).toEqual([0, 0, 0, 0]);
    expect([r.eps, l.eps]).toEqual([1e-6, 1e-5]);
  });
});
