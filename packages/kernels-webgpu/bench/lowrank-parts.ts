/**
 * Per-kernel GPU time of the low-rank dynamic convolution (not a test): the
 * forward token loop, the backward token loop in each mode (fused, dx,
 * params), the dz kernel and the two partial sums, so that the fwd+bwd total
 * of bench/conv.ts can be attributed, and candidate launch shapes of each
 * kernel against the current default. GPU clocks drift during a run (an H100
 * run halved its clock midway), so every candidate is timed interleaved with
 * its kernel's default, round by round, and reported as a ratio to it.
 * Beside each time: the FLOP rate of the kernel's own arithmetic and its
 * minimal bytes over the measured copy bandwidth.
 *
 *   pnpm --filter @dynconv/kernels-webgpu bench:lowrank-parts [--small] [--iters N] [--json FILE] [--only PREFIX]
 *
 * Shape B=4, T=4096, D=2048, W=4, R=16, f32, static filter and residual (the DSC configuration).
 */
import { writeFileSync } from 'node:fs';
import { randn, tidy } from '@dynconv/tensor';
import { createNodeWebGPUBackend } from '@dynconv/tensor/node';
import { output } from '../src/common/gpu.js';
import { chunking, convTuning, sumPartials } from '../src/conv-core/conv-launch.js';
import { Z_GRAD_THREADS, zGradSlice } from '../src/dynamic-conv-lowrank/dynamic-conv-lowrank.fused.js';
import { dynamicConvLowRank } from '../src/dynamic-conv-lowrank/dynamic-conv-lowrank.js';
import {
  dispatchZGrad,
  type LowRankInputs,
  launchLowRankForward,
  launchLowRankTokenBackward,
  launchLowRankZGrad,
  launchLowRankZGradQuads,
} from '../src/dynamic-conv-lowrank/dynamic-conv-lowrank.launch.js';
import {
  type LowRankKernelParams,
  lowRankPartialRows,
  lowRankZGradKey,
  lowRankZGradWgsl,
} from '../src/dynamic-conv-lowrank/dynamic-conv-lowrank.wgsl.js';
import {
  lowRankZGradQuadsKey,
  lowRankZGradQuadsWgsl,
  zGradQuadsTokens,
} from '../src/dynamic-conv-lowrank/zgrad-quads.wgsl.js';
import { gpuTimer } from './gpu-timer.js';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const small = args.includes('--small');
/** `--only <kernel prefix>`: time only those comparisons. */
const only = flag('--only');
const iters = Number(flag('--iters') ?? (small ? 3 : 20));
const [B, T, D, W, R] = small ? [1, 256, 128, 4, 16] : [4, 4096, 2048, 4, 16];
const backend = await createNodeWebGPUBackend({ disableToggles: ['timestamp_quantization'] });
const rt = backend.runtime;
const info = rt.device.adapterInfo;
const deviceName = `${info.vendor} ${info.architecture} ${info.description}`.trim();

const timeMs = gpuTimer(backend, rt, iters, 3);

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
  /** Median over rounds of candidate time / default time (1 for the default itself). */
  vsDefault: number;
  tflops: number;
  ofCopy: number;
}
const rows: Row[] = [];

/** One launch shape of one kernel. */
interface Candidate {
  readonly shape: string;
  readonly run: () => void;
}
const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
/** Times each candidate interleaved with `candidates[0]` (the default), `rounds` times. */
async function compare(kernel: string, candidates: Candidate[], flops: number, bytes: number): Promise<void> {
  if (only && !kernel.startsWith(only)) return;
  const rounds = small ? 1 : 5;
  const baseTimes: number[] = [];
  for (const [i, c] of candidates.entries()) {
    const ratios: number[] = [];
    const times: number[] = [];
    for (let k = 0; k < rounds; k++) {
      const b = await timeMs(candidates[0]!.run);
      const t = i === 0 ? b : await timeMs(c.run);
      baseTimes.push(b);
      times.push(t);
      ratios.push(t / b);
    }
    const ms = median(times);
    const row = {
      kernel,
      shape: c.shape,
      ms: +ms.toFixed(4),
      vsDefault: +median(ratios).toFixed(3),
      tflops: +(flops / (ms * 1e9)).toFixed(2),
      ofCopy: +(bytes / (ms * 1e6) / copyGBs).toFixed(3),
    };
    rows.push(row);
    console.log(JSON.stringify(row));
  }
}

