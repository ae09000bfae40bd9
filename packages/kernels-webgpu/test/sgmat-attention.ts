import { type Backend, roundF16, type SgMatShape, type Tensor, tensor } from '@dynconv/tensor';
import { type InputSpec, testRng } from '@dynconv/tensor/testing';
import {
  type AttentionPlan,
  type AttentionShapes,
  attentionForward,
  attentionQueryGrad,
  attentionTuning,
} from '../src/causal-attention/causal-attention.fused.js';
import { runtimeOf } from '../src/common/gpu.js';

/**
 * Test and benchmark aids of the reduced-precision (subgroup-matrix)
 * attention kernels (`*.sgmat*.test.ts`, bench/attention-reduced-checks.ts,
 * bench/sgmat-attention-debug.ts): f16-representable inputs, forced tuning,
 * the kernels run on their own, and the error bounds they must meet.
 */

/** Sizes of an attention problem (the key offset is `Tk - Tq`). */
export type AttentionDims = Omit<AttentionShapes, 'kvOffset'>;

/** Subgroup-matrix shapes for the emulation: 16x16x16 (H100) and 16x8x8. */
export const S16: SgMatShape = { m: 16, n: 16, k: 16 };
export const S8: SgMatShape = { m: 16, n: 8, k: 8 };

/** `n` seeded normal values rounded to f16 (exact after the kernels' f16 staging). */
export function halfValues(n: number, seed: number): number[] {
  const rng = testRng(seed);
  return Array.from({ length: n }, () => roundF16(rng.normal()));
}

/** A checkOp input of this shape with f16-representable values. */
export function halfSpec(seed: number, ...shape: number[]): InputSpec {
  const values = halfValues(
    shape.reduce((a, b) => a * b, 1),
    seed,
  );
  return { shape, init: (i) => values[i]! };
}

/** Host inputs: q, dO `[B, H, Tq, dh]`, k, v `[B, Hkv, Tk, dh]`, docStart `[B, Tq]`, and the reference options. */
export interface AttentionInputs {
  q: number[];
  k: number[];
  v: number[];
  dO: number[];
  starts: number[] | undefined;
  opts: { scale: number; kvOffset: number; docStart: number[] | undefined };
}

/** f16-representable q, k, v, dO from seeds `seed` … `seed + 3`. */
export function halfInputs(
  d: AttentionDims,
  seed: number,
  starts?: number[],
  scale = 1 / Math.sqrt(d.dh),
): AttentionInputs {
  const qn = d.B * d.H * d.Tq * d.dh;
  const kn = d.B * d.Hkv * d.Tk * d.dh;
  return {
    q: halfValues(qn, seed),
    k: halfValues(kn, seed + 1),
    v: halfValues(kn, seed + 2),
    dO: halfValues(qn, seed + 3),
    starts,
    opts: { scale, kvOffset: d.Tk - d.Tq, docStart: starts },
  };
}

/** Runs `body` with `tuning` merged into `attentionTuning`, restoring it after. */
export async function withAttentionTuning<T>(
  tuning: Partial<typeof attentionTuning>,
  body: () => Promise<T>,
): Promise<T> {
  const saved = { ...attentionTuning };
  Object.assign(attentionTuning, tuning);
  try {
    return await body();
  } finally {
    for (const key of Object.keys(attentionTuning))
      if (!(key in saved)) delete (attentionTuning as unknown as Record<string, unknown>)[key];
    Object.assign(attentionTuning, saved);
  }
}

const shapesOf = (d: AttentionDims, x: Pick<AttentionInputs, 'opts'>): AttentionShapes => ({
  B: d.B,
  H: d.H,
  Hkv: d.Hkv,
  Tq: d.Tq,
  Tk: d.Tk,
  dh: d.dh,
  kvOffset: x.opts.kvOffset,
});

/** f32 tensors on `backend`; `dispose` frees them all. */
function tensors(backend: Backend) {
  const made: Tensor[] = [];
  return {
    make: (values: ArrayLike<number>, shape: number[], dtype: 'f32' | 'i32' = 'f32'): Tensor => {
      const t = tensor(Array.from(values), { shape, dtype, backend });
      made.push(t);
      return t;
    },
    dispose: () => {
      for (const t of made) t.dispose();
    },
  };
}

