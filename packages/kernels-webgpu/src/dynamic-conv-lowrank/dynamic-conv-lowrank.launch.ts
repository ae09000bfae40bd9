import type { Tensor } from '@dynconv/tensor';
import { foldGrid, type KernelRuntime, output } from '../common/gpu.js';
import { bind, type Chunking, dispatchTokenLoop } from '../conv-core/conv-launch.js';
import { convUniforms, type LaunchLayout } from '../conv-core/conv-layout.js';
import {
  type LowRankKernelParams,
  type LowRankZGradParams,
  lowRankBackwardKey,
  lowRankBackwardWgsl,
  lowRankForwardKey,
  lowRankForwardWgsl,
  lowRankUTransposeKey,
  lowRankUTransposeWgsl,
  lowRankZGradKey,
  lowRankZGradWgsl,
} from './dynamic-conv-lowrank.wgsl.js';
import { type PackedAccess, type PackedLayout, packedLaunchLayout } from './packed-layout.js';
import {
  SUM_STREAMS_WORKGROUP,
  type SumStreamsTarget,
  sumStreamsKey,
  sumStreamsUniforms,
  sumStreamsWgsl,
} from './sum-partials-streams.wgsl.js';
import {
  ZERO_COLUMNS_WORKGROUP,
  zeroColumnsKey,
  zeroColumnsUniforms,
  zeroColumnsVec4,
  zeroColumnsWgsl,
} from './zero-columns.wgsl.js';
import {
  type LowRankZGradQuadsParams,
  lowRankZGradQuadsKey,
  lowRankZGradQuadsWgsl,
  zGradQuadsTokens,
} from './zgrad-quads.wgsl.js';

/**
 * The low-rank kernels' launches, one function per kernel, so that the fused
 * op and the per-kernel benchmark (bench/lowrank-parts.ts) run the same code.
 * Tensors are raw (contiguous, offset 0); shapes are validated by the op.
 */

/** The inputs every low-rank kernel reads: x `[B,T,D]`, z `[B,T,R]`, U `[R,W*D]`, S `[W,D]`, docStart `[B,T]`. */
export interface LowRankInputs {
  readonly x: Tensor;
  readonly z: Tensor;
  readonly u: Tensor;
  readonly s: Tensor | null;
  readonly docStart: Tensor | null;
}

/**
 * Streams of one shape whose x and z are column ranges of one packed
 * `[B, T, P]` tensor (packed-layout.ts), covered by one dispatch per kernel:
 * the kernels must be compiled with `packed` and `streams` = their count.
 * dy, y, U and S are per stream; dx goes into a packed gradient of the same layout.
 */
export interface PackedStreamsInputs {
  readonly packed: Tensor;
  readonly streams: readonly {
    readonly u: Tensor;
    readonly s: Tensor | null;
    readonly layout: PackedLayout;
  }[];
  readonly docStart: Tensor | null;
}

/** What a launch binds: x and z, per-stream U and S (stream order), and the packed layout's uniforms. */
interface Operands {
  readonly x: Tensor;
  readonly z: Tensor;
  readonly u: readonly Tensor[];
  readonly s: readonly Tensor[] | null;
  readonly docStart: Tensor | null;
  readonly layout: LaunchLayout | null;
}

function operandsOf(
  inputs: LowRankInputs | PackedStreamsInputs,
  kernel: string,
  p: { readonly packed?: PackedAccess | undefined; readonly streams?: number | undefined },
): Operands {
  if ('packed' in inputs) {
    const n = inputs.streams.length;
    if (!p.packed || (p.streams ?? 1) !== n)
      throw new Error(`${kernel}: ${n} packed streams need kernel params with packed and streams=${n}`);
    const withS = inputs.streams.filter((st) => st.s !== null);
    if (withS.length !== 0 && withS.length !== n) throw new Error(`${kernel}: streams differ in having S`);
    return {
      x: inputs.packed,
      z: inputs.packed,
      u: inputs.streams.map((st) => st.u),
      s: withS.length ? withS.map((st) => st.s!) : null,
      docStart: inputs.docStart,
      layout: packedLaunchLayout(inputs.streams.map((st) => st.layout)),
    };
  }
  if (p.packed) throw new Error(`${kernel}: packed kernel params need packed streams`);
  const { x, z, u, s, docStart } = inputs;
  return { x, z, u: [u], s: s ? [s] : null, docStart, layout: null };
}

