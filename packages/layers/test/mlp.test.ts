import { concat, Generator, narrow, noGrad, type Tensor, tidy } from '@dynconv/tensor';
import { checkOp } from '@dynconv/tensor/testing';
import { describe, expect, it } from 'vitest';
import {
  contentSkip,
  initContentSkip,
  initMLP,
  initMLPCache,
  initPreProjection,
  type MLPOptions,
  mlp,
  mlpCacheShapes,
  mlpSublayer,
  namedParameters,
  preProjection,
} from '../src/index.js';
import { cpu, maxAbsDiff, paramSpecs, randomTensor, rebind } from './helpers.js';

const variants: [string, Omit<MLPOptions, 'generator'>][] = [
  ['SwiGLU', { kind: 'swiglu', dModel: 6, hidden: 10, backend: cpu }],
  [
    'GELU (tanh) with bias',
    { kind: 'gelu', dModel: 6, hidden: 10, bias: true, approximate: 'tanh', backend: cpu },
  ],
  [
    'SwiGLU with DSC on gate, up, down',
    {
      kind: 'swiglu',
      dModel: 6,
      hidden: 10,
      convs: {
        gate: { kind: 'low-rank', width: 3, rank: 2 },
        up: { kind: 'head-wise', width: 2, headSize: 5 },
        down: { kind: 'low-rank', width: 4, rank: 3 },
      },
      backend: cpu,
    },
  ],
];

describe.each(variants)('MLP: %s', (_name, options) => {
  it('gradients match finite differences (float64)', async () => {
    const p = initMLP({ ...options, generator: new Generator(1) });
    await checkOp('mlp', [{ shape: [1, 4, 6] }, ...paramSpecs(p)], ([x, ...ps]) => mlp(rebind(p, ps), x!), {
      fd: { maxPoints: 16 },
    });
  });

  it('decoding with conv caches equals the sequence form', async () => {
    const p0 = initMLP({ ...options, generator: new Generator(2) });
    const p = rebind(
      p0,
      [...namedParameters(p0).values()].map((t, i) => randomTensor(t.shape, 50 + i, cpu, 0.5)),
    );
    const x = randomTensor([2, 5, 6], 3);
    const full = await mlp(p, x).data();
    let cache = initMLPCache(p, 2, { backend: cpu });
    const ys: Tensor[] = [];
    noGrad(() => {
      for (const [s, n] of [
        [0, 3],
        [3, 1],
        [4, 1],
      ] as const) {
        const next = new Map<string, Tensor>();
        ys.push(mlpSublayer(p, narrow(x, 1, s, n), { kind: 'step', position: s, cache, next }));
        cache = next;
      }
    });
    expect(maxAbsDiff(await concat(ys, 1).data(), full)).toBeLessThan(1e-5);
    expect(Object.fromEntries([...cache].map(([k, t]) => [k, t.shape]))).toEqual(mlpCacheShapes(p, 2));
  });
});

describe('pre-projection and content skip', () => {
  it('start near the identity / near zero with the paper inits', async () => {
    const g = new Generator(1);
    const pp = initPreProjection({ dModel: 64, generator: g, backend: cpu });
    expect(pp.up_proj.weight.shape).toEqual([80, 64]);
    expect(pp.down_proj.weight.shape).toEqual([64, 80]);
    const w = Array.from(await pp.up_proj.weight.data());
    const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
    expect(std).toBeGreaterThan(0.009);
    expect(std).toBeLessThan(0.011);
    const skip = initContentSkip({ dModel: 64, generator: g, backend: cpu });
    const h = randomTensor([1, 3, 64], 2);
    const { e, s } = tidy(() => {
      const e = preProjection(pp, h);
      return { e, s: contentSkip(skip, e) };
    });
    expect(maxAbsDiff(await e.data(), await h.data())).toBeLessThan(0.05);
    expect(maxAbsDiff(await e.data(), await h.data())).toBeGreaterThan(0);
    expect(Math.max(...Array.from(await s.data(), Math.abs))).toBeLessThan(0.01);
  });

  it('gradients match finite differences (float64)', async () => {
    const pp = initPreProjection({ dModel: 4, generator: new Generator(1), backend: cpu });
    const skip = initContentSkip({ dModel: 4, generator: new Generator(2), backend: cpu });
    await checkOp(
      'preProjection+skip',
      [{ shape: [2, 3, 4] }, ...paramSpecs(pp), ...paramSpecs(skip)],
      ([h, a, b, c]) => {
        const e = preProjection(rebind(pp, [a!, b!]), h!);
        return e.add(contentSkip(rebind(skip, [c!]), e));
      },
    );
  });
});