/** The plan's forward kernel alone on f32 inputs: o `[B, H, Tq, dh]` and lse `[B, H, Tq]`. */
export async function deviceForward(
  backend: Backend,
  plan: AttentionPlan,
  d: AttentionDims,
  x: Pick<AttentionInputs, 'q' | 'k' | 'v' | 'starts' | 'opts'>,
): Promise<{ o: ArrayLike<number>; lse: ArrayLike<number> }> {
  const t = tensors(backend);
  const kShape = [d.B, d.Hkv, d.Tk, d.dh];
  const out = attentionForward(
    runtimeOf(backend)!,
    plan,
    t.make(x.q, [d.B, d.H, d.Tq, d.dh]),
    t.make(x.k, kShape),
    t.make(x.v, kShape),
    x.starts ? t.make(x.starts, [d.B, d.Tq], 'i32') : null,
    x.opts.scale,
    shapesOf(d, x),
  );
  const got = { o: await out.o.data(), lse: await out.lse.data() };
  for (const r of [out.o, out.lse]) r.dispose();
  t.dispose();
  return got;
}

/** The plan's dq kernel alone, with o and lse from `fwd`: dq `[B, H, Tq, dh]` and Δ `[B, H, Tq]`. */
export async function deviceQueryGrad(
  backend: Backend,
  plan: AttentionPlan,
  d: AttentionDims,
  x: AttentionInputs,
  fwd: { o: ArrayLike<number>; lse: ArrayLike<number> },
): Promise<{ dq: ArrayLike<number>; delta: ArrayLike<number> }> {
  const t = tensors(backend);
  const qShape = [d.B, d.H, d.Tq, d.dh];
  const kShape = [d.B, d.Hkv, d.Tk, d.dh];
  const inputs = [
    t.make(x.q, qShape),
    t.make(x.k, kShape),
    t.make(x.v, kShape),
    t.make(fwd.o, qShape),
    t.make(x.dO, qShape),
    t.make(fwd.lse, [d.B, d.H, d.Tq]),
    x.starts ? t.make(x.starts, [d.B, d.Tq], 'i32') : null,
  ] as const;
  const out = attentionQueryGrad(runtimeOf(backend)!, plan, inputs, x.opts.scale, shapesOf(d, x));
  const got = { dq: await out.dq.data(), delta: await out.delta.data() };
  for (const r of [out.dq, out.delta]) r.dispose();
  t.dispose();
  return got;
}

const maxAbs = (a: ArrayLike<number>): number => Math.max(...Array.from(a, Math.abs));
/** NaN as +∞, so that it fails every bound. */
const notNaN = (x: number): number => (Number.isNaN(x) ? Number.POSITIVE_INFINITY : x);

/**
 * Error bounds of the reduced-precision forward on f16-representable inputs:
 * P is rounded to f16 (relative 2^-11) before P·V, so |o - ref| ≤ 2^-11 max|v|
 * plus f32 rounding; the logits and the sums are f32 (lse).
 */
export const forwardBounds = (
  v: ArrayLike<number>,
  refLse: ArrayLike<number>,
): { o: number; lse: number } => ({
  o: 2 ** -11 * maxAbs(v) + 1e-5,
  lse: 2e-5 * Math.max(1, maxAbs(refLse)),
});

/**
 * The sgmat dq kernel's worst error against the float64 reference, as a
 * fraction of its bound (≤ 1 passes; NaN fails): P and dS are rounded to f16
 * (relative 2^-11 each), so per row |dq - ref| ≤ 2^-10 · scale · max|k| · Σ_j |dS_ij|
 * plus f32 sums; Δ is f32 from f32 o and dO.
 */
export function queryGradErrorRatios(
  got: { dq: ArrayLike<number>; delta: ArrayLike<number> },
  ref: { dq: ArrayLike<number>; delta: ArrayLike<number>; dsAbsSum: ArrayLike<number> },
  x: Pick<AttentionInputs, 'k' | 'opts'>,
  dh: number,
): { dq: number; delta: number; worstDq: string } {
  const kMax = maxAbs(x.k);
  let dq = 0;
  let delta = 0;
  let worstDq = '';
  for (let row = 0; row < ref.delta.length; row++) {
    const tol = 1.25 * 2 ** -10 * x.opts.scale * kMax * ref.dsAbsSum[row]! + 1e-5;
    for (let c = 0; c < dh; c++) {
      const i = row * dh + c;
      const ratio = notNaN(Math.abs(got.dq[i]! - ref.dq[i]!) / tol);
      if (ratio > dq) {
        dq = ratio;
        worstDq = `row ${row} dim ${c}: ${got.dq[i]} vs ${ref.dq[i]}`;
      }
    }
    delta = Math.max(
      delta,
      notNaN(Math.abs(got.delta[row]! - ref.delta[row]!) / (1e-5 * (1 + Math.abs(ref.delta[row]!)))),
    );
  }
  return { dq, delta, worstDq };
}