/** One tensor per stream: `t` itself, or the list. */
const perStream = (t: Tensor | readonly Tensor[]): readonly Tensor[] =>
  Array.isArray(t) ? (t as readonly Tensor[]) : [t as Tensor];

export interface LowRankDims {
  readonly B: number;
  readonly T: number;
  readonly D: number;
  readonly W: number;
}

/**
 * y = conv(x) with K = z·U (+S), one token-loop kernel (packed streams: one
 * y per stream, one dispatch); with `p.writeUT` also `ut`, U in the dz
 * kernels' layout (packed: the streams' one after another).
 */
export function launchLowRankForward(
  rt: KernelRuntime,
  p: LowRankKernelParams,
  inputs: LowRankInputs | PackedStreamsInputs,
  y: Tensor | readonly Tensor[],
  dims: LowRankDims,
  chunks: Chunking,
  ut?: Tensor,
): void {
  if (p.writeUT && !ut) throw new Error('launchLowRankForward: writeUT needs the ut output');
  const { x, z, u, s, docStart, layout } = operandsOf(inputs, 'launchLowRankForward', p);
  dispatchTokenLoop(
    rt,
    {
      key: lowRankForwardKey(p),
      workgroup: p.workgroup,
      code: () => lowRankForwardWgsl(p),
      bindings: [
        bind(x),
        bind(z),
        ...u.map((t) => bind(t)),
        ...(s ?? []).map((t) => bind(t)),
        ...(docStart ? [bind(docStart)] : []),
        ...perStream(y).map((t) => bind(t, true)),
        ...(p.writeUT ? [bind(ut!, true)] : []),
      ],
    },
    dims,
    chunks,
    layout ?? undefined,
  );
}

/**
 * The backward token loop in mode `p.backward`: dx (modes 'fused', 'dx') and
 * the dU/dS per-chunk partials `[numChunks, rows, D]` (modes 'fused',
 * 'params'; packed streams: `[streams, numChunks, rows, D]`, and one dy per stream).
 */
export function launchLowRankTokenBackward(
  rt: KernelRuntime,
  p: LowRankKernelParams,
  gy: Tensor | readonly Tensor[],
  inputs: LowRankInputs | PackedStreamsInputs,
  out: { readonly dx: Tensor | null; readonly part: Tensor | null },
  dims: LowRankDims & { readonly rows: number },
  chunks: Chunking,
): void {
  const { x, z, u, s, docStart, layout } = operandsOf(inputs, 'launchLowRankTokenBackward', p);
  const mode = p.backward;
  dispatchTokenLoop(
    rt,
    {
      key: lowRankBackwardKey(p),
      workgroup: p.workgroup,
      code: () => lowRankBackwardWgsl(p),
      bindings: [
        ...perStream(gy).map((t) => bind(t)),
        bind(x),
        bind(z),
        ...u.map((t) => bind(t)),
        ...(s ?? []).map((t) => bind(t)),
        ...(docStart ? [bind(docStart)] : []),
        ...(mode !== 'params' ? [bind(out.dx!, true)] : []),
        ...(mode !== 'dx' ? [bind(out.part!, true)] : []),
      ],
    },
    dims,
    chunks,
    layout ?? undefined,
  );
}

/** A dz kernel: its pipeline, tokens per workgroup and layout parameters. */
export interface ZGradKernel {
  readonly key: string;
  readonly code: () => string;
  readonly tokensPerGroup: number;
  readonly packed?: PackedAccess | undefined;
  readonly streams?: number | undefined;
}

/**
 * One dz launch: a token-major grid of `tokensPerGroup`-token workgroups ×
 * the channel slices (× the streams, packed). The kernels read `ut`, U in
 * their layout (packed: the streams' one after another; absent: a single
 * stream's `inputs.u`, taken as already in it).
 */
