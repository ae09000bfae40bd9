import { roundF16, type SgMatShape, type Tensor, tensor } from '@dynconv/tensor';
import { checkOp, type InputSpec, testRng } from '@dynconv/tensor/testing';
import { expect } from 'vitest';
import { gpuTest } from '../../test/gpu-fixture.js';
import { docStartSpec, docStartValues } from '../../test/helpers.js';
import { runtimeOf } from '../common/gpu.js';
import { attentionPlan, attentionQueryGrad, attentionTuning } from './causal-attention.fused.js';
import { causalAttention } from './causal-attention.js';
import { causalAttentionForward64, causalAttentionQueryGrad64 } from './causal-attention.ref.js';
import type { SgmatQueryGradLaunch } from './causal-attention.sgmat-dq.wgsl.js';

/**
 * The reduced-precision (subgroup-matrix) dq kernel with emulated builtins
 * (llvmpipe): f16-representable q, k, v, dO, so the kernel's f16 staging is
 * exact; P and dS are rounded to f16 before dS·K, which bounds the error.
 */

const S16: SgMatShape = { m: 16, n: 16, k: 16 };
const S8: SgMatShape = { m: 16, n: 8, k: 8 };
const launch = (
  subgroups: number,
  sgRows: 16 | 32,
  bk: number,
  transposed: boolean,
): SgmatQueryGradLaunch => ({
  subgroups,
  sgRows,
  bk,
  transposed,
});

/** Runs `body` with the emulated sgmat forward and dq forced; restores the tuning after. */
async function withEmulatedDq<T>(
  shape: SgMatShape,
  l: SgmatQueryGradLaunch,
  body: () => Promise<T>,
): Promise<T> {
  Object.assign(attentionTuning, { sgmatEmulate: shape, sgmatDq: true, sgmatDqLaunch: l });
  try {
    return await body();
  } finally {
    Object.assign(attentionTuning, { sgmatEmulate: undefined, sgmatDq: undefined, sgmatDqLaunch: undefined });
  }
}

const halfValues = (n: number, seed: number): number[] => {
  const rng = testRng(seed);
  return Array.from({ length: n }, () => roundF16(rng.normal()));
};

interface DqCase {
  name: string;
  B: number;
  H: number;
  Hkv: number;
  Tq: number;
  Tk: number;
  dh: number;
  shape: SgMatShape;
  launch: SgmatQueryGradLaunch;
  docs?: readonly (readonly number[])[];
}

const dqCases: DqCase[] = [
  {
    name: 'T=70 dh=64 GQA 4/2',
    ...{ B: 1, H: 4, Hkv: 2, Tq: 70, Tk: 70, dh: 64, shape: S16, launch: launch(1, 16, 16, false) },
  },
  {
    name: 'T=33 dh=32 docStart, 16x8x8, transposed K/V copies',
    ...{ B: 2, H: 2, Hkv: 1, Tq: 33, Tk: 33, dh: 32, shape: S8, launch: launch(2, 16, 16, true) },
    docs: [[1, 2, 20], []],
  },
  {
    name: 'T=100 dh=32 one lane per row',
    ...{ B: 1, H: 2, Hkv: 2, Tq: 100, Tk: 100, dh: 32, shape: S16, launch: launch(1, 32, 16, false) },
  },
  {
    name: 'T=33 dh=12 (padded head dim, scalar loads) kvOffset Tq=33 Tk=50',
    ...{ B: 1, H: 2, Hkv: 1, Tq: 33, Tk: 50, dh: 12, shape: S8, launch: launch(2, 16, 16, true) },
  },
  {
    name: 'T=1 dh=32',
    B: 1,
    H: 1,
    Hkv: 1,
    Tq: 1,
    Tk: 1,
    dh: 32,
    shape: S16,
    launch: launch(2, 16, 16, false),
  },
];

