/**
 * The packed low-rank dynamic convolution at the end-to-end model's shape
 * (not a test): q|k|v|z_q|z_k|z_v of one fused matmul, B=8, T=1024, three
 * streams of D=768, R=16, W=4, static filter and residual, f32, packed width
 * padded to 2560 like the model under mixed precision (attention.ts,
 * packedWidthMultiple; `--unpadded`: 2352). Times forward + backward of
 * `dynamicConvLowRankPacked` under `convTuning` variants, each interleaved
 * with the defaults round by round (GPU clocks drift) and reported as a
 * ratio to them, then a per-kernel profile of each variant, and checks every
 * variant's outputs and gradients against the defaults' on the device.
 * `--large`: the single-stream op at B=4, T=4096, D=2048 (bench/conv.ts's
 * low-rank shape), to see that a variant does not slow it down.
 *
 *   esbuild bench/lowrank-packed-e2e-shape.ts --bundle --platform=node --format=esm --external:webgpu \
 *     --conditions=@dynconv/source --outfile=dist-bundle/lowrank-e2e/bench.mjs
 *   node dist-bundle/lowrank-e2e/bench.mjs [--large] [--unpadded] [--small] [--only a,b] [--rounds N] [--iters N] [--json FILE]
 */
import { writeFileSync } from 'node:fs';
import { randn, record, type Tensor, tidy, zeros } from '@dynconv/tensor';
import { createNodeWebGPUBackend } from '@dynconv/tensor/node';
import { convTuning } from '../src/conv-core/conv-launch.js';
import { dynamicConvLowRank } from '../src/dynamic-conv-lowrank/dynamic-conv-lowrank.js';
import { dynamicConvLowRankPacked } from '../src/dynamic-conv-lowrank/dynamic-conv-lowrank-packed.js';
import type { PackedLowRankStream } from '../src/dynamic-conv-lowrank/dynamic-conv-lowrank-packed.ref.js';
import { gpuTimer } from './gpu-timer.js';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const small = args.includes('--small');
const large = args.includes('--large');
const only = flag('--only')?.split(',').filter(Boolean);
const rounds = Number(flag('--rounds') ?? (small ? 1 : 5));
const iters = Number(flag('--iters') ?? (small ? 2 : 10));
const [B, T, D] = small ? [2, 64, 64] : large ? [4, 4096, 2048] : [8, 1024, 768];
const [R, W] = [16, 4];
const S = large ? 1 : 3;
const unpadded = S * (D + R);
const P = args.includes('--unpadded') ? unpadded : Math.ceil(unpadded / 256) * 256;

const backend = await createNodeWebGPUBackend({ disableToggles: ['timestamp_quantization'] });
const rt = backend.runtime;
const info = rt.device.adapterInfo;
const deviceName = `${info.vendor} ${info.architecture} ${info.description}`.trim();
const timeMs = gpuTimer(backend, rt, iters, 2);
const param = (shape: number[], scale = 0.5) =>
  tidy(() => randn(shape, { backend }).mul(scale).requireGrad());

/** Leaves (all differentiated) and one forward + backward step with the fixed output gradients. */
interface Problem {
  readonly leaves: Tensor[];
  readonly gys: Tensor[];
  readonly forward: () => Tensor[];
}
function problem(): Problem {
  const gys = Array.from({ length: S }, () => tidy(() => randn([B, T, D], { backend }).mul(0.5)));
  if (large) {
    const leaves = [param([B, T, D]), param([B, T, R]), param([R, W * D], 0.1), param([W, D])];
    const [x, z, u, s] = leaves as [Tensor, Tensor, Tensor, Tensor];
    return { leaves, gys, forward: () => [dynamicConvLowRank(x, z, u, { static: s, residual: true })] };
  }
  const packed = param([B, T, P]);
  const us = Array.from({ length: S }, () => param([R, W * D], 0.1));
  const ss = Array.from({ length: S }, () => param([W, D]));
  const streams: PackedLowRankStream[] = us.map((u, i) => ({
    xOffset: i * D,
    channels: D,
    zOffset: S * D + i * R,
    u,
    static: ss[i]!,
    residual: true,
  }));
  return {
    leaves: [packed, ...us, ...ss],
    gys,
    forward: () => dynamicConvLowRankPacked(packed, streams),
  };
}
const prob = problem();

/**
 * Forward + backward of the op with dy = `gys` and nothing else around it: a
 * one-element root whose backward hands the fixed gradients to the op's outputs.
 */
function step(): Tensor[] {
  return tidy(() => {
    const ys = prob.forward();
    const root = zeros([1], { backend });
    record('bench.root', ys, [root], [], () => prob.gys.map((g) => g.share()));
    root.backward();
    return ys;
  });
}
const trainStep = () => {
  for (const y of step()) y.dispose();
  for (const t of prob.leaves) t.zeroGrad();
};

type Tuning = Partial<typeof convTuning>;
const defaults = { ...convTuning };