export function dispatchZGrad(
  rt: KernelRuntime,
  kernel: ZGradKernel,
  gy: Tensor | readonly Tensor[],
  inputs: LowRankInputs | PackedStreamsInputs,
  zPart: Tensor,
  dims: LowRankDims,
  slice: number,
  ut?: Tensor,
): void {
  const { B, T, D, W } = dims;
  const { x, u, docStart, layout } = operandsOf(inputs, 'dispatchZGrad', kernel);
  const folded = foldGrid(Math.ceil((B * T) / kernel.tokensPerGroup), rt.maxWorkgroupsPerDimension);
  const slices = Math.ceil(D / slice);
  rt.dispatch({
    pipelineKey: kernel.key,
    makeCode: kernel.code,
    bindings: [
      ...perStream(gy).map((t) => bind(t)),
      bind(x),
      bind(ut ?? u[0]!),
      ...(docStart ? [bind(docStart)] : []),
      bind(zPart, true),
    ],
    uniforms: (layout?.uniforms ?? convUniforms).pack({
      ...(layout ? { ...layout.values, blocks: slices } : {}),
      T,
      D,
      L: slice,
      WD: W * D,
      count: B * T,
      gridX: folded.gridX,
    }),
    workgroups: [folded.grid[0], folded.grid[1], slices * (layout?.streams ?? 1)],
  });
}

/** dz partials over channel slices of `slice` channels: `zPart [ceil(D/slice), B*T, R]` (packed: per stream, one after another). */
export function launchLowRankZGrad(
  rt: KernelRuntime,
  q: LowRankZGradParams,
  gy: Tensor | readonly Tensor[],
  inputs: LowRankInputs | PackedStreamsInputs,
  zPart: Tensor,
  dims: LowRankDims,
  slice: number,
  ut?: Tensor,
): void {
  const kernel: ZGradKernel = {
    key: lowRankZGradKey(q),
    code: () => lowRankZGradWgsl(q),
    tokensPerGroup: q.tokens * q.threads,
    packed: q.packed,
    streams: q.streams,
  };
  withUT(rt, inputs, q, dims, ut, (u) => dispatchZGrad(rt, kernel, gy, inputs, zPart, dims, slice, u));
}

/**
 * Runs `f` with U in the dz kernels' layout: `ut` when given (the forward
 * wrote it), else transposed here (single stream only: packed streams take
 * the forward's).
 */
function withUT(
  rt: KernelRuntime,
  inputs: LowRankInputs | PackedStreamsInputs,
  q: { readonly dtype: 'f32' | 'f16'; readonly R: number },
  dims: LowRankDims,
  ut: Tensor | undefined,
  f: (ut: Tensor) => void,
): void {
  if (ut) {
    f(ut);
    return;
  }
  if ('packed' in inputs) throw new Error("dz of packed streams: needs the forward's ut");
  const made = transposeU(rt, inputs.u, q, dims);
  f(made);
  made.dispose();
}

/** U `[R, W*D]` in the dz kernel's layout: D·W·ceil(R/4) f32 vec4s (see lowRankUTransposeWgsl). */
function transposeU(
  rt: KernelRuntime,
  u: Tensor,
  q: { readonly dtype: 'f32' | 'f16'; readonly R: number },
  dims: LowRankDims,
): Tensor {
  const { D, W } = dims;
  const count = D * W * Math.ceil(q.R / 4);
  const ut = output(u.backend, [4 * count], 'f32');
  const folded = foldGrid(Math.ceil(count / 256), rt.maxWorkgroupsPerDimension);
  rt.dispatch({
    pipelineKey: lowRankUTransposeKey(q.dtype, W, q.R),
    makeCode: () => lowRankUTransposeWgsl(q.dtype, W, q.R),
    bindings: [bind(u), bind(ut, true)],
    uniforms: convUniforms.pack({ D, WD: W * D, count, gridX: folded.gridX }),
    workgroups: folded.grid,
  });
  return ut;
}

