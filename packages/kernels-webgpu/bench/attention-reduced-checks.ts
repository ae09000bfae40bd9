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
import { type Backend, roundF16, type Tensor, tensor } from '@dynconv/tensor';
import { checkOp, type InputSpec, testRng } from '@dynconv/tensor/testing';
import {
  attentionForward,
  attentionPlan,
  attentionQueryGrad,
  attentionTuning,
} from '../src/causal-attention/causal-attention.fused.js';
import { causalAttention } from '../src/causal-attention/causal-attention.js';
import {
  causalAttentionForward64,
  causalAttentionQueryGrad64,
} from '../src/causal-attention/causal-attention.ref.js';
import { runtimeOf } from '../src/common/gpu.js';

type Tuning = Partial<typeof attentionTuning>;

/** Runs `body` with reduced precision on (plus `tuning`), restoring `attentionTuning` after. */
export async function withReduced<T>(body: () => Promise<T>, tuning: Tuning = {}): Promise<T> {
  const saved = { ...attentionTuning };
  Object.assign(attentionTuning, { reducedPrecision: true, ...tuning });
  try {
    return await body();
  } finally {
    for (const key of Object.keys(attentionTuning))
      if (!(key in saved)) delete (attentionTuning as unknown as Record<string, unknown>)[key];
    Object.assign(attentionTuning, saved);
  }
}

/** Seeded normal values rounded to f16. */
const halfValues = (n: number, seed: number): number[] => {
  const rng = testRng(seed);
  return Array.from({ length: n }, () => roundF16(rng.normal()));
};

const docStarts = (T: number, cuts: readonly number[]): number[] =>
  Array.from({ length: T }, (_, i) => Math.max(0, ...cuts.filter((c) => c <= i)));

interface Dims {
  B: number;
  H: number;
  Hkv: number;
  Tq: number;
  Tk: number;
  dh: number;
}

/** The problem's inputs on the host and its reference options. */
function problem(d: Dims, cuts: readonly number[] | null) {
  const qn = d.B * d.H * d.Tq * d.dh;
  const kn = d.B * d.Hkv * d.Tk * d.dh;
  const starts = cuts ? Array.from({ length: d.B }, () => docStarts(d.Tq, cuts)).flat() : undefined;
  return {
    q: halfValues(qn, 11),
    k: halfValues(kn, 12),
    v: halfValues(kn, 13),
    dO: halfValues(qn, 14),
    starts,
    opts: { scale: 1 / Math.sqrt(d.dh), kvOffset: d.Tk - d.Tq, docStart: starts },
  };
}

const report = (name: string, parts: readonly [string, number, number][]): void => {
  const ok = parts.every(([, err, tol]) => err <= tol); // NaN fails
  console.log(
    `check ${name}: ${parts.map(([what, err, tol]) => `max ${what} ${err.toExponential(2)} (tol ${tol.toExponential(2)})`).join(', ')}${ok ? '' : ' FAIL'}`,
  );
  if (!ok) throw new Error(`${name} does not match the float64 reference`);
};

/** The sgmat forward's o and logsumexp against the float64 reference. */
async function checkForward(backend: Backend, name: string, d: Dims, cuts: readonly number[] | null) {
  const rt = runtimeOf(backend)!;
  const x = problem(d, cuts);
  const ref = causalAttentionForward64(x.q, x.k, x.v, d, x.opts);
  const plan = attentionPlan(rt, {
    dtype: 'f32',
    dh: d.dh,
    docs: x.starts !== undefined,
    reducedPrecision: true,
  })!;
  if (!plan.fwd.key.includes('|sgmat|')) throw new Error(`${name}: no sgmat forward (${plan.fwd.key})`);
  const make = (v: ArrayLike<number>, shape: number[], dtype: 'f32' | 'i32' = 'f32') =>
    tensor(Array.from(v), { shape, dtype, backend });
  const q = make(x.q, [d.B, d.H, d.Tq, d.dh]);
  const k = make(x.k, [d.B, d.Hkv, d.Tk, d.dh]);
  const v = make(x.v, [d.B, d.Hkv, d.Tk, d.dh]);
  const ds = x.starts ? make(x.starts, [d.B, d.Tq], 'i32') : null;
  const out = attentionForward(rt, plan, q, k, v, ds, x.opts.scale, { ...d, kvOffset: x.opts.kvOffset });
  const [o, lse] = [await out.o.data(), await out.lse.data()];
  for (const t of [q, k, v, ds, out.o, out.lse]) t?.dispose();
  let oErr = 0;
  let lseErr = 0;
  for (let i = 0; i < o.length; i++) oErr = Math.max(oErr, Math.abs(o[i]! - ref.o[i]!));
  for (let i = 0; i < lse.length; i++) lseErr = Math.max(lseErr, Math.abs(lse[i]! - ref.lse[i]!));
  report(`reduced forward ${name}`, [
    ['|o - ref|', oErr, 2 ** -11 * Math.max(...x.v.map(Math.abs)) + 1e-5],
    ['|lse - ref|', lseErr, 2e-5 * Math.max(1, ...Array.from(ref.lse, Math.abs))],
  ]);
}

