/**
 * Per-kernel GPU time of the low-rank dynamic convolution (not a test): the
 * forward token loop, the backward token loop in each mode (fused, dx,
 * params), the dz kernel and the two partial sums, each timed alone over a
 * range of launch shapes, so that the fwd+bwd total of bench/conv.ts can be
 * attributed. Beside each time: the FLOP rate of the kernel's own arithmetic
 * and its minimal bytes over the measured copy bandwidth.
 *
 *   pnpm --filter @dynconv/kernels-webgpu bench:lowrank-parts [--small] [--iters N] [--json FILE]
 *
 * Shape B=4, T=4096, D=2048, W=4, R=16, f32, static filter and residual (the DSC configuration).
 */
import { writeFileSync } from 'node:fs';
import { randn, type Tensor, tidy } from '@dynconv/tensor';
import { createNodeWebGPUBackend } from '@dynconv/tensor/node';
import { output } from '../src/common/gpu.js';
import { chunking, sumPartials } from '../src/conv-core/conv-launch.js';
import { Z_GRAD_THREADS, zGradSlice } from '../src/dynamic-conv-lowrank/dynamic-conv-lowrank.fused.js';
import {
  type LowRankInputs,
  launchLowRankForward,
  launchLowRankTokenBackward,
  launchLowRankZGrad,
} from '../src/dynamic-conv-lowrank/dynamic-conv-lowrank.launch.js';
import {
  type LowRankKernelParams,
  lowRankPartialRows,
} from '../src/dynamic-conv-lowrank/dynamic-conv-lowrank.wgsl.js';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const small = args.includes('--small');
const iters = Number(flag('--iters') ?? (small ? 3 : 20));
const [B, T, D, W, R] = small ? [1, 256, 128, 4, 16] : [4, 4096, 2048, 4, 16];
const backend = await createNodeWebGPUBackend({ disableToggles: ['timestamp_quantization'] });
const rt = backend.runtime;
const info = rt.device.adapterInfo;
const deviceName = `${info.vendor} ${info.architecture} ${info.description}`.trim();

