import { concat, Generator, narrow, type Tensor, tidy } from '@dynconv/tensor';
import { checkOp } from '@dynconv/tensor/testing';
import { describe, expect, it } from 'vitest';
import {
  initShortConv,
  initShortConvCache,
  namedParameters,
  type ShortConv,
  type ShortConvSpec,
  shortConv,
  shortConvStep,
} from '../src/index.js';
import { cpu, docStartTensor, maxAbsDiff, paramSpecs, randomTensor, rebind } from './helpers.js';

const D = 8;
const DG = 6;
const specs: [string, ShortConvSpec][] = [
  ['static', { kind: 'static', width: 3, bias: true }],
  ['low-rank', { kind: 'low-rank', width: 4, rank: 3 }],
  [
    'low-rank, no static filter, no residual',
    { kind: 'low-rank', width: 2, rank: 2, staticFilter: false, residual: false },
  ],
  ['head-wise', { kind: 'head-wise', width: 4, headSize: 2 }],
];

/** A conv of `spec` whose parameters are all random (the official init zeroes the dynamic part). */
const randomConv = (spec: ShortConvSpec, seed: number): ShortConv => {
  const conv = initShortConv(spec, {
    channels: D,
    generatorDim: DG,
    generator: new Generator(seed),
    backend: cpu,
  });
  return rebind(
    conv,
    [...namedParameters(conv).values()].map((t, i) => randomTensor(t.shape, seed * 100 + i, cpu, 0.5)),
  );
};

describe.each(specs)('short conv: %s', (_name, spec) => {
  it('decoding with the cache (prefill chunk, then token by token) equals the sequence form', async () => {
    const conv = randomConv(spec, 1);
    const [B, T] = [2, 7];
    const x = randomTensor([B, T, D], 2);
    const g = randomTensor([B, T, DG], 3);
    const full = await shortConv(conv, x, { g }).data();
    const ys: Tensor[] = [];
    let cache = initShortConvCache(conv, B, { backend: cpu });
    const run = (s: number, n: number) => {
      const r = shortConvStep(conv, narrow(x, 1, s, n), cache, { g: narrow(g, 1, s, n) });
      ys.push(r.y);
      cache = r.cache;
    };
    run(0, 3);
    for (let t = 3; t < T; t++) run(t, 1);
    expect(maxAbsDiff(await concat(ys, 1).data(), full)).toBeLessThan(1e-5);
  });

  it('gradients match finite differences (float64)', async () => {
    const conv = initShortConv(spec, {
      channels: D,
      generatorDim: DG,
      generator: new Generator(4),
      backend: cpu,
    });
    const dyn = spec.kind !== 'static';
    await checkOp(
      `shortConv ${spec.kind}`,
      [{ shape: [2, 5, D] }, ...(dyn ? [{ shape: [2, 5, DG] }] : []), ...paramSpecs(conv)],
      ([x, ...rest]) => {
        const g = dyn ? rest.shift() : undefined;
        return shortConv(rebind(conv, rest), x!, g ? { g } : {});
      },
    );
  });

  it('does not look across document starts', async () => {
    const conv = randomConv(spec, 5);
    const x = randomTensor([1, 6, D], 6);
    const g = randomTensor([1, 6, DG], 7);
    const packed = await shortConv(conv, x, { g, docStart: docStartTensor([[0, 2]], 6) }).data();
    const second = await shortConv(conv, narrow(x, 1, 2, 4), { g: narrow(g, 1, 2, 4) }).data();
    expect(maxAbsDiff(packed.slice(2 * D), second)).toBeLessThan(1e-6);
  });
});

describe('short conv init (official DSC)', () => {
  it('low-rank: U = 0, static filter within ±1/√W, generator non-zero', async () => {
    const c = initShortConv(
      { kind: 'low-rank', width: 4, rank: 16 },
      { channels: 32, generatorDim: 24, generator: new Generator(1), backend: cpu },
    );
    if (c.kind !== 'low-rank') throw new Error('kind');
    expect(c.U.shape).toEqual([16, 4 * 32]);
    expect(Math.max(...Array.from(await c.U.data(), Math.abs))).toBe(0);
    const s = Array.from(await c.static_w!.data(), Math.abs);
    expect(Math.max(...s)).toBeLessThanOrEqual(0.5);
    expect(Math.max(...s)).toBeGreaterThan(0.4);
    expect(Math.max(...Array.from(await c.proj.weight.data(), Math.abs))).toBeGreaterThan(0);
    expect([...namedParameters(c, 'q_conv').keys()]).toEqual([
      'q_conv.proj.weight',
      'q_conv.U',
      'q_conv.static_w',
    ]);
  });

  it('head-wise: generator = 0 so the layer starts as x + static conv', async () => {
    const c = initShortConv(
      { kind: 'head-wise', width: 3, headSize: 4 },
      { channels: 8, generatorDim: 5, generator: new Generator(1), backend: cpu },
    );
    if (c.kind !== 'head-wise') throw new Error('kind');
    expect(c.proj.weight.shape).toEqual([2 * 3, 5]);
    expect(Math.max(...Array.from(await c.proj.weight.data(), Math.abs))).toBe(0);
    const x = randomTensor([1, 4, 8], 1);
    const g = randomTensor([1, 4, 5], 2);
    const stat = initShortConv(
      { kind: 'static', width: 3 },
      { channels: 8, generator: new Generator(9), backend: cpu },
    );
    if (stat.kind !== 'static') throw new Error('kind');
    const y = tidy(() => shortConv(c, x, { g }));
    const ref = tidy(() => shortConv({ ...stat, weight: c.static_w! }, x));
    expect(maxAbsDiff(await y.data(), await ref.data())).toBeLessThan(1e-6);
  });

  it('rejects a head size that does not divide the channels', () => {
    expect(() =>
      initShortConv(
        { kind: 'head-wise', width: 3, headSize: 3 },
        { channels: 8, generatorDim: 5, generator: new Generator(1), backend: cpu },
      ),
    ).toThrow(/does not divide/);
  });
});
