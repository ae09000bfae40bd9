import type { Tensor } from '@dynconv/tensor';
import { foldGrid, type KernelRuntime, output } from '../common/gpu.js';
import { bind, type Chunking, dispatchTokenLoop } from '../conv-core/conv-launch.js';
import { convUniforms } from '../conv-core/conv-loop.wgsl.js';
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
import { layoutRuntime, type PackedAccess, type PackedLayout } from './packed-layout.js';
import {
  SUM_PARTIALS_STRIDED_WORKGROUP,
  sumPartialsStridedKey,
  sumPartialsStridedUniforms,
  sumPartialsStridedWgsl,
} from './sum-partials-strided.wgsl.js';
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

/**
 * The inputs every low-rank kernel reads: x `[B,T,D]`, z `[B,T,R]`, U `[R,W*D]`,
 * S `[W,D]`, docStart `[B,T]`. With `layout`, x and z are the same packed
 * `[B,T,P]` tensor (and dx goes into a packed gradient of that layout); the
 * kernels must then be compiled with `packed` (packed-layout.ts).
 */
export interface LowRankInputs {
  readonly x: Tensor;
  readonly z: Tensor;
  readonly u: Tensor;
  readonly s: Tensor | null;
  readonly docStart: Tensor | null;
  readonly layout?: PackedLayout;
}

/** The runtime to dispatch with: `rt`, or with the layout's uniforms; checks the kernel was compiled for it. */
function runtimeFor(
  rt: KernelRuntime,
  inputs: LowRankInputs,
  packed: PackedAccess | undefined,
  kernel: string,
): KernelRuntime {
  if (!!inputs.layout !== !!packed)
    throw new Error(`${kernel}: packed kernel params and a packed layout go together`);
  return inputs.layout ? layoutRuntime(rt, inputs.layout) : rt;
}

export interface LowRankDims {
  readonly B: number;
  readonly T: number;
  readonly D: number;
  readonly W: number;
}

/** y = conv(x) with K = z·U (+S), one token-loop kernel; with `p.writeUT` also `ut`, U in the dz kernels' layout. */
export function launchLowRankForward(
  rt: KernelRuntime,
  p: LowRankKernelParams,
  inputs: LowRankInputs,
  y: Tensor,
  dims: LowRankDims,
  chunks: Chunking,
  ut?: Tensor,
): void {
  if (p.writeUT && !ut) throw new Error('launchLowRankForward: writeUT needs the ut output');
  const { x, z, u, s, docStart } = inputs;
  dispatchTokenLoop(
    runtimeFor(rt, inputs, p.packed, 'launchLowRankForward'),
    {
      key: lowRankForwardKey(p),
      workgroup: p.workgroup,
      code: () => lowRankForwardWgsl(p),
      bindings: [
        bind(x),
        bind(z),
        bind(u),
        ...(s ? [bind(s)] : []),
        ...(docStart ? [bind(docStart)] : []),
        bind(y, true),
        ...(p.writeUT ? [bind(ut!, true)] : []),
      ],
    },
    dims,
    chunks,
  );
}

/**
 * The backward token loop in mode `p.backward`: dx (modes 'fused', 'dx') and
 * the dU/dS per-chunk partials `[numChunks, rows, D]` (modes 'fused', 'params').
 */
export function launchLowRankTokenBackward(
  rt: KernelRuntime,
  p: LowRankKernelParams,
  gy: Tensor,
  inputs: LowRankInputs,
  out: { readonly dx: Tensor | null; readonly part: Tensor | null },
  dims: LowRankDims & { readonly rows: number },
  chunks: Chunking,
): void {
  const { x, z, u, s, docStart } = inputs;
  const mode = p.backward;
  dispatchTokenLoop(
    runtimeFor(rt, inputs, p.packed, 'launchLowRankTokenBackward'),
    {
      key: lowRankBackwardKey(p),
      workgroup: p.workgroup,
      code: () => lowRankBackwardWgsl(p),
      bindings: [
        bind(gy),
        bind(x),
        bind(z),
        bind(u),
        ...(s ? [bind(s)] : []),
        ...(docStart ? [bind(docStart)] : []),
        ...(mode !== 'params' ? [bind(out.dx!, true)] : []),
        ...(mode !== 'dx' ? [bind(out.part!, true)] : []),
      ],
    },
    dims,
    chunks,
  );
}

