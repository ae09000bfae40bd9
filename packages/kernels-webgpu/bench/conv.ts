/**
 * Short-convolution benchmark (not a test): forward and forward+backward GPU
 * time of the fused kernels, achieved bandwidth over the minimal bytes (each
 * input read once, each output written once) and its ratio to a measured
 * copy bandwidth. Variants: static (bias + SiLU), head-wise hs=1 and hs=16,
 * low-rank R=16 (dynamic ones with a static filter S and the residual, the
 * DSC configuration). f32.
 *
 *   pnpm --filter @dynconv/kernels-webgpu bench:conv [--small] [--iters N] [--json FILE] [--toggles a,b] [--sweep]
 *
 * Full shape: B=4, T=4096, D=2048, W=4 (needs a real GPU); --small: B=1, T=256, D=128.
 * Times come from timestamp queries around the recorded dispatches when the
 * device has `timestamp-query`, else from the wall clock around a sync.
 * --check first compares every fused op (f32, and f16 with shader-f16) with
 * the float64 reference on this device (checkOp), since a fast wrong kernel
 * is worthless. --sweep also times a few launch shapes (workgroup, tokens per thread) to
 * pick the defaults in `convTuning`.
 */
import { writeFileSync } from 'node:fs';
import { randn, type Tensor, tidy } from '@dynconv/tensor';
import { createNodeWebGPUBackend } from '@dynconv/tensor/node';
import { checkOp, type InputSpec } from '@dynconv/tensor/testing';
import { convTuning } from '../src/conv-core/conv-launch.js';
import { causalAttention, dynamicConvHeadwise, dynamicConvLowRank, shortConv } from '../src/index.js';
import { gpuTimer } from './gpu-timer.js';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const small = args.includes('--small');
const iters = Number(flag('--iters') ?? (small ? 3 : 25));
const toggles = flag('--toggles')?.split(',').filter(Boolean) ?? [];
const [B, T, D, W] = small ? [1, 256, 128, 4] : [4, 4096, 2048, 4];
const R = 16;

// Timestamp quantization (a browser anti-fingerprinting measure) would round the GPU times.
const backend = await createNodeWebGPUBackend({
  enableToggles: toggles,
  disableToggles: ['timestamp_quantization'],
});
const rt = backend.runtime;
const info = rt.device.adapterInfo;
const deviceName = `${info.vendor} ${info.architecture} ${info.description}`.trim();

/** Median GPU milliseconds of `work` (timestamp queries, else wall clock), after a few warm-up runs. */
const timeMs = gpuTimer(backend, rt, iters, small ? 1 : 5);

/** Copy bandwidth: a vec4 copy of a [B, T, D] f32 tensor (bytes read + written). */
async function copyGBs(): Promise<number> {
  const n = B * T * D;
  const src = randn([n], { backend });
  const dst = randn([n], { backend });
  const gpu = (t: Tensor) => (t.storage.buffer as unknown as { gpu: GPUBuffer }).gpu;
  const code = `struct Params { n4: u32, gridX: u32, p0: u32, p1: u32 }
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> b: array<vec4<f32>>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * u.gridX) * 256u + lid;
  if (i < u.n4) { b[i] = a[i]; }
}`;
  const groups = Math.ceil(n / 4 / 256);
  const gx = Math.min(groups, 32768);
  const gy = Math.ceil(groups / gx);
  const ms = await timeMs(() =>
    rt.dispatch({
      pipelineKey: 'bench.copy',
      makeCode: () => code,
      bindings: [{ buffer: gpu(src) }, { buffer: gpu(dst), write: true }],
      uniforms: new Uint32Array([n / 4, gx, 0, 0]),
      workgroups: [gx, gy],
    }),
  );
  src.dispose();
  dst.dispose();
  return (2 * n * 4) / (ms * 1e6);
}

interface Variant {
  name: string;
  /** Leaves (all differentiated) and the op. */
  inputs: Tensor[];
  run: (t: Tensor[]) => Tensor;
  /** Minimal bytes: forward (inputs + y) and backward (dy + saved inputs read, every gradient written). */
  fwdBytes: number;
  bwdBytes: number;
}

const f4 = 4;
const btd = B * T * D;
const param = (shape: number[], scale = 0.5) => tidy(() => randn(shape, { backend }).mul(scale));