/** dz partials with the quad kernel (a thread per 4 tokens × 4 ranks): same output as launchLowRankZGrad. */
export function launchLowRankZGradQuads(
  rt: KernelRuntime,
  q: LowRankZGradQuadsParams,
  gy: Tensor | readonly Tensor[],
  inputs: LowRankInputs | PackedStreamsInputs,
  zPart: Tensor,
  dims: LowRankDims,
  slice: number,
  ut?: Tensor,
): void {
  const kernel: ZGradKernel = {
    key: lowRankZGradQuadsKey(q),
    code: () => lowRankZGradQuadsWgsl(q),
    tokensPerGroup: zGradQuadsTokens(q),
    packed: q.packed,
    streams: q.streams,
  };
  withUT(rt, inputs, q, dims, ut, (u) => dispatchZGrad(rt, kernel, gy, inputs, zPart, dims, slice, u));
}

/**
 * Sums the f32 partials `[streams, P, N]` of packed streams over P, one
 * dispatch, in the order of sumPartials (bitwise the same sums): dz (N = B·T·R,
 * item t·R + r) into the z columns of the packed gradient `grad` (`target`
 * 'packed'), or dU and dS into buffers of their own per stream (`outs[i]`:
 * [dU, dS] with 'split' at `split`, [dU] with 'whole').
 */
export function launchSumPartialsStreams(
  rt: KernelRuntime,
  part: Tensor,
  P: number,
  N: number,
  target:
    | {
        readonly kind: 'packed';
        readonly grad: Tensor;
        readonly cols: number;
        readonly layouts: readonly PackedLayout[];
      }
    | {
        readonly kind: 'split';
        readonly outs: readonly (readonly [Tensor, Tensor])[];
        readonly split: number;
      }
    | { readonly kind: 'whole'; readonly outs: readonly Tensor[] },
): void {
  const kind: SumStreamsTarget = target.kind;
  const streams = target.kind === 'packed' ? target.layouts.length : target.outs.length;
  const folded = foldGrid(Math.ceil(N / SUM_STREAMS_WORKGROUP), rt.maxWorkgroupsPerDimension);
  const first =
    target.kind === 'packed' ? target.grad : target.kind === 'split' ? target.outs[0]![0] : target.outs[0]!;
  const dtype = first.dtype === 'f16' ? 'f16' : 'f32';
  const outputs =
    target.kind === 'packed'
      ? [target.grad]
      : target.kind === 'split'
        ? [...target.outs.map((o) => o[0]), ...target.outs.map((o) => o[1])]
        : target.outs;
  const layoutValues: Record<string, number> = {};
  if (target.kind === 'packed') {
    layoutValues.cols = target.cols;
    layoutValues.stride = target.layouts[0]!.stride;
    for (const [i, l] of target.layouts.entries()) layoutValues[`zOff${i}`] = l.zOffset;
  }
  rt.dispatch({
    pipelineKey: sumStreamsKey(dtype, kind, streams),
    makeCode: () => sumStreamsWgsl(dtype, kind, streams),
    bindings: [bind(part), ...outputs.map((o) => bind(o, true))],
    uniforms: sumStreamsUniforms.pack({
      N,
      P,
      gridX: folded.gridX,
      split: target.kind === 'split' ? target.split : 0,
      ...layoutValues,
    }),
    workgroups: [folded.grid[0], folded.grid[1], streams],
  });
}

/**
 * Zeros each column range `[start, end)` of every row of `out` `[rows, stride]`
 * (one dispatch per range, vec4 stores where aligned): the packed gradient's
 * columns no stream covers.
 */
export function launchZeroColumns(
  rt: KernelRuntime,
  out: Tensor,
  rows: number,
  stride: number,
  ranges: readonly (readonly [number, number])[],
): void {
  const dtype = out.dtype === 'f16' ? 'f16' : 'f32';
  for (const [start, end] of ranges) {
    const v4 = zeroColumnsVec4(start, end - start, stride);
    const e = v4 ? 4 : 1;
    const count = (rows * (end - start)) / e;
    const folded = foldGrid(Math.ceil(count / ZERO_COLUMNS_WORKGROUP), rt.maxWorkgroupsPerDimension);
    rt.dispatch({
      pipelineKey: zeroColumnsKey(dtype, v4),
      makeCode: () => zeroColumnsWgsl(dtype, v4),
      bindings: [bind(out, true)],
      uniforms: zeroColumnsUniforms.pack({
        count,
        width: (end - start) / e,
        start: start / e,
        stride: stride / e,
        gridX: folded.gridX,
      }),
      workgroups: folded.grid,
    });
  }
}
