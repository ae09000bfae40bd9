import type { SgMatShape } from '@dynconv/tensor';
import { checkOp } from '@dynconv/tensor/testing';
import { expect } from 'vitest';
import { gpuTest } from '../../test/gpu-fixture.js';
import { docStartSpec, docStartValues } from '../../test/helpers.js';
import {
  type AttentionDims,
  deviceQueryGrad,
  halfInputs,
  halfSpec,
  queryGradErrorRatios,
  S8,
  S16,
  withAttentionTuning,
} from '../../test/sgmat-attention.js';
import { runtimeOf } from '../common/gpu.js';
import { attentionPlan } from './causal-attention.fused.js';
import { causalAttention } from './causal-attention.js';
import { causalAttentionForward64, causalAttentionQueryGrad64 } from './causal-attention.ref.js';
import type { SgmatQueryGradLaunch } from './causal-attention.sgmat-dq.wgsl.js';

/**
 * The reduced-precision (subgroup-matrix) dq kernel with emulated builtins
 * (llvmpipe): f16-representable q, k, v, dO, so the kernel's f16 staging is
 * exact; P and dS are rounded to f16 before dS·K, which bounds the error.
 */

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

/** Runs `body` with the emulated sgmat forward and dq forced for this matrix shape and dq launch. */
const withEmulatedDq = <T>(shape: SgMatShape, l: SgmatQueryGradLaunch, body: () => Promise<T>): Promise<T> =>
  withAttentionTuning({ sgmatEmulate: shape, sgmatDq: true, sgmatDqLaunch: l }, body);

interface DqCase extends AttentionDims {
  name: string;
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
    const x = halfInputs(c, 1, c.docs ? docStartValues(c.B, c.Tq, c.docs) : undefined);
    const fwd = causalAttentionForward64(x.q, x.k, x.v, c, x.opts);
    const ref = causalAttentionQueryGrad64(x.q, x.k, x.v, x.dO, c, x.opts);
    const got = await withEmulatedDq(c.shape, c.launch, async () => {
      const plan = attentionPlan(rt, { dtype: 'f32', dh: c.dh, docs: x.starts !== undefined })!;
      expect(plan.dq.key).toMatch(/^causalAttention\.dq\|sgmat\|.*\|emulated$/);
      return deviceQueryGrad(backend, plan, c, x, fwd);
    });
    const err = queryGradErrorRatios(got, ref, x, c.dh);
    expect(err.dq, `worst |dq - ref| / bound at ${err.worstDq}`).toBeLessThan(1);
    expect(err.delta, 'worst |Δ - ref| / bound').toBeLessThan(1);
  },
);

gpuTest(
  'emulated sgmat forward and dq + the f32 dk/dv: forward and every gradient match the float64 reference',
  async ({ backend }) => {
    await withAttentionTuning(
      {
        sgmatEmulate: S16,
        sgmatLaunch: { subgroups: 2, sgRows: 16, bk: 16, kTransposed: true },
        sgmatDq: true,
        sgmatDqLaunch: launch(2, 16, 16, true),
      },
      () =>
        checkOp(
          'causalAttention sgmat fwd+dq GQA 4/2 T=45 dh=32 docStart',
          [
            halfSpec(1, 1, 4, 45, 32),
            halfSpec(2, 1, 2, 45, 32),
            halfSpec(3, 1, 2, 45, 32),
            docStartSpec(1, 45, [[3, 30]]),
          ],
          ([q, k, v, d]) => causalAttention(q!, k!, v!, { docStart: d! }),
          // dO (checkOp's random weights) is not f16-representable: rounded in the dq kernel.
          { backend, fd: false, atol: 2e-3, rtol: 2e-3 },
        ),
    );
  },
);

gpuTest('sgmat dq is opt-in: reduced precision alone keeps the f32 dq', async ({ backend }) => {
  const rt = runtimeOf(backend)!;
  await withAttentionTuning({ sgmatEmulate: S16 }, async () =>
    expect(attentionPlan(rt, { dtype: 'f32', dh: 64, docs: false })!.dq.key).toMatch(
      /^causalAttention\.dq\|f32\|/,
    ),
  );
});
