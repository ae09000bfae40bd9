import { CpuBackend, type Tensor, tensor } from '@dynconv/tensor';
import { describe, expect, it } from 'vitest';
import { AdamW } from '../src/optim/adamw.js';
import { clipScale, globalGradNorm, scaleGradients } from '../src/optim/clip.js';
import { paramGroups } from '../src/optim/param-groups.js';

const backend = new CpuBackend();

/** AdamW by hand in f64, one parameter vector, as in PyTorch's documentation. */
function referenceAdamW(
  p0: number[],
  grads: number[][],
  o: { lr: number; b1: number; b2: number; eps: number; wd: number },
) {
  const p = [...p0];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  grads.forEach((g, i) => {
    const t = i + 1;
    for (let j = 0; j < p.length; j++) {
      p[j] = p[j]! * (1 - o.lr * o.wd);
      m[j] = o.b1 * m[j]! + (1 - o.b1) * g[j]!;
      v[j] = o.b2 * v[j]! + (1 - o.b2) * g[j]! ** 2;
      const mHat = m[j]! / (1 - o.b1 ** t);
      const vHat = v[j]! / (1 - o.b2 ** t);
      p[j] = p[j]! - (o.lr * mHat) / (Math.sqrt(vHat) + o.eps);
    }
  });
  return p;
}

const withGrad = (p: Tensor, g: number[]) => {
  p.grad?.dispose();
  p.grad = tensor(g, { backend, shape: p.shape });
};

describe('AdamW', () => {
  it('matches a hand-computed reference over three steps, with decoupled weight decay', async () => {
    const start = [1, -2, 0.5, 3];
    const grads = [
      [0.5, 0.25, -1, 2],
      [-0.1, 0.3, 0.2, 0.05],
      [1, -1, 0, 0.5],
    ];
    const o = { lr: 0.01, b1: 0.9, b2: 0.95, eps: 1e-8, wd: 0.1 };
    const w = tensor(start, { backend, shape: [2, 2] }).requireGrad();
    const params = new Map([['w', w]]);
    const opt = new AdamW(params, paramGroups(params, new Set(), o.wd), {
      beta1: o.b1,
      beta2: o.b2,
      eps: o.eps,
    });
    for (const g of grads) {
      withGrad(w, g);
      opt.step(o.lr);
    }
    const expected = referenceAdamW(start, grads, o);
    const got = await w.toArray();
    for (const [i, x] of got.entries()) expect(x).toBeCloseTo(expected[i]!, 6);
    expect(opt.stepCount).toBe(3);
  });

  it('exempts norms, biases and named filters from weight decay', () => {
    const params = new Map<string, Tensor>([
      ['layers.0.q_proj.weight', tensor([1, 2, 3, 4], { backend, shape: [2, 2] })],
      ['layers.0.norm.weight', tensor([1, 1], { backend })],
      ['layers.0.q_proj.bias', tensor([0, 0], { backend })],
      ['layers.0.dsc_q.static_w', tensor([1, 2, 3, 4], { backend, shape: [2, 2] })],
      ['embed.weight', tensor([1, 2, 3, 4], { backend, shape: [2, 2] })],
    ]);
    const groups = paramGroups(params, new Set(['layers.0.dsc_q.static_w']), 0.1, ['^embed\\.']);
    expect(groups[0]!.params).toEqual(['layers.0.q_proj.weight']);
    expect(groups[1]!.params).toEqual([
      'layers.0.norm.weight',
      'layers.0.q_proj.bias',
      'layers.0.dsc_q.static_w',
      'embed.weight',
    ]);
    expect(groups[1]!.weightDecay).toBe(0);
  });

  it('applies the gradient scale before the moments (clipping)', async () => {
    const o = { lr: 0.05, b1: 0.9, b2: 0.99, eps: 1e-8, wd: 0 };
    const w = tensor([1, 2], { backend }).requireGrad();
    const params = new Map([['w', w]]);
    const opt = new AdamW(params, paramGroups(params, new Set(), 0), {
      beta1: o.b1,
      beta2: o.b2,
      eps: o.eps,
    });
    withGrad(w, [4, -2]);
    opt.step(o.lr, 0.25);
    withGrad(w, [1, 1]);
    opt.step(o.lr, 0.5);
    const expected = referenceAdamW(
      [1, 2],
      [
        [1, -0.5],
        [0.5, 0.5],
      ],
      o,
    );
    for (const [i, x] of (await w.toArray()).entries()) expect(x).toBeCloseTo(expected[i]!, 6);
  });
});

describe('gradient clipping', () => {
  it('computes the global norm over all gradients and scales down only above the limit', async () => {
    const a = tensor([0, 0], { backend }).requireGrad();
    const b = tensor([0], { backend }).requireGrad();
    withGrad(a, [3, 0]);
    withGrad(b, [4]);
    const norm = globalGradNorm([a, b]);
    expect(await norm.item()).toBeCloseTo(5, 6);
    norm.dispose();
    expect(clipScale(5, 1)).toBeCloseTo(0.2, 6);
    expect(clipScale(0.5, 1)).toBe(1);
    expect(clipScale(5, 0)).toBe(1);
    scaleGradients([a, b], clipScale(5, 1));
    const after = globalGradNorm([a, b]);
    expect(await after.item()).toBeCloseTo(1, 5);
    after.dispose();
  });
});