/** One dz launch: a token-major grid of `tokensPerGroup`-token workgroups × the channel slices. */
export function dispatchZGrad(
  rt: KernelRuntime,
  kernel: { key: string; code: () => string; tokensPerGroup: number; packed?: PackedAccess | undefined },
  gy: Tensor,
  inputs: LowRankInputs,
  zPart: Tensor,
  dims: LowRankDims,
  slice: number,
): void {
  const { B, T, D, W } = dims;
  const folded = foldGrid(Math.ceil((B * T) / kernel.tokensPerGroup), rt.maxWorkgroupsPerDimension);
  runtimeFor(rt, inputs, kernel.packed, 'dispatchZGrad').dispatch({
    pipelineKey: kernel.key,
    makeCode: kernel.code,
    bindings: [
      bind(gy),
      bind(inputs.x),
      bind(inputs.u),
      ...(inputs.docStart ? [bind(inputs.docStart)] : []),
      bind(zPart, true),
    ],
    uniforms: convUniforms.pack({ T, D, L: slice, WD: W * D, count: B * T, gridX: folded.gridX }),
    workgroups: [folded.grid[0], folded.grid[1], Math.ceil(D / slice)],
  });
}

/** dz partials over channel slices of `slice` channels: `zPart [ceil(D/slice), B*T, R]`. */
export function launchLowRankZGrad(
  rt: KernelRuntime,
  q: LowRankZGradParams,
  gy: Tensor,
  inputs: LowRankInputs,
  zPart: Tensor,
  dims: LowRankDims,
  slice: number,
  ut?: Tensor,
): void {
  const kernel = {
    key: lowRankZGradKey(q),
    code: () => lowRankZGradWgsl(q),
    tokensPerGroup: q.tokens * q.threads,
    packed: q.packed,
  };
  withUT(rt, inputs, q, dims, ut, (u) => dispatchZGrad(rt, kernel, gy, { ...inputs, u }, zPart, dims, slice));
}

/** Runs `f` with U in the dz kernels' layout: `ut` when given (the forward wrote it), else transposed here. */
function withUT(
  rt: KernelRuntime,
  inputs: LowRankInputs,
  q: { readonly dtype: 'f32' | 'f16'; readonly R: number },
  dims: LowRankDims,
  ut: Tensor | undefined,
  f: (ut: Tensor) => void,
): void {
  if (ut) {
    f(ut);
    return;
  }
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
  gy: Tensor,
  inputs: LowRankInputs,
  zPart: Tensor,
  dims: LowRankDims,
  slice: number,
  ut?: Tensor,
): void {
  const kernel = {
    key: lowRankZGradQuadsKey(q),
    code: () => lowRankZGradQuadsWgsl(q),
    tokensPerGroup: zGradQuadsTokens(q),
    packed: q.packed,
  };
  withUT(rt, inputs, q, dims, ut, (u) => dispatchZGrad(rt, kernel, gy, { ...inputs, u }, zPart, dims, slice));
}

/**
 * Sums f32 partials `[P, rows*cols]` over P into columns `[offset, offset +
 * cols)` of the rows of `out` (row stride `stride`): e.g. dz `[B*T, R]` into
 * the packed gradient. Same order of summation as sumPartials.
 */
export function launchSumPartialsStrided(
  rt: KernelRuntime,
  part: Tensor,
  P: number,
  out: Tensor,
  target: { readonly rows: number; readonly cols: number; readonly stride: number; readonly offset: number },
): void {
  const N = target.rows * target.cols;
  const folded = foldGrid(Math.ceil(N / SUM_PARTIALS_STRIDED_WORKGROUP), rt.maxWorkgroupsPerDimension);
  const dtype = out.dtype === 'f16' ? 'f16' : 'f32';
  rt.dispatch({
    pipelineKey: sumPartialsStridedKey(dtype),
    makeCode: () => sumPartialsStridedWgsl(dtype),
    bindings: [bind(part), bind(out, true)],
    uniforms: sumPartialsStridedUniforms.pack({
      N,
      P,
      gridX: folded.gridX,
      cols: target.cols,
      stride: target.stride,
      offset: target.offset,
    }),
    workgroups: folded.grid,
  });
}