interface Shape {
  readonly L: number;
  readonly stageX?: number;
  readonly stageZ?: number;
  readonly prefetch?: number;
  readonly tree?: boolean;
  readonly workgroup?: number;
  readonly piped?: boolean;
}
const params = (backward: LowRankKernelParams['backward'], s: Shape): LowRankKernelParams => ({
  dtype: 'f32',
  W,
  R,
  docs: false,
  residual: true,
  workgroup: s.workgroup ?? 64,
  static: true,
  backward,
  tree: s.tree ?? false,
  stageZ: s.stageX && s.stageZ ? s.stageX : (s.stageZ ?? 0),
  stageX: s.stageX ?? 0,
  prefetch: s.prefetch ?? 1,
  pipelineStage: s.piped ?? false,
});
const describe = (s: Shape): string =>
  `L=${s.L} stageZ=${s.stageZ ?? 0} stageX=${s.stageX ?? 0} pf=${s.prefetch ?? 1}${s.tree ? ' tree' : ''} wg=${s.workgroup ?? 64}${s.piped ? ' piped' : ''}`;
const rowsOfPartials = lowRankPartialRows(params('fused', { L: 1 }));
// FLOPs per (t, c): K = z·U (+S): 2RW + W; conv: 2W; dK: W; dU: 2RW; dz: 2RW.
const kFlops = (2 * R * W + W) * btd;

const y = output(backend, [B, T, D], 'f32');
const defaults: Omit<Shape, 'L'> = {
  stageZ: convTuning.lowRankStageZ,
  stageX: convTuning.lowRankStageX,
  prefetch: convTuning.lowRankPrefetch,
};
const forwardShapes: Shape[] = [
  { L: convTuning.lowRankForwardChunk, ...defaults, stageX: convTuning.lowRankForwardStageX },
  { L: convTuning.lowRankForwardChunk, ...defaults, stageX: convTuning.lowRankForwardStageX, workgroup: 32 },
];
await compare(
  'forward',
  forwardShapes.map((s) => ({
    shape: describe(s),
    run: () => launchLowRankForward(rt, params('fused', s), inputs, y, dims, chunking(B, T, s.L)),
  })),
  kFlops + 2 * W * btd,
  2 * btd * 4,
);
const dx = output(backend, [B, T, D], 'f32');
const maxChunks = chunking(B, T, 32).numChunks;
const part = output(backend, [maxChunks * rowsOfPartials * D], 'f32');
const backwardShapes: [LowRankKernelParams['backward'], Shape][] = [
  [
    convTuning.lowRankSplitBackward ? 'dx' : 'fused',
    { L: convTuning.lowRankBackwardChunk, ...defaults, piped: convTuning.lowRankPipelineStage },
  ],
  ['fused', { L: convTuning.lowRankBackwardChunk, ...defaults, piped: false }],
];
await compare(
  'backward token loop',
  backwardShapes.map(([mode, s]) => ({
    shape: `${mode} ${describe(s)}`,
    run: () =>
      launchLowRankTokenBackward(
        rt,
        params(mode, s),
        gy,
        inputs,
        { dx, part },
        { ...dims, rows: rowsOfPartials },
        chunking(B, T, s.L),
      ),
  })),
  kFlops + 2 * W * btd + (W + 2 * R * W) * btd,
  3 * btd * 4,
);
const zPart = output(backend, [Math.ceil(D / 64) * B * T * R], 'f32'); // room for the narrowest slice tried
const interleaved = (
  tokens: number,
  slice: number,
  threads = Z_GRAD_THREADS,
  channels?: number,
  prefetch = convTuning.lowRankZGradPrefetch,
): Candidate => ({
  shape: `interleaved tokens=${tokens} threads=${threads} slice=${slice} channels=${channels ?? 'fit'}${prefetch ? ' prefetch' : ''}`,
  run: () =>
    launchLowRankZGrad(
      rt,
      { dtype: 'f32', W, R, docs: false, threads, tokens, prefetch, ...(channels ? { channels } : {}) },
      gy,
      inputs,
      zPart,
      dims,
      slice,
    ),
});
const quads = (channels: number, slice: number, vec4Loads = false): Candidate => ({
  shape: `quads channels=${channels} slice=${slice}${vec4Loads ? ' vec4 loads' : ''}`,
  run: () =>
    launchLowRankZGradQuads(
      rt,
      { dtype: 'f32', W, R, docs: false, channels, vec4Loads },
      gy,
      inputs,
      zPart,
      dims,
      slice,
    ),
});
/** The quad kernel with its staging loads skipped after the first step (compute alone). */
const quadsComputeOnly = (channels: number, vec4Loads: boolean): Candidate => {
  const q = { dtype: 'f32' as const, W, R, docs: false, channels, vec4Loads };
  return {
    shape: `ablation: quads channels=${channels}${vec4Loads ? ' vec4 loads' : ''}, stage once`,
    run: () =>
      dispatchZGrad(
        rt,
        {
          key: `${lowRankZGradQuadsKey(q)}|ablate`,
          code: () => lowRankZGradQuadsWgsl(q).replace(/if \(c0 \+ (\d+)u < cEnd\)/, 'if (false)'),
          tokensPerGroup: zGradQuadsTokens(q),
        },
        gy,
        inputs,
        zPart,
        dims,
        256,
      ),
  };
};
/**
 * Ablations of the default dz kernel (bench-only code edits, wrong results on purpose): what the
 * time is made of. 'compute 1/CC' runs the inner loop for one staged channel of CC; 'stage once'
 * loads dy, x and U only in the first stage; 'U once' stages only U once; 'no U reads' replaces
 * the U reads by a constant.
 */
