/**
 * On-device checks of the reduced-precision (subgroup-matrix) attention
 * kernels for bench/attention.bench.ts; each throws on a mismatch, so no time
 * is reported for a kernel that computes wrong results. Inputs are
 * f16-representable (the kernels' f16 staging of them is exact) and the
 * tolerances are the error bounds of the remaining f16 roundings:
 * forward |o - ref| ≤ 2^-11 max|v| (P rounded), |lse - ref| f32-sized;
 * dq |dq - ref| ≤ 2^-10 · scale · max|k| · Σ_j |dS_ij| per row (P and dS
 * rounded), Δ f32-sized; and checkOp's forward and every gradient.
 */
import type { Backend } from '@dynconv/tensor';
import { checkOp } from '@dynconv/tensor/testing';
import { attentionPlan, attentionTuning } from '../src/causal-attention/causal-attention.fused.js';
import { causalAttention } from '../src/causal-attention/causal-attention.js';
import {
  causalAttentionForward64,
  causalAttentionQueryGrad64,
} from '../src/causal-attention/causal-attention.ref.js';
import { runtimeOf } from '../src/common/gpu.js';
import { docStartSpec, docStartValues, maxAbsDiff } from '../test/helpers.js';
import {
  type AttentionDims,
  deviceForward,
  deviceQueryGrad,
  forwardBounds,
  halfInputs,
  halfSpec,
  queryGradErrorRatios,
  withAttentionTuning,
} from '../test/sgmat-attention.js';

/** Runs `body` with reduced precision on (plus `tuning`), restoring `attentionTuning` after. */
export const withReduced = <T>(
  body: () => Promise<T>,
  tuning: Partial<typeof attentionTuning> = {},
): Promise<T> => withAttentionTuning({ reducedPrecision: true, ...tuning }, body);

const report = (name: string, parts: readonly [string, number, number][]): void => {
  const ok = parts.every(([, err, tol]) => err <= tol); // NaN fails
  console.log(
    `check ${name}: ${parts.map(([what, err, tol]) => `max ${what} ${err.toExponential(2)} (tol ${tol.toExponential(2)})`).join(', ')}${ok ? '' : ' FAIL'}`,
  );
  if (!ok) throw new Error(`${name} does not match the float64 reference`);
};

/**
 * The sgmat forward's o and logsumexp against the float64 reference, then with
 * `dq` the sgmat dq kernel's dq and Δ (o and lse from the reference forward).
 */
async function checkKernels(
  backend: Backend,
  name: string,
  d: AttentionDims,
  cuts: readonly number[] | null,
  dq: boolean,
) {
  const x = halfInputs(d, 11, cuts ? docStartValues(d.B, d.Tq, [cuts]) : undefined);
  const plan = attentionPlan(runtimeOf(backend)!, {
    dtype: 'f32',
    dh: d.dh,
    docs: cuts !== null,
    reducedPrecision: true,
  })!;
  for (const stage of dq ? (['fwd', 'dq'] as const) : (['fwd'] as const))
    if (!plan[stage].key.includes('|sgmat|'))
      throw new Error(`${name}: no sgmat ${stage} (${plan[stage].key})`);
  const ref = causalAttentionForward64(x.q, x.k, x.v, d, x.opts);
  const got = await deviceForward(backend, plan, d, x);
  const bounds = forwardBounds(x.v, ref.lse);
  report(`reduced forward ${name}`, [
    ['|o - ref|', maxAbsDiff(got.o, ref.o), bounds.o],
    ['|lse - ref|', maxAbsDiff(got.lse, ref.lse), bounds.lse],
  ]);
  if (!dq) return;
  const refGrad = causalAttentionQueryGrad64(x.q, x.k, x.v, x.dO, d, x.opts);
  const err = queryGradErrorRatios(await deviceQueryGrad(backend, plan, d, x, ref), refGrad, x, d.dh);
  report(`reduced dq ${name}`, [
    ['|dq - ref| / bound', err.dq, 1],
    ['|Δ - ref| / bound', err.delta, 1],
  ]);
}

/**
 * All checks of the reduced-precision kernels now selected (the forward; dq
 * too when `attentionTuning.sgmatDq` is on): direct forward (and dq) checks on
 * several shapes, then checkOp's forward and every gradient.
 */
export async function checkReducedPrecision(backend: Backend): Promise<void> {
  const shapes: [string, AttentionDims, number[] | null][] = [
    ['dh=64 T=300 GQA 4/2 docStart', { B: 2, H: 4, Hkv: 2, Tq: 300, Tk: 300, dh: 64 }, [37, 150]],
    ['dh=64 Tq=70 Tk=300 (kvOffset)', { B: 1, H: 2, Hkv: 2, Tq: 70, Tk: 300, dh: 64 }, null],
    ['dh=32 T=129', { B: 1, H: 3, Hkv: 1, Tq: 129, Tk: 129, dh: 32 }, null],
    ['dh=12 T=65', { B: 1, H: 2, Hkv: 2, Tq: 65, Tk: 65, dh: 12 }, null],
  ];
  for (const [name, d, cuts] of shapes) await checkKernels(backend, name, d, cuts, !!attentionTuning.sgmatDq);
  await withReduced(
    () =>
      checkKernels(
        backend,
        'dh=64 T=300 tau=0',
        { B: 1, H: 2, Hkv: 2, Tq: 300, Tk: 300, dh: 64 },
        null,
        false,
      ),
    { sgmatTau: 0 },
  );
  const docStart = docStartSpec(1, 200, [[37, 150]]);
  // dO (checkOp's random weights) is not f16-representable: sgmat dq rounds it.
  const tol = attentionTuning.sgmatDq ? 2e-3 : 1e-3;
  await checkOp(
    'causalAttention reduced dh=64 T=200 GQA 4/2 docStart',
    [halfSpec(1, 1, 4, 200, 64), halfSpec(2, 1, 2, 200, 64), halfSpec(3, 1, 2, 200, 64), docStart],
    ([q, k, v, d]) => causalAttention(q!, k!, v!, { docStart: d! }),
    { backend, fd: false, atol: tol, rtol: tol },
  );
  await checkOp(
    'causalAttention reduced dh=64 Tq=70 Tk=300 (kvOffset)',
    [halfSpec(4, 1, 2, 70, 64), halfSpec(5, 1, 2, 300, 64), halfSpec(6, 1, 2, 300, 64)],
    ([q, k, v]) => causalAttention(q!, k!, v!),
    { backend, fd: false, atol: tol, rtol: tol },
  );
}
