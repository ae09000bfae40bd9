/**
 * Fused causal attention benchmark (not a test): GPU time of the forward, dq
 * and dk/dv kernels and of their sum (forward + backward), f32, for the shapes
 * of the training step (B=8 H=12 T=1024 dh=64) and a long context (B=2 T=4096).
 * Where the device has subgroup matrices two more rows per shape time the
 * reduced-precision kernels (tensor cores): `reduced`, the sgmat forward
 * (`causal-attention.sgmat.wgsl.ts`) with the f32 backward, and `reduced+dq`,
 * also the sgmat dq (`causal-attention.sgmat-dq.wgsl.ts`; opt-in `sgmatDq`).
 * Each kernel is timed alone by the per-dispatch profiler (timestamp queries,
 * mean over `--iters` steps after warm-up steps). TFLOP/s count the causal
 * FLOPs each kernel executes: one causal `[T, T] × dh` product is
 * `2·dh·T(T+1)/2` per head; the forward runs 2 (QKᵀ, PV), dq 3 (QKᵀ, dO·Vᵀ,
 * dS·K) and dk/dv 4 (KQᵀ, V·dOᵀ, Pᵀ·dO, dSᵀ·Q).
 *
 *   pnpm --filter @dynconv/kernels-webgpu bench:attention [--iters N] [--json FILE] [--small] [--sweep]
 *
 * Before timing it checks on the device that the kernels match the float64
 * reference (checkOp: forward and every gradient, with GQA, packed documents
 * and a KV offset). `--sweep` also times the other launch shapes (that fit) at
 * the first shape, each checked on the device against the default's outputs
 * (o, dq, dk, dv) first. bench/torch_attention.py is the PyTorch baseline, run in the same device command.
 *
 * The reduced-precision kernels are checked on the device before their times
 * count (bench/attention-reduced-checks.ts: o, lse, dq and Δ against the
 * float64 reference within the bounds of their f16 roundings, and checkOp's
 * forward and every gradient) and, at each timed shape, the max relative
 * difference of o, dq, dk, dv from the f32 kernels' is printed (above 1e-2
 * reads MISMATCH). `--sweep` also times their other launch shapes and the
 * rescale threshold 0, each checked against f32 first.
 */
import { writeFileSync } from 'node:fs';
import { matmulCaps, randn, type Tensor, tidy } from '@dynconv/tensor';
import { createNodeWebGPUBackend } from '@dynconv/tensor/node';
import { checkOp } from '@dynconv/tensor/testing';
import { attentionPlan, attentionTuning, LAUNCHES } from '../src/causal-attention/causal-attention.fused.js';
import { causalAttention } from '../src/causal-attention/causal-attention.js';
import { SGMAT_DQ_LAUNCHES, SGMAT_LAUNCHES } from '../src/causal-attention/causal-attention.sgmat-plan.js';
import { checkReducedPrecision, withReduced } from './attention-reduced-checks.js';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const small = args.includes('--small');
const iters = Number(flag('--iters') ?? (small ? 2 : 20));
const sweep = args.includes('--sweep');
const shapes = small
  ? [{ B: 1, H: 2, T: 256, dh: 64 }]
  : [
      { B: 8, H: 12, T: 1024, dh: 64 },
      { B: 2, H: 12, T: 4096, dh: 64 },
    ];

const backend = await createNodeWebGPUBackend({ disableToggles: ['timestamp_quantization'] });
const rt = backend.runtime;
const info = rt.device.adapterInfo;
const limit = rt.device.limits.maxComputeWorkgroupStorageSize;
console.log(`device: ${`${info.vendor} ${info.architecture} ${info.description}`.trim()}`);
console.log(`maxComputeWorkgroupStorageSize ${limit}; timestamps ${rt.hasTimestamps}`);
const plan = attentionPlan(rt, { dtype: 'f32', dh: 64, docs: false });
console.log(`kernels: ${plan ? [plan.fwd.key, plan.dq.key, plan.dkdv.key].join('  ') : 'none fit'}`);
const caps = matmulCaps(rt.device);
const reducedPlan = attentionPlan(rt, { dtype: 'f32', dh: 64, docs: false, reducedPrecision: true });
const reduced = reducedPlan?.fwd.key.includes('|sgmat|') ?? false;
console.log(
  `subgroup matrices: ${caps.subgroupMatrix ? 'yes' : 'no'} (${caps.subgroupMatrixNote}); reduced-precision forward: ${reduced ? reducedPlan!.fwd.key : 'none'}`,
);

// 1. Numerics against the float64 reference (forward and every gradient), GQA and packed documents.
const f = (...shape: number[]) => ({ shape });
const starts = docStarts(200, [37, 150]);
const docStart = { shape: [1, 200], dtype: 'i32' as const, init: (i: number) => starts[i]! };
await checkOp(
  'causalAttention dh=64 T=200 GQA 4/2 docStart',
  [f(1, 4, 200, 64), f(1, 2, 200, 64), f(1, 2, 200, 64), docStart],
  ([q, k, v, d]) => causalAttention(q!, k!, v!, { docStart: d! }),
  { backend, fd: false },
);
await checkOp(
  'causalAttention dh=64 Tq=70 Tk=300 (kvOffset)',
  [f(1, 2, 70, 64), f(1, 2, 300, 64), f(1, 2, 300, 64)],
  ([q, k, v]) => causalAttention(q!, k!, v!),
  { backend, fd: false },
);
console.log('check: new kernels match the float64 reference (forward, dq, dk, dv)');