const ablated = (name: string, edit: (code: string) => string, prefetch = false): Candidate => {
  const q = { dtype: 'f32' as const, W, R, docs: false, threads: Z_GRAD_THREADS, tokens: 1, prefetch };
  return {
    shape: `ablation: ${name}`,
    run: () =>
      dispatchZGrad(
        rt,
        {
          key: `${lowRankZGradKey(q)}|ablate=${name}`,
          code: () => edit(lowRankZGradWgsl(q)),
          tokensPerGroup: 128,
        },
        gy,
        inputs,
        zPart,
        dims,
        256,
      ),
  };
};
await compare(
  'dz',
  [
    interleaved(1, 256),
    interleaved(1, 256, 128, undefined, true),
    ablated('prefetch, stage once', (c) => c.replace(/if \(c0 \+ (\d+)u < cEnd\)/, 'if (false)'), true),
    ablated(
      'prefetch, stage once, no U reads',
      (c) =>
        c
          .replace(/if \(c0 \+ (\d+)u < cEnd\)/, 'if (false)')
          .replace(/uS\[ub0 \+ (\d+)u\]/g, 'vec4<f32>(f32(j + $1u))'),
      true,
    ),
    ablated(
      'prefetch, stage once, no mask',
      (c) => c.replace(/if \(c0 \+ (\d+)u < cEnd\)/, 'if (false)').replace(/ \* m0_\d;/g, ';'),
      true,
    ),
    quads(8, 256, true),
    quads(8, 128, true),
    quadsComputeOnly(8, true),
  ],
  (W + 2 * R * W) * btd,
  2 * btd * 4,
);
const slices = Math.ceil(D / zGradSlice(B, T, D, 4));
await compare(
  'dz partial sum',
  [
    {
      shape: `${slices} slices`,
      run: () => void sumPartials(rt, backend, zPart, slices, B * T * R, 'f32').dispose(),
    },
  ],
  0,
  slices * B * T * R * 4,
);
const chunks = chunking(B, T, convTuning.lowRankBackwardChunk).numChunks;
await compare(
  'dU/dS partial sum',
  [
    {
      shape: `${chunks} chunks`,
      run: () => void sumPartials(rt, backend, part, chunks, rowsOfPartials * D, 'f32').dispose(),
    },
  ],
  0,
  chunks * rowsOfPartials * D * 4,
);
for (const t of [y, dx, part, zPart]) t.dispose();