/**
 * A bench-only edit of one kernel's code (wrong results on purpose): what that
 * kernel's time is made of. Applied to dispatches whose pipeline key starts with `prefix`.
 */
interface Ablation {
  readonly prefix: string;
  readonly edit: (code: string) => string;
}
/** One variant: tuning changes, an ablation, or an extra full-gradient fill (the op's old zeroing). */
interface Variant {
  readonly name: string;
  readonly tuning?: Tuning;
  readonly ablation?: Ablation;
  readonly extraFill?: boolean;
}
let activeAblation: { name: string; ablation: Ablation } | null = null;
{
  const dispatch = rt.dispatch.bind(rt);
  rt.dispatch = (spec) => {
    const a = activeAblation;
    if (!a || !spec.pipelineKey.startsWith(a.ablation.prefix)) return dispatch(spec);
    const make = spec.makeCode;
    return dispatch({
      ...spec,
      pipelineKey: `${spec.pipelineKey}|ablate=${a.name}`,
      makeCode: () => a.ablation.edit(make()),
    });
  };
}
const run = <A>(v: Variant, f: () => A): A => {
  Object.assign(convTuning, defaults, v.tuning ?? {});
  activeAblation = v.ablation ? { name: v.name, ablation: v.ablation } : null;
  try {
    if (v.extraFill) zeros([B, T, P], { backend }).dispose();
    return f();
  } finally {
    Object.assign(convTuning, defaults);
    activeAblation = null;
  }
};