async function timeMs(work: () => void): Promise<number> {
  for (let i = 0; i < 3; i++) work();
  await backend.sync();
  const samples: number[] = [];
  for (let i = 0; i < iters; i++) {
    const gpu = await rt.timeGpu(work);
    if (gpu !== null) samples.push(gpu);
    else {
      const t0 = performance.now();
      work();
      await backend.sync();
      samples.push(performance.now() - t0);
    }
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

const param = (shape: number[], scale = 0.5) => tidy(() => randn(shape, { backend }).mul(scale));
const inputs: LowRankInputs = {
  x: param([B, T, D]),
  z: param([B, T, R]),
  u: param([R, W * D], 0.1),
  s: param([W, D]),
  docStart: null,
};
const gy = param([B, T, D]);
const dims = { B, T, D, W };
const btd = B * T * D;

// Warm the clocks: an idle GPU runs slow for seconds, so keep it busy with real work first
// (and time the first configuration again at the end: any drift shows as a different number).
const warm = output(backend, [B, T, D], 'f32');
if (!small) {
  const t0 = performance.now();
  while (performance.now() - t0 < 5000) await timeMs(() => backend.copy(inputs.x.view(), warm.view()));
}
warm.dispose();

// Copy bandwidth of this device in this run (the ceiling the byte counts are compared with).
const copyMs = await (async () => {
  const dst = output(backend, [B, T, D], 'f32');
  const ms = await timeMs(() => backend.copy(inputs.x.view(), dst.view()));
  dst.dispose();
  return ms;
})();
const copyGBs = (2 * btd * 4) / (copyMs * 1e6);

interface Row {
  kernel: string;
  shape: string;
  ms: number;
  tflops: number;
  ofCopy: number;
}
const rows: Row[] = [];
function report(kernel: string, shape: string, ms: number, flops: number, bytes: number) {
  const row = {
    kernel,
    shape,
    ms: +ms.toFixed(4),
    tflops: +(flops / (ms * 1e9)).toFixed(2),
    ofCopy: +(bytes / (ms * 1e6) / copyGBs).toFixed(3),
  };
  rows.push(row);
  console.log(JSON.stringify(row));
}

const base = (
  tree: boolean,
  backward: LowRankKernelParams['backward'],
  stageZ = 0,
  prefetch = 1,
): LowRankKernelParams => ({
  dtype: 'f32',
  W,
  R,
  docs: false,
  residual: true,
  workgroup: 64,
  static: true,
  backward,
  tree,
  stageZ,
  prefetch,
});
const rows4 = lowRankPartialRows(base(false, 'fused'));
// FLOPs per (t, c): K = z·U (+S): 2RW + W; conv: 2W; dK: W; dU: 2RW; dz: 2RW.
const kFlops = (2 * R * W + W) * btd;

// [tree, stageZ, prefetch]; the first shape is timed again at the end (clock drift check).
const shapes = [
  [false, 0, 1],
  [false, 64, 1],
  [false, 64, 2],
  [false, 64, 4],
  [false, 0, 4],
  [false, 0, 1],
] as const;
for (const [tree, stageZ, prefetch] of shapes) {
  const label = `tree=${tree} stageZ=${stageZ} pf=${prefetch}`;
  for (const L of small ? [64] : [32, 128, 512]) {
    const y = output(backend, [B, T, D], 'f32');
    const p = base(tree, 'fused', stageZ, prefetch);
    const ms = await timeMs(() => launchLowRankForward(rt, p, inputs, y, dims, chunking(B, T, L)));
    report('forward', `${label} L=${L}`, ms, kFlops + 2 * W * btd, 2 * btd * 4);
    y.dispose();
  }
  for (const mode of ['fused', 'dx', 'params'] as const) {
    for (const L of small ? [64] : [128, 512]) {
      const chunks = chunking(B, T, L);
      const dx = output(backend, [B, T, D], 'f32');
      const part = output(backend, [chunks.numChunks * rows4 * D], 'f32');
      const p = base(tree, mode, stageZ, prefetch);
      const ms = await timeMs(() =>
        launchLowRankTokenBackward(rt, p, gy, inputs, { dx, part }, { ...dims, rows: rows4 }, chunks),
      );
      const flops =
        (mode !== 'params' ? kFlops + 2 * W * btd : 0) + (mode !== 'dx' ? (W + 2 * R * W) * btd : 0);
      const bytes =
        (mode === 'dx' ? 2 : 3) * btd * 4 + (mode !== 'dx' ? chunks.numChunks * rows4 * D * 4 : 0);
      report(`backward ${mode}`, `${label} L=${L}`, ms, flops, bytes);
      dx.dispose();
      part.dispose();
    }
  }
}
for (const [tokens, slice] of small
  ? [[2, 64]]
  : [
      [2, zGradSlice(B, T, D)],
      [4, 256],
      [4, 512],
      [1, 256],
    ]) {
  const zPart = output(backend, [Math.ceil(D / slice!) * B * T * R], 'f32');
  const q = { dtype: 'f32' as const, W, R, docs: false, threads: Z_GRAD_THREADS, tokens: tokens! };
  const ms = await timeMs(() => launchLowRankZGrad(rt, q, gy, inputs, zPart, dims, slice!));
  report('dz', `tokens=${tokens} slice=${slice}`, ms, (W + 2 * R * W) * btd, 2 * btd * 4);
  const sumMs = await timeMs(
    () => void sumPartials(rt, backend, zPart, Math.ceil(D / slice!), B * T * R, 'f32').dispose(),
  );
  report('dz partial sum', `slice=${slice}`, sumMs, 0, zPart.size * 4);
  zPart.dispose();
}
{
  const chunks = chunking(B, T, 512);
  const part = param([chunks.numChunks * rows4 * D]);
  const ms = await timeMs(
    () => void sumPartials(rt, backend, part, chunks.numChunks, rows4 * D, 'f32').dispose(),
  );
  report('dU/dS partial sum', 'L=512', ms, 0, part.size * 4);
  part.dispose();
}
console.log(`device: ${deviceName}; B=${B} T=${T} D=${D} W=${W} R=${R} f32; copy ${copyGBs.toFixed(0)} GB/s`);
console.table(rows);
const json = flag('--json');
if (json)
  writeFileSync(
    json,
    JSON.stringify({ device: deviceName, shape: { B, T, D, W, R }, copyGBs, rows }, null, 2),
  );
backend.destroy();
