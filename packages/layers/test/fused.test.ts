import { concat, narrow, reshape, sum, type Tensor, tidy } from '@dynconv/tensor';
import { checkOp, type InputSpec } from '@dynconv/tensor/testing';
import { describe, expect, it } from 'vitest';
import {
  applyRoPE,
  type HeadSegment,
  initRoPE,
  layerFusion,
  linear,
  type RoPE,
  ropeTables,
  splitHeadsRoPE,
  swiglu,
  swigluPacked,
} from '../src/index.js';
import { dispatchedKeys, gpuTest } from './gpu-fixture.js';
import { cpu, maxAbsDiff, randomTensor } from './helpers.js';

const flat = (ts: readonly Tensor[]): Tensor =>
  concat(
    ts.map((t) => reshape(t, [-1])),
    0,
  );

type RopeCase = {
  name: string;
  x: number[];
  /** Channels of x the op reads: [start, width] of the last axis (a strided slice), or all. */
  slice?: [number, number];
  segments: HeadSegment[];
  headDim: number;
  rope: RoPE;
};

/** Odd sizes: T and head counts not multiples of anything, partial rotary, GQA, a strided slice. */
const ropeCases: RopeCase[] = [
  {
    name: 'q/k/v packed, GQA, B=2 T=5 dh=6',
    x: [2, 5, 30],
    segments: [
      { heads: 3, rotate: true },
      { heads: 1, rotate: true },
      { heads: 1, rotate: false },
    ],
    headDim: 6,
    rope: initRoPE({ headDim: 6, theta: 100 }),
  },
  {
    name: 'one segment from a strided slice, partial rotary, T=7 dh=8',
    x: [1, 7, 29],
    slice: [3, 16],
    segments: [{ heads: 2, rotate: true }],
    headDim: 8,
    rope: initRoPE({ headDim: 8, rotaryFraction: 0.5 }),
  },
  {
    name: 'two segments, the second not rotated, T=3 dh=4',
    x: [3, 3, 12],
    segments: [
      { heads: 2, rotate: true },
      { heads: 1, rotate: false },
    ],
    headDim: 4,
    rope: initRoPE({ headDim: 4 }),
  },
];

const ropeFn =
  (c: RopeCase) =>
  ([x0]: Tensor[]): Tensor =>
    tidy(() => {
      const x = c.slice ? narrow(x0!, -1, c.slice[0], c.slice[1]) : x0!;
      const tables = ropeTables(c.rope, 0, x.shape[1]!, { backend: x.backend, dtype: x.dtype });
      return flat(splitHeadsRoPE(x, c.segments, c.headDim, c.rope, tables));
    });

/** The pre-fusion composition: a head split (reshape + permute) and applyRoPE per segment. */
const composed = (c: RopeCase, x0: Tensor): Tensor =>
  tidy(() => {
    const x = c.slice ? narrow(x0, -1, c.slice[0], c.slice[1]) : x0;
    const [B, T] = x.shape as [number, number];
    const tables = ropeTables(c.rope, 0, T, { backend: x.backend, dtype: x.dtype });
    let start = 0;
    return flat(
      c.segments.map((s) => {
        const piece = narrow(x, -1, start, s.heads * c.headDim);
        start += s.heads * c.headDim;
        const y = reshape(piece, [B, T, s.heads, c.headDim]).permute([0, 2, 1, 3]);
        return s.rotate ? applyRoPE(c.rope, y, 0, tables) : y;
      }),
    );
  });

const swigluCases: { name: string; specs: InputSpec[]; fn: (t: Tensor[]) => Tensor }[] = [
  {
    name: 'packed [2, 5, 2·37]',
    specs: [{ shape: [2, 5, 74] }],
    fn: ([gu]) => swigluPacked(gu!),
  },
  {
    name: 'gate and up as strided slices of one [3, 2, 23] tensor, F=9',
    specs: [{ shape: [3, 2, 23] }],
    fn: ([x]) => tidy(() => swiglu(narrow(x!, -1, 1, 9), narrow(x!, -1, 12, 9))),
  },
  {
    name: 'separate contiguous gate and up [7, 13]',
    specs: [{ shape: [7, 13] }, { shape: [7, 13] }],
    fn: ([g, u]) => swiglu(g!, u!),
  },
];

describe('splitHeadsRoPE and swiglu (CPU reference)', () => {
  for (const c of ropeCases)
    it(`splitHeadsRoPE equals the head split + applyRoPE, and its gradient finite differences: ${c.name}`, async () => {
      const x = randomTensor(c.x, 1);
      expect(maxAbsDiff(await ropeFn(c)([x]).data(), await composed(c, x).data())).toBe(0);
      await checkOp(`splitHeadsRoPE ${c.name}`, [{ shape: c.x }], ropeFn(c), { fd: { maxPoints: 24 } });
    });

  for (const c of swigluCases)
    it(`swiglu gradients match finite differences: ${c.name}`, async () => {
      await checkOp(`swiglu ${c.name}`, c.specs, c.fn, { fd: { maxPoints: 24 } });
    });

  it('rejects segments that do not cover the channels', () => {
    const x = randomTensor([1, 2, 10], 2);
    expect(() => splitHeadsRoPE(x, [{ heads: 1, rotate: false }], 6, null, null)).toThrow(Error);
  });
});