gpuTest.for(dqCases)(
  'emulated sgmat dq: dq and Δ match the float64 reference on f16 inputs: $name',
  async (c, { backend }) => {
    const rt = runtimeOf(backend)!;
    const scale = 1 / Math.sqrt(c.dh);
    const kvOffset = c.Tk - c.Tq;
    const qn = c.B * c.H * c.Tq * c.dh;
    const kn = c.B * c.Hkv * c.Tk * c.dh;
    const [qv, kv, vv, gv] = [halfValues(qn, 1), halfValues(kn, 2), halfValues(kn, 3), halfValues(qn, 4)];
    const starts = c.docs ? docStartValues(c.B, c.Tq, c.docs) : undefined;
    const opts = { scale, kvOffset, docStart: starts };
    const fwd = causalAttentionForward64(qv, kv, vv, c, opts);
    const ref = causalAttentionQueryGrad64(qv, kv, vv, gv, c, opts);
    const got = await withEmulatedDq(c.shape, c.launch, async () => {
      const plan = attentionPlan(rt, { dtype: 'f32', dh: c.dh, docs: starts !== undefined })!;
      expect(plan.dq.key).toMatch(/^causalAttention\.dq\|sgmat\|.*\|emulated$/);
      const make = (values: ArrayLike<number>, shape: number[], dtype: 'f32' | 'i32' = 'f32') =>
        tensor(Array.from(values), { shape, dtype, backend });
      const qShape = [c.B, c.H, c.Tq, c.dh];
      const kShape = [c.B, c.Hkv, c.Tk, c.dh];
      const inputs = [
        make(qv, qShape),
        make(kv, kShape),
        make(vv, kShape),
        make(fwd.o, qShape),
        make(gv, qShape),
        make(fwd.lse, [c.B, c.H, c.Tq]),
        starts ? make(starts, [c.B, c.Tq], 'i32') : null,
      ] as const;
      const { dq, delta } = attentionQueryGrad(rt, plan, inputs, scale, { ...c, kvOffset });
      const out = { dq: await dq.data(), delta: await delta.data() };
      for (const t of [...inputs, dq, delta] as (Tensor | null)[]) t?.dispose();
      return out;
    });
    const kMax = Math.max(...kv.map(Math.abs));
    for (let row = 0; row < ref.delta.length; row++) {
      // P and dS rounded to f16 (relative 2^-11 each): |Δdq| ≤ 2^-10 · scale · max|k| · Σ_j |dS_ij|, plus f32 sums.
      const tol = 1.25 * 2 ** -10 * scale * kMax * ref.dsAbsSum[row]! + 1e-5;
      for (let d = 0; d < c.dh; d++) {
        const i = row * c.dh + d;
        expect(
          Math.abs(got.dq[i]! - ref.dq[i]!),
          `dq row ${row} dim ${d}: ${got.dq[i]} vs ${ref.dq[i]}`,
        ).toBeLessThan(tol);
      }
      expect(Math.abs(got.delta[row]! - ref.delta[row]!), `Δ row ${row}`).toBeLessThan(
        1e-5 * (1 + Math.abs(ref.delta[row]!)),
      );
    }
  },
);

const half = (seed: number, ...shape: number[]): InputSpec => {
  const values = halfValues(
    shape.reduce((a, b) => a * b, 1),
    seed,
  );
  return { shape, init: (i) => values[i]! };
};

gpuTest(
  'emulated sgmat forward and dq + the f32 dk/dv: forward and every gradient match the float64 reference',
  async ({ backend }) => {
    attentionTuning.sgmatLaunch = { subgroups: 2, sgRows: 16, bk: 16, kTransposed: true };
    try {
      await withEmulatedDq(S16, launch(2, 16, 16, true), () =>
        checkOp(
          'causalAttention sgmat fwd+dq GQA 4/2 T=45 dh=32 docStart',
          [
            half(1, 1, 4, 45, 32),
            half(2, 1, 2, 45, 32),
            half(3, 1, 2, 45, 32),
            docStartSpec(1, 45, [[3, 30]]),
          ],
          ([q, k, v, d]) => causalAttention(q!, k!, v!, { docStart: d! }),
          // dO (checkOp's random weights) is not f16-representable: rounded in the dq kernel.
          { backend, fd: false, atol: 2e-3, rtol: 2e-3 },
        ),
      );
    } finally {
      attentionTuning.sgmatLaunch = undefined;
    }
  },
);

gpuTest('sgmat dq is opt-in: reduced precision alone keeps the f32 dq', async ({ backend }) => {
  const rt = runtimeOf(backend)!;
  attentionTuning.sgmatEmulate = S16;
  try {
    expect(attentionPlan(rt, { dtype: 'f32', dh: 64, docs: false })!.dq.key).toMatch(
      /^causalAttention\.dq\|f32\|/,
    );
  } finally {
    attentionTuning.sgmatEmulate = undefined;
  }
});