function variants(): Variant[] {
  const out: Variant[] = [];
  {
    const inputs = [param([B, T, D]), param([W, D]), param([D])];
    const p = W * D + D;
    out.push({
      name: 'static (bias, silu)',
      inputs,
      run: ([x, w, b]) => shortConv(x!, w!, { bias: b!, activation: 'silu' }),
      fwdBytes: (2 * btd + p) * f4,
      bwdBytes: (2 * btd + p + btd + p) * f4,
    });
  }
  for (const hs of [1, 16]) {
    const H = D / hs;
    const taps = B * T * H * W;
    const inputs = [param([B, T, D]), param([B, T, H, W]), param([W, D])];
    out.push({
      name: `head-wise hs=${hs}`,
      inputs,
      run: ([x, k, s]) => dynamicConvHeadwise(x!, k!, { static: s!, residual: true }),
      fwdBytes: (2 * btd + taps + W * D) * f4,
      bwdBytes: (2 * btd + taps + W * D + btd + taps + W * D) * f4,
    });
  }
  {
    const zs = B * T * R;
    const us = R * W * D;
    const inputs = [param([B, T, D]), param([B, T, R]), param([R, W * D], 0.1), param([W, D])];
    out.push({
      name: `low-rank R=${R}`,
      inputs,
      run: ([x, z, u, s]) => dynamicConvLowRank(x!, z!, u!, { static: s!, residual: true }),
      fwdBytes: (2 * btd + zs + us + W * D) * f4,
      bwdBytes: (2 * btd + zs + us + W * D + btd + zs + us + W * D) * f4,
    });
  }
  return out;
}

/** checkOp of each fused op on this device, f32 and (with shader-f16) f16. */
async function deviceCheck(): Promise<void> {
  const docs = (b: number, t: number): InputSpec => {
    const v = Array.from({ length: b * t }, (_, i) => (i % t >= 40 ? 40 : i % t >= 7 ? 7 : 0));
    return { shape: [b, t], dtype: 'i32', init: (i) => v[i]! };
  };
  for (const dtype of ['f32', 'f16'] as const) {
    if (dtype === 'f16' && !backend.supportsF16) continue;
    const f = (...shape: number[]): InputSpec => ({ shape, dtype });
    const tol = dtype === 'f32' ? { atol: 1e-4, rtol: 1e-4 } : { atol: 3e-2, rtol: 3e-2 };
    const cases: [string, InputSpec[], (t: Tensor[]) => Tensor][] = [
      [
        'shortConv',
        [f(2, 300, 70), f(4, 70), f(70), docs(2, 300)],
        ([x, w, b, d]) => shortConv(x!, w!, { bias: b!, activation: 'silu', residual: true, docStart: d! }),
      ],
      [
        'headwise hs=1',
        [f(2, 300, 70), f(2, 300, 70, 4), f(4, 70), docs(2, 300)],
        ([x, k, s, d]) => dynamicConvHeadwise(x!, k!, { static: s!, residual: true, docStart: d! }),
      ],
      [
        'headwise hs=16 W=3',
        [f(2, 300, 80), f(2, 300, 5, 3), f(3, 80), docs(2, 300)],
        ([x, k, s, d]) => dynamicConvHeadwise(x!, k!, { static: s!, residual: true, docStart: d! }),
      ],
      [
        'headwise hs=16 W=4',
        [f(2, 300, 96), f(2, 300, 6, 4), f(4, 96), docs(2, 300)],
        ([x, k, s, d]) => dynamicConvHeadwise(x!, k!, { static: s!, residual: true, docStart: d! }),
      ],
      ['headwise hs=32 W=8', [f(1, 200, 96), f(1, 200, 3, 8)], ([x, k]) => dynamicConvHeadwise(x!, k!)],
      [
        'headwise hs=8 W=2',
        [f(1, 200, 72), f(1, 200, 9, 2), docs(1, 200)],
        ([x, k, d]) => dynamicConvHeadwise(x!, k!, { residual: true, docStart: d! }),
      ],
      ['headwise hs=12 W=4', [f(1, 200, 72), f(1, 200, 6, 4)], ([x, k]) => dynamicConvHeadwise(x!, k!)],
      [
        'lowrank R=16',
        [f(2, 300, 40), f(2, 300, 16), f(16, 160), f(4, 40), docs(2, 300)],
        ([x, z, u, s, d]) => dynamicConvLowRank(x!, z!, u!, { static: s!, residual: true, docStart: d! }),
      ],
      [
        'lowrank R=64 W=8',
        [f(1, 100, 8), f(1, 100, 64), f(64, 64), docs(1, 100)],
        ([x, z, u, d]) => dynamicConvLowRank(x!, z!, u!, { docStart: d! }),
      ],
      [
        'attention GQA dh=64',
        [f(1, 4, 90, 64), f(1, 2, 90, 64), f(1, 2, 90, 64), docs(1, 90)],
        ([q, k, v, d]) => causalAttention(q!, k!, v!, { docStart: d! }),
      ],
    ];
    // The low-rank case once more with the split backward (the flag is read when backward runs).
    cases.push(['lowrank R=16 split backward', cases[7]![1], cases[7]![2]]);
    for (const [name, specs, fn] of cases) {
      convTuning.lowRankSplitBackward = name.endsWith('split backward');
      try {
        const r = await checkOp(`${name} ${dtype}`, specs, fn, { backend, fd: false, ...tol });
        console.log(
          `check ${name} ${dtype}: ok (forward max err ${r.forwardMaxErr.toExponential(2)}, grad max err ${r.gradMaxErr.toExponential(2)})`,
        );
      } catch (e) {
        console.log(`check ${name} ${dtype}: FAILED ${(e as Error).message.slice(0, 400)}`);
      } finally {
        convTuning.lowRankSplitBackward = false;
      }
    }
  }
}
if (args.includes('--check')) await deviceCheck();