describe('splitHeadsRoPE and swiglu (WebGPU kernels vs the float64 reference)', () => {
  for (const c of ropeCases)
    gpuTest(`splitHeadsRoPE forward and gradient: ${c.name}`, async ({ backend }) => {
      await checkOp(`splitHeadsRoPE ${c.name}`, [{ shape: c.x }], ropeFn(c), { backend, fd: false });
    });

  for (const c of swigluCases)
    gpuTest(`swiglu forward and gradients: ${c.name}`, async ({ backend }) => {
      await checkOp(`swiglu ${c.name}`, c.specs, c.fn, { backend, fd: false });
    });

  gpuTest(
    'one kernel forward and one backward each; the composed path when fusion is off',
    async ({ backend }) => {
      const c = ropeCases[0]!;
      const live = backend.liveBuffers();
      const run = (fused: boolean) => {
        layerFusion.enabled = fused;
        const x = randomTensor(c.x, 3, backend).requireGrad();
        const gu = randomTensor([2, 5, 74], 4, backend).requireGrad();
        const tables = ropeTables(c.rope, 0, 5, { backend });
        try {
          let y: Tensor | null = null;
          const forward = dispatchedKeys(backend, () => {
            y = tidy(() =>
              flat([...splitHeadsRoPE(x, c.segments, c.headDim, c.rope, tables), swigluPacked(gu)]),
            );
          });
          const all = dispatchedKeys(backend, () => tidy(() => sum(y!).backward()));
          y!.dispose();
          return { forward, backward: all.filter((k) => k.startsWith('layers.')) };
        } finally {
          layerFusion.enabled = true;
          for (const t of [x, gu, tables.cos, tables.sin]) t.dispose();
        }
      };
      const fused = run(true);
      expect(fused.forward.filter((k) => k.startsWith('layers.'))).toEqual([
        'layers.ropeHeads.fwd|3|dh=6|rot=6',
        'layers.swiglu.fwd',
      ]);
      expect(fused.backward.sort()).toEqual([
        'layers.ropeHeads.bwd|3|dh=6|rot=6',
        'layers.swiglu.bwd-packed',
      ]);
      const off = run(false);
      expect(off.forward.length).toBeGreaterThanOrEqual(16);
      expect(off.forward.concat(off.backward).some((k) => k.startsWith('layers.'))).toBe(false);
      expect(backend.liveBuffers()).toBe(live);
    },
  );

  gpuTest(
    'more token rows than one grid dimension holds (B·T > 65535): folds the grid',
    async ({ backend }) => {
      const rope = initRoPE({ headDim: 2 });
      const segments = [
        { heads: 1, rotate: true },
        { heads: 1, rotate: false },
      ];
      const x = randomTensor([1, 66000, 4], 7, backend);
      const run = async (fused: boolean) => {
        layerFusion.enabled = fused;
        try {
          const tables = ropeTables(rope, 0, 66000, { backend });
          const y = tidy(() => flat(splitHeadsRoPE(x, segments, 2, rope, tables)));
          const data = await y.data();
          for (const t of [y, tables.cos, tables.sin]) t.dispose();
          return data;
        } finally {
          layerFusion.enabled = true;
        }
      };
      expect(maxAbsDiff(await run(true), await run(false))).toBeLessThanOrEqual(1e-6);
      x.dispose();
    },
  );

  gpuTest(
    'linear hands the weight a contiguous gradient [out, in] (fused AdamW takes it whole)',
    async ({ backend }) => {
      const w = randomTensor([5, 7], 5, backend).requireGrad();
      const x = randomTensor([3, 4, 7], 6, backend).requireGrad();
      const wc = randomTensor([5, 7], 5).requireGrad();
      const xc = randomTensor([3, 4, 7], 6).requireGrad();
      tidy(() => sum(linear({ weight: w }, x).square()).backward());
      tidy(() => sum(linear({ weight: wc }, xc).square()).backward());
      expect(w.grad!.isContiguous).toBe(true);
      expect(maxAbsDiff(await w.grad!.data(), await wc.grad!.data())).toBeLessThanOrEqual(1e-4);
      expect(maxAbsDiff(await x.grad!.data(), await xc.grad!.data())).toBeLessThanOrEqual(1e-4);
      for (const t of [w, x, wc, xc]) t.dispose();
    },
  );
});

describe('linear (CPU)', () => {
  it('the weight gradient is contiguous and equals the composed matmul rule', async () => {
    const w = randomTensor([5, 7], 5, cpu).requireGrad();
    const x = randomTensor([3, 4, 7], 6, cpu).requireGrad();
    tidy(() => sum(linear({ weight: w }, x).square()).backward());
    expect(w.grad!.isContiguous).toBe(true);
    const fused = [await w.grad!.data(), await x.grad!.data()];
    w.zeroGrad();
    x.zeroGrad();
    layerFusion.enabled = false;
    try {
      tidy(() => sum(linear({ weight: w }, x).square()).backward());
    } finally {
      layerFusion.enabled = true;
    }
    expect(maxAbsDiff(fused[0]!, await w.grad!.data())).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(fused[1]!, await x.grad!.data())).toBeLessThanOrEqual(1e-5);
  });
});