if (reduced) {
  await withReduced(() => checkReducedPrecision(backend));
  console.log('check: the reduced-precision forward matches the float64 reference (o, lse; f32 backward)');
  await withReduced(() => checkReducedPrecision(backend), { sgmatDq: true });
  console.log(
    'check: the reduced-precision dq matches the float64 reference (dq, Δ; with the sgmat forward)',
  );
}

function docStarts(T: number, cuts: number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < T; i++) out.push(Math.max(0, ...cuts.filter((c) => c <= i)));
  return out;
}

interface Timing {
  fwd: number;
  dq: number;
  dkdv: number;
  step: number | null;
}

/** Mean GPU ms per dispatch of each kernel over `iters` forward+backward steps. */
async function timeKernels(q: Tensor, k: Tensor, v: Tensor, w: Tensor): Promise<Timing> {
  const step = () => {
    tidy(() => causalAttention(q, k, v).mul(w).sum().backward());
    for (const t of [q, k, v]) t.zeroGrad();
  };
  for (let i = 0; i < 3; i++) step();
  await backend.sync();
  const stepMs: number[] = [];
  for (let i = 0; i < Math.min(iters, 5); i++) {
    const ms = await rt.timeGpu(step);
    if (ms !== null) stepMs.push(ms);
  }
  stepMs.sort((a, b) => a - b);
  if (!rt.startProfile()) return { fwd: Number.NaN, dq: Number.NaN, dkdv: Number.NaN, step: null };
  for (let i = 0; i < iters; i++) step();
  const prof = await rt.stopProfile();
  const of = (stage: string): number => {
    for (const [key, t] of prof)
      if (key.startsWith(`causalAttention.${stage}|`) || key.startsWith(`causalAttention.legacy.${stage}|`))
        return t.ms / t.dispatches;
    throw new Error(`no ${stage} dispatch profiled (${[...prof.keys()].join(', ')})`);
  };
  return {
    fwd: of('fwd'),
    dq: of('dq'),
    dkdv: of('dkdv'),
    step: stepMs.length ? stepMs[stepMs.length >> 1]! : null,
  };
}

/** o, dq, dk, dv of one forward+backward step under the current launch shapes (host copies). */
async function outputs(q: Tensor, k: Tensor, v: Tensor, w: Tensor): Promise<Float32Array[]> {
  const o = causalAttention(q, k, v);
  tidy(() => o.mul(w).sum().backward());
  const out = [await o.data(), await q.grad!.data(), await k.grad!.data(), await v.grad!.data()];
  o.dispose();
  for (const t of [q, k, v]) t.zeroGrad();
  return out.map((a) => Float32Array.from(a));
}

/** Largest |a - b| over each pair of outputs, relative to the largest |a| (NaN reads as Infinity). */
function relDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  for (const [i, x] of a.entries()) {
    let d = 0;
    let s = 0;
    for (let j = 0; j < x.length; j++) {
      d = Math.max(d, Math.abs(x[j]! - b[i]![j]!));
      s = Math.max(s, Math.abs(x[j]!));
    }
    m = Math.max(m, Number.isNaN(d) ? Number.POSITIVE_INFINITY : d / s);
  }
  return m;
}