/** Chunks and slices pinned (no occupancy halving); the dz slice at the default's choice for this shape. */
const pin = { lowRankMinWorkgroups: 0, lowRankZGradSlice: large ? 512 : 64 };
const bwdKey = 'dynamicConvLowRank.bwd|';
const noDU = (c: string) => c.replace(/aU\d+_\d+ \+= z\d+ \* dK\d+;/g, '').replace(/aS\d+ \+= dK\d+;/g, '');
const noK = (c: string) => c.replace(/let k(\d+) = s\d+ \+ [^;]*;/g, 'let k$1 = s$1;');
const eightTrips = (c: string) =>
  c.replace(
    /for \(var t = t0; t < ([^;]+); t\+\+\) \{/,
    (_, stop: string) =>
      `for (var t = t0; t < t0 + ((${stop}) - t0 + 7u) / 8u * 8u; t++) {\n    if (t >= ${stop}) { continue; }`,
  );
const variants: Variant[] = [
  { name: 'default' },
  { name: 'old: + full gradient fill', extraFill: true },
  ...[64, 128, 256].map((L) => ({ name: `bwd L=${L}`, tuning: { ...pin, lowRankBackwardChunk: L } })),
  ...[128, 256].map((s) => ({
    name: `dz slice=${s}`,
    tuning: { lowRankZGradSlice: s, lowRankMinWorkgroups: 0 },
  })),
  ...[32, 128].map((wg) => ({ name: `workgroup ${wg}`, tuning: { workgroup: wg } })),
  { name: 'workgroup 32, bwd L=128', tuning: { ...pin, workgroup: 32, lowRankBackwardChunk: 128 } },
  { name: 'tree sum', tuning: { lowRankTreeSum: true } },
  { name: 'stageZ 0', tuning: { lowRankStageZ: 0 } },
  { name: 'bwd stageX=8', tuning: { lowRankStageX: 8 } },
  { name: 'fwd stageX=16', tuning: { lowRankForwardStageX: 16 } },
  { name: 'fwd pipelined', tuning: { lowRankForwardPipelineStage: true } },
  {
    name: 'fwd pipelined stageX=16',
    tuning: { lowRankForwardPipelineStage: true, lowRankForwardStageX: 16 },
  },
  {
    name: 'fwd pipelined stageX=16, bwd L=128',
    tuning: {
      ...pin,
      lowRankForwardPipelineStage: true,
      lowRankForwardStageX: 16,
      lowRankBackwardChunk: 128,
    },
  },
  // The token loop run a multiple of 8 trips (the extra ones skip their body): the subgroup-matrix
  // matmul's K loop ran 2.3-4.4x slower on the H100 for other trip counts. Results stay exact.
  { name: 'loop 8-trips bwd', ablation: { prefix: bwdKey, edit: eightTrips } },
  { name: 'loop 8-trips fwd', ablation: { prefix: 'dynamicConvLowRank.fwd|', edit: eightTrips } },
  { name: 'ablation bwd: no dU/dS', ablation: { prefix: bwdKey, edit: noDU } },
  { name: 'ablation bwd: no K (taps = S)', ablation: { prefix: bwdKey, edit: noK } },
  { name: 'ablation bwd: no K, no dU/dS', ablation: { prefix: bwdKey, edit: (c) => noDU(noK(c)) } },
  { name: 'ablation fwd: no K', ablation: { prefix: 'dynamicConvLowRank.fwd|', edit: noK } },
  {
    name: 'ablation dz: stage once',
    ablation: {
      prefix: 'dynamicConvLowRank.dzQuads|',
      edit: (c) => c.replace(/if \(c0 \+ (\d+)u < cEnd\)/, 'if (false)'),
    },
  },
];
const chosen = variants.filter((v, i) => i === 0 || !only || only.some((o) => v.name.includes(o)));

/** Outputs and gradients of one step under `change` (host copies), in a fixed order. */
async function results(v: Variant): Promise<Float32Array[]> {
  const ys = run(v, step);
  const out: Float32Array[] = [];
  for (const t of [...ys, ...prob.leaves.map((l) => l.grad!)])
    out.push(Float32Array.from((await t.data()) as Float32Array));
  for (const y of ys) y.dispose();
  for (const t of prob.leaves) t.zeroGrad();
  return out;
}
/** Largest |a - b| over each output and gradient relative to its largest |a| (NaN reads as Infinity). */
function relDiff(a: Float32Array[], b: Float32Array[]): number {
  let worst = 0;
  for (const [i, x] of a.entries()) {
    let d = 0;
    let s = 0;
    for (let j = 0; j < x.length; j++) {
      const e = Math.abs(x[j]! - b[i]![j]!);
      d = Number.isNaN(e) ? Number.POSITIVE_INFINITY : Math.max(d, e);
      s = Math.max(s, Math.abs(x[j]!));
    }
    worst = Math.max(worst, d / (s || 1));
  }
  return worst;
}

/** Keeps the GPU busy for `ms` (an idle GPU runs slow for seconds; the diffs on the host idle it). */
async function warmClocks(v: Variant, ms: number): Promise<void> {
  if (small) return;
  const t0 = performance.now();
  while (performance.now() - t0 < ms) await timeMs(() => run(v, trainStep));
}
await warmClocks({ name: 'default' }, 3000);

const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
interface Row {
  variant: string;
  ms: number;
  vsDefault: number;
  spread: string;
  relDiff: number | string;
  kernels: Record<string, number>;
}
// Whole op, each variant interleaved with the defaults, round by round.
const timesOf = new Map(chosen.map((v) => [v.name, { t: [] as number[], r: [] as number[] }]));
for (let k = 0; k < rounds; k++)
  for (const v of chosen) {
    const base = await timeMs(trainStep);
    const t = v.name === 'default' ? base : await timeMs(() => run(v, trainStep));
    timesOf.get(v.name)!.t.push(t);
    timesOf.get(v.name)!.r.push(t / base);
  }

/** Mean GPU ms per step of each kernel (pipeline key up to its first '|', dispatches summed) under `v`. */
async function profile(v: Variant, steps: number): Promise<Record<string, number>> {
  await warmClocks(v, 300);
  run(v, trainStep);
  await backend.sync();
  if (!rt.startProfile()) return {};
  for (let i = 0; i < steps; i++) run(v, trainStep);
  const prof = await rt.stopProfile();
  const out: Record<string, number> = {};
  for (const [key, t] of prof) {
    const name = key.split('|')[0]!.replace('dynamicConvLowRank.', '');
    out[name] = (out[name] ?? 0) + t.ms / steps;
  }
  for (const k of Object.keys(out)) out[k] = +out[k]!.toFixed(4);
  return out;
}
const kernelsOf = new Map<string, Record<string, number>>();
for (const v of chosen) kernelsOf.set(v.name, await profile(v, small ? 2 : 10));

// Correctness last (host work idles the GPU): every variant but the ablations against the defaults.
const reference = await results({ name: 'default' });
const rows: Row[] = [];
for (const v of chosen) {
  const { t, r } = timesOf.get(v.name)!;
  // Ablations compute wrong results on purpose; an edit that keeps them exact is checked like a tuning.
  const diff = v.name.startsWith('ablation')
    ? 'ablation'
    : v.name === 'default'
      ? 0
      : +relDiff(reference, await results(v)).toExponential(2);
  const sorted = [...r].sort((a, b) => a - b);
  const row: Row = {
    variant: v.name,
    ms: +median(t).toFixed(4),
    vsDefault: +median(r).toFixed(3),
    spread: `${sorted[0]!.toFixed(3)}..${sorted[sorted.length - 1]!.toFixed(3)}`,
    relDiff: diff,
    kernels: kernelsOf.get(v.name)!,
  };
  rows.push(row);
  console.log(JSON.stringify(row));
}
console.log(
  `device: ${deviceName}; ${large ? 'single stream' : `${S} packed streams, P=${P}`}; B=${B} T=${T} D=${D} R=${R} W=${W} f32; ${rounds} rounds × median of ${iters}; kernels: profiled ms per step`,
);
console.table(rows.map(({ kernels, ...r }) => ({ ...r, ...kernels })));
const json = flag('--json');
if (json) writeFileSync(json, JSON.stringify({ device: deviceName, B, T, D, R, W, S, P, rows }, null, 2));
backend.destroy();