/** The sgmat dq kernel's dq and Δ against the float64 reference (o and lse from the reference forward). */
async function checkQueryGrad(backend: Backend, name: string, d: Dims, cuts: readonly number[] | null) {
  const rt = runtimeOf(backend)!;
  const x = problem(d, cuts);
  const fwd = causalAttentionForward64(x.q, x.k, x.v, d, x.opts);
  const ref = causalAttentionQueryGrad64(x.q, x.k, x.v, x.dO, d, x.opts);
  const plan = attentionPlan(rt, {
    dtype: 'f32',
    dh: d.dh,
    docs: x.starts !== undefined,
    reducedPrecision: true,
  })!;
  if (!plan.dq.key.includes('|sgmat|')) throw new Error(`${name}: no sgmat dq (${plan.dq.key})`);
  const make = (v: ArrayLike<number>, shape: number[], dtype: 'f32' | 'i32' = 'f32') =>
    tensor(Array.from(v), { shape, dtype, backend });
  const qShape = [d.B, d.H, d.Tq, d.dh];
  const kShape = [d.B, d.Hkv, d.Tk, d.dh];
  const inputs = [
    make(x.q, qShape),
    make(x.k, kShape),
    make(x.v, kShape),
    make(fwd.o, qShape),
    make(x.dO, qShape),
    make(fwd.lse, [d.B, d.H, d.Tq]),
    x.starts ? make(x.starts, [d.B, d.Tq], 'i32') : null,
  ] as const;
  const out = attentionQueryGrad(rt, plan, inputs, x.opts.scale, { ...d, kvOffset: x.opts.kvOffset });
  const [dq, delta] = [await out.dq.data(), await out.delta.data()];
  for (const t of [...inputs, out.dq, out.delta] as (Tensor | null)[]) t?.dispose();
  const kMax = Math.max(...x.k.map(Math.abs));
  let dqRatio = 0; // worst |dq - ref| / its bound
  let deltaRatio = 0;
  for (let row = 0; row < ref.delta.length; row++) {
    const tol = 1.25 * 2 ** -10 * x.opts.scale * kMax * ref.dsAbsSum[row]! + 1e-5;
    for (let c = 0; c < d.dh; c++) {
      const i = row * d.dh + c;
      dqRatio = Math.max(dqRatio, Math.abs(dq[i]! - ref.dq[i]!) / tol);
    }
    deltaRatio = Math.max(
      deltaRatio,
      Math.abs(delta[row]! - ref.delta[row]!) / (1e-5 * (1 + Math.abs(ref.delta[row]!))),
    );
  }
  report(`reduced dq ${name}`, [
    ['|dq - ref| / bound', dqRatio, 1],
    ['|Δ - ref| / bound', deltaRatio, 1],
  ]);
}

/** f16-representable checkOp input. */
const half = (seed: number, ...shape: number[]): InputSpec => {
  const values = halfValues(
    shape.reduce((a, b) => a * b, 1),
    seed,
  );
  return { shape, init: (i) => values[i]! };
};

/**
 * All checks of the reduced-precision kernels now selected (the forward; dq
 * too when `attentionTuning.sgmatDq` is on): direct forward (and dq) checks on
 * several shapes, then checkOp's forward and every gradient.
 */
export async function checkReducedPrecision(backend: Backend): Promise<void> {
  const shapes: [string, Dims, number[] | null][] = [
    ['dh=64 T=300 GQA 4/2 docStart', { B: 2, H: 4, Hkv: 2, Tq: 300, Tk: 300, dh: 64 }, [37, 150]],
    ['dh=64 Tq=70 Tk=300 (kvOffset)', { B: 1, H: 2, Hkv: 2, Tq: 70, Tk: 300, dh: 64 }, null],
    ['dh=32 T=129', { B: 1, H: 3, Hkv: 1, Tq: 129, Tk: 129, dh: 32 }, null],
    ['dh=12 T=65', { B: 1, H: 2, Hkv: 2, Tq: 65, Tk: 65, dh: 12 }, null],
  ];
  for (const [name, d, cuts] of shapes) {
    await checkForward(backend, name, d, cuts);
    if (attentionTuning.sgmatDq) await checkQueryGrad(backend, name, d, cuts);
  }
  await withReduced(
    () => checkForward(backend, 'dh=64 T=300 tau=0', { B: 1, H: 2, Hkv: 2, Tq: 300, Tk: 300, dh: 64 }, null),
    { sgmatTau: 0 },
  );
  const starts = docStarts(200, [37, 150]);
  const docStart: InputSpec = { shape: [1, 200], dtype: 'i32', init: (i) => starts[i]! };
  // dO (checkOp's random weights) is not f16-representable: sgmat dq rounds it.
  const tol = attentionTuning.sgmatDq ? 2e-3 : 1e-3;
  await checkOp(
    'causalAttention reduced dh=64 T=200 GQA 4/2 docStart',
    [half(1, 1, 4, 200, 64), half(2, 1, 2, 200, 64), half(3, 1, 2, 200, 64), docStart],
    ([q, k, v, d]) => causalAttention(q!, k!, v!, { docStart: d! }),
    { backend, fd: false, atol: tol, rtol: tol },
  );
  await checkOp(
    'causalAttention reduced dh=64 Tq=70 Tk=300 (kvOffset)',
    [half(4, 1, 2, 70, 64), half(5, 1, 2, 300, 64), half(6, 1, 2, 300, 64)],
    ([q, k, v]) => causalAttention(q!, k!, v!),
    { backend, fd: false, atol: tol, rtol: tol },
  );
}