// The whole op (forward + backward through autograd) under tuning variants, interleaved with the defaults.
{
  const leaves = [inputs.x, inputs.z, inputs.u, inputs.s!];
  for (const t of leaves) t.requireGrad();
  const defaults = { ...convTuning };
  const withTuning = (change: Partial<typeof convTuning>) => () => {
    Object.assign(convTuning, change);
    tidy(() =>
      dynamicConvLowRank(leaves[0]!, leaves[1]!, leaves[2]!, { static: leaves[3]!, residual: true }).backward(
        gy,
      ),
    );
    for (const t of leaves) t.zeroGrad();
    Object.assign(convTuning, defaults);
  };
  // The op's pieces in sequence (each row adds one launch), to see what the whole op adds.
  const y2 = output(backend, [B, T, D], 'f32');
  const dx2 = output(backend, [B, T, D], 'f32');
  const bChunks = chunking(B, T, convTuning.lowRankBackwardChunk);
  const part2 = output(backend, [bChunks.numChunks * rowsOfPartials * D], 'f32');
  const zSlice = zGradSlice(B, T, D, 1);
  const zPart2 = output(backend, [Math.ceil(D / zSlice) * B * T * R], 'f32');
  const fwdShape: Shape = {
    L: convTuning.lowRankForwardChunk,
    stageZ: 64,
    stageX: convTuning.lowRankForwardStageX,
  };
  const bwdShape: Shape = {
    L: convTuning.lowRankBackwardChunk,
    stageZ: 64,
    stageX: convTuning.lowRankStageX,
    piped: convTuning.lowRankPipelineStage,
  };
  const steps: (() => void)[] = [
    () => launchLowRankForward(rt, params('fused', fwdShape), inputs, y2, dims, chunking(B, T, fwdShape.L)),
    () =>
      launchLowRankTokenBackward(
        rt,
        params('fused', bwdShape),
        gy,
        inputs,
        { dx: dx2, part: part2 },
        { ...dims, rows: rowsOfPartials },
        bChunks,
      ),
    () =>
      launchLowRankZGradQuads(
        rt,
        { dtype: 'f32', W, R, docs: false, channels: convTuning.lowRankZGradQuadsChannels, vec4Loads: true },
        gy,
        inputs,
        zPart2,
        dims,
        zSlice,
      ),
    () => {
      sumPartials(rt, backend, zPart2, Math.ceil(D / zSlice), B * T * R, 'f32').dispose();
      sumPartials(rt, backend, part2, bChunks.numChunks, rowsOfPartials * D, 'f32').dispose();
    },
  ];
  const names = ['forward', '+ backward token loop', '+ dz', '+ partial sums'];
  await compare(
    'op fwd+bwd',
    [
      { shape: 'whole op through autograd (defaults)', run: withTuning({}) },
      { shape: 'backward chunk 1024', run: withTuning({ lowRankBackwardChunk: 1024 }) },
      ...steps.map((_, i) => ({
        shape: names.slice(0, i + 1).join(' '),
        run: () => {
          for (const f of steps.slice(0, i + 1)) f();
        },
      })),
      { shape: 'token loop alone', run: steps[1]! },
      { shape: 'dz alone', run: steps[2]! },
      {
        shape: 'token loop + dz',
        run: () => {
          steps[1]!();
          steps[2]!();
        },
      },
    ],
    0,
    5 * btd * 4,
  );
  for (const t of [y2, dx2, part2, zPart2]) t.dispose();
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