const rows: Record<string, unknown>[] = [];
for (const { B, H, T, dh } of shapes) {
  const leaf = () => tidy(() => randn([B, H, T, dh], { backend }).mul(0.5)).requireGrad();
  const [q, k, v] = [leaf(), leaf(), leaf()];
  const w = randn([B, H, T, dh], { backend });
  const unit = 2 * dh * ((T * (T + 1)) / 2) * B * H; // one causal product
  const timeRow = async (name: string, extra: Record<string, unknown> = {}) => {
    const t = await timeKernels(q, k, v, w);
    const total = t.fwd + t.dq + t.dkdv;
    const row = {
      kernels: name,
      shape: `B=${B} H=${H} T=${T} dh=${dh}`,
      fwdMs: +t.fwd.toFixed(3),
      dqMs: +t.dq.toFixed(3),
      dkdvMs: +t.dkdv.toFixed(3),
      fwdBwdMs: +total.toFixed(3),
      stepGpuMs: t.step === null ? null : +t.step.toFixed(3),
      fwdTflops: +((2 * unit) / t.fwd / 1e9).toFixed(2),
      dqTflops: +((3 * unit) / t.dq / 1e9).toFixed(2),
      dkdvTflops: +((4 * unit) / t.dkdv / 1e9).toFixed(2),
      fwdBwdTflops: +((9 * unit) / total / 1e9).toFixed(2),
      ...extra,
    };
    rows.push(row);
    console.log(JSON.stringify(row));
  };
  await timeRow('tiled');
  if (reduced) {
    // The f32 kernels' outputs are the yardstick of the reduced kernels at this shape (on the device).
    const f32Out = await outputs(q, k, v, w);
    for (const [name, tuning] of [
      ['reduced', {}],
      ['reduced+dq', { sgmatDq: true }],
    ] as const) {
      const diff = await withReduced(async () => relDiff(f32Out, await outputs(q, k, v, w)), tuning);
      console.log(
        `check ${name} vs f32 kernels at B=${B} H=${H} T=${T}: max rel diff of o, dq, dk, dv ${diff.toExponential(1)}${diff < 1e-2 ? '' : ' MISMATCH'}`,
      );
      await withReduced(() => timeRow(name, { maxRelDiffVsF32: +diff.toExponential(2) }), tuning);
    }
    if (sweep && T === shapes[0]!.T) {
      const variants: Partial<typeof attentionTuning>[] = [
        ...SGMAT_LAUNCHES.slice(1).map((l) => ({ sgmatLaunch: l })),
        { sgmatTau: 0 },
        ...SGMAT_DQ_LAUNCHES.slice(1).map((l) => ({ sgmatDq: true, sgmatDqLaunch: l })),
        { sgmatDq: true, sgmatDqLaunch: { ...SGMAT_DQ_LAUNCHES[0]!, transposed: false } },
      ];
      for (const tuning of variants)
        await withReduced(async () => {
          const p = attentionPlan(rt, { dtype: 'f32', dh, docs: false, reducedPrecision: true });
          const fits = (key = '') => key.includes('|sgmat|');
          if (!fits(p?.fwd.key) || (tuning.sgmatDq && !fits(p?.dq.key)))
            return console.log(`sweep reduced ${JSON.stringify(tuning)}: does not fit`);
          const d = relDiff(f32Out, await outputs(q, k, v, w));
          const t = await timeKernels(q, k, v, w);
          console.log(
            `sweep reduced ${JSON.stringify(tuning)}: fwd ${t.fwd.toFixed(3)} dq ${t.dq.toFixed(3)} ms; max rel diff vs f32 ${d.toExponential(1)}${d < 1e-2 ? '' : ' MISMATCH'}`,
          );
        }, tuning);
    }
  }
  if (sweep && T === shapes[0]!.T) {
    // Every swept launch is checked against the default's outputs at this shape before its time counts.
    const ref = await outputs(q, k, v, w);
    const n = Math.max(LAUNCHES.fwd.length, LAUNCHES.dq.length, LAUNCHES.dkdv.length);
    for (let i = 1; i < n; i++) {
      const launch = {
        fwd: LAUNCHES.fwd[Math.min(i, LAUNCHES.fwd.length - 1)]!,
        dq: LAUNCHES.dq[Math.min(i, LAUNCHES.dq.length - 1)]!,
        dkdv: LAUNCHES.dkdv[Math.min(i, LAUNCHES.dkdv.length - 1)]!,
      };
      attentionTuning.launch = launch;
      if (!attentionPlan(rt, { dtype: 'f32', dh, docs: false })) continue;
      const diff = relDiff(ref, await outputs(q, k, v, w));
      const t = await timeKernels(q, k, v, w);
      console.log(
        `sweep ${JSON.stringify(launch)}: fwd ${t.fwd.toFixed(3)} dq ${t.dq.toFixed(3)} dkdv ${t.dkdv.toFixed(3)} ms; max rel diff vs default ${diff.toExponential(1)}${diff < 1e-4 ? '' : ' MISMATCH'}`,
      );
    }
    attentionTuning.launch = {};
    attentionTuning.heavyFirst = false;
    const diff = relDiff(ref, await outputs(q, k, v, w));
    const t = await timeKernels(q, k, v, w);
    console.log(
      `sweep default launches, blocks in row order (not heavy first): fwd ${t.fwd.toFixed(3)} dq ${t.dq.toFixed(3)} dkdv ${t.dkdv.toFixed(3)} ms; max rel diff vs default ${diff.toExponential(1)}${diff < 1e-4 ? '' : ' MISMATCH'}`,
    );
    attentionTuning.heavyFirst = undefined;
  }
  for (const t of [q, k, v, w]) t.dispose();
}

console.log(
  '\n| kernels | shape | fwd ms | dq ms | dk/dv ms | fwd+bwd ms | fwd TF/s | dq TF/s | dkdv TF/s | fwd+bwd TF/s |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows)
  console.log(
    `| ${r.kernels} | ${r.shape} | ${r.fwdMs} | ${r.dqMs} | ${r.dkdvMs} | ${r.fwdBwdMs} | ${r.fwdTflops} | ${r.dqTflops} | ${r.dkdvTflops} | ${r.fwdBwdTflops} |`,
  );
const json = flag('--json');
if (json) writeFileSync(json, `${JSON.stringify({ device: info, limit, iters, rows }, null, 2)}\n`);
backend.destroy();