// An idle GPU runs at low clocks for a while: keep it busy for a few seconds before measuring anything.
if (!small) {
  const start = performance.now();
  while (performance.now() - start < 4000) await copyGBs();
}
const copy = await copyGBs();
console.log(
  `device: ${deviceName}; shape B=${B} T=${T} D=${D} W=${W} f32; copy ${copy.toPrecision(4)} GB/s; toggles [${toggles.join(',')}]`,
);
const rows: Record<string, number | string>[] = [];
for (const v of variants()) {
  for (const t of v.inputs) t.requireGrad();
  const gy = tidy(() => randn([B, T, D], { backend }));
  const fwd = await timeMs(() => tidy(() => void v.run(v.inputs)));
  const fwdBwd = await timeMs(() => {
    tidy(() => v.run(v.inputs).backward(gy));
    for (const t of v.inputs) t.zeroGrad();
  });
  const fwdGBs = v.fwdBytes / (fwd * 1e6);
  const allGBs = (v.fwdBytes + v.bwdBytes) / (fwdBwd * 1e6);
  const row = {
    variant: v.name,
    fwdMs: +fwd.toFixed(4),
    fwdGBs: +fwdGBs.toPrecision(4),
    fwdOfCopy: +(fwdGBs / copy).toFixed(3),
    fwdBwdMs: +fwdBwd.toFixed(4),
    fwdBwdGBs: +allGBs.toPrecision(4),
    fwdBwdOfCopy: +(allGBs / copy).toFixed(3),
  };
  rows.push(row);
  console.log(JSON.stringify(row));
  gy.dispose();
  for (const t of v.inputs) t.dispose();
}
console.table(rows);

if (args.includes('--sweep')) {
  const defaults = { ...convTuning };
  const shapes = [
    { ...defaults, lowRankSplitBackward: true },
    {
      ...defaults,
      forwardChunk: 64,
      backwardChunk: 256,
      headwiseBackwardChunk: 128,
      lowRankBackwardChunk: 256,
    },
    { ...defaults, workgroup: 128 },
  ];
  for (const shape of shapes) {
    Object.assign(convTuning, shape);
    for (const v of variants()) {
      for (const t of v.inputs) t.requireGrad();
      const gy = tidy(() => randn([B, T, D], { backend }));
      const fwd = await timeMs(() => tidy(() => void v.run(v.inputs)));
      const fwdBwd = await timeMs(() => {
        tidy(() => v.run(v.inputs).backward(gy));
        for (const t of v.inputs) t.zeroGrad();
      });
      console.log(
        `sweep ${JSON.stringify(shape)} ${v.name}: fwd ${fwd.toFixed(4)} ms (${(v.fwdBytes / (fwd * 1e6) / copy).toFixed(3)} of copy), fwd+bwd ${fwdBwd.toFixed(4)} ms`,
      );
      gy.dispose();
      for (const t of v.inputs) t.dispose();
    }
  }
  Object.assign(convTuning, defaults);
}
const json = flag('--json');
if (json)
  writeFileSync(
    json,
    JSON.stringify({ device: deviceName, shape: { B, T, D, W, R }, copyGBs: copy, toggles, rows }, null, 2),
  );
backend.destroy();
