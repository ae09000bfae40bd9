import { type DType, isGradEnabled, record, reshape, type Tensor } from '@dynconv/tensor';
import { type KernelRuntime, output } from '../common/gpu.js';
import { chunking, convTuning, raw, sumPartials, sumPartialsInTwo } from '../conv-core/conv-launch.js';
import type { DynamicConvOptions } from '../dynamic-conv-headwise/dynamic-conv-headwise.ref.js';
import {
  type LowRankDims,
  type LowRankInputs,
  launchLowRankForward,
  launchLowRankTokenBackward,
  launchLowRankZGrad,
  launchLowRankZGradQuads,
  type PackedStreamsInputs,
} from './dynamic-conv-lowrank.launch.js';
import {
  type LowRankKernelParams,
  type LowRankZGradParams,
  lowRankPartialRows,
} from './dynamic-conv-lowrank.wgsl.js';
import type { PackedAccess } from './packed-layout.js';
import { type LowRankZGradQuadsParams, zGradQuadsBytes, zGradQuadsTokens } from './zgrad-quads.wgsl.js';

export const Z_GRAD_THREADS = 128;
/**
 * Tokens per thread of the backward token loop: `convTuning.lowRankBackwardChunk`,
 * halved (down to 64) while the launch has under `convTuning.lowRankMinWorkgroups`
 * workgroups (per stream: packed streams multiply them). Why: each thread walks its chunk serially, so a model-sized
 * stream (B=8, T=1024, D=768: 12×16 = 192 workgroups at L=512) leaves most of
 * the GPU idle; shorter chunks only grow the per-chunk partials. At that
 * shape with three packed streams the rule picks 64; 128 was 1-2.5 % faster
 * on the H100 (smaller dU/dS partials), 256 slower (bench/lowrank-packed-e2e-shape.ts).
 */
export function backwardChunk(B: number, T: number, D: number, workgroup: number): number {
  let L = convTuning.lowRankBackwardChunk;
  const groups = (l: number) => Math.ceil(D / workgroup) * chunking(B, T, l).numChunks;
  while (L > 64 && groups(L) < convTuning.lowRankMinWorkgroups) L /= 2;
  return L;
}

/**
 * Channels per dz slice: narrower slices when the token-major grid alone is
 * small (same occupancy reason as backwardChunk). H100, quad kernel: slices
 * of 128 (2048 workgroups) took dz 0.228 → 0.224 ms but the partial sum
 * doubled; the whole op was within noise (0.754 vs 0.757).
 */
export function zGradSlice(B: number, T: number, D: number, tokensPerThread: number): number {
  const tokenGroups = Math.ceil((B * T) / (tokensPerThread * Z_GRAD_THREADS));
  let slice = convTuning.lowRankZGradSlice;
  while (slice > 64 && tokenGroups * Math.ceil(D / slice) < convTuning.lowRankMinWorkgroups) slice /= 2;
  return slice;
}

/**
 * The quad dz kernel's parameters (8 channels per step, fewer where the
 * device's workgroup storage is smaller), or null where the one-token-per-thread
 * kernel runs instead (`convTuning.lowRankZGradQuads` off).
 */
export function zGradQuadsParams(
  rt: KernelRuntime,
  p: {
    dtype: 'f32' | 'f16';
    W: number;
    R: number;
    docs: boolean;
    D: number;
    packed?: PackedAccess;
    streams?: number;
  },
): LowRankZGradQuadsParams | null {
  if (!convTuning.lowRankZGradQuads) return null;
  const limit = rt.device.limits.maxComputeWorkgroupStorageSize;
  for (const channels of [convTuning.lowRankZGradQuadsChannels, 4, 2, 1]) {
    const q = {
      dtype: p.dtype,
      W: p.W,
      R: p.R,
      docs: p.docs,
      channels,
      vec4Loads: p.D % 4 === 0 && channels % 4 === 0 && p.packed !== 'scalar',
      ...(p.packed ? { packed: p.packed, streams: p.streams ?? 1 } : {}),
    };
    if (zGradQuadsBytes(q) <= limit) return q;
  }
  return null;
}

/**
 * Block sizes of the workgroup-memory staging: z (`stageZ`) and x/dy
 * (`stageX`, which then sets the shared block size of both). The z block
 * stays within 8 KiB (R = 64: 32 tokens); x and dy ([block, workgroup] f32
 * each) take at most what the device's workgroup storage leaves.
 */
export function lowRankStaging(
  rt: KernelRuntime,
  R: number,
  workgroup: number,
  wanted: number,
): { stageZ: number; stageX: number } {
  const zFloats = 4 * Math.ceil(R / 4);
  let stageX = wanted;
  const limit = rt.device.limits.maxComputeWorkgroupStorageSize;
  while (stageX > 0 && stageX * (2 * workgroup + zFloats) * 4 > limit) stageX = Math.floor(stageX / 2);
  const stageZ = stageX || Math.min(convTuning.lowRankStageZ, Math.floor(2048 / zFloats));
  return { stageZ: convTuning.lowRankStageZ ? stageZ : 0, stageX };
}

/**
 * Kernel parameters of one low-rank stream, or with `packed` of `streams`
 * streams of this shape whose x and z are read from a packed tensor.
 */
export function lowRankParams(
  rt: KernelRuntime,
  dtype: DType,
  dims: { readonly R: number; readonly W: number },
  options: DynamicConvOptions,
  packed?: { readonly access: PackedAccess; readonly streams: number },
): LowRankKernelParams {
  return {
    dtype: dtype === 'f16' ? 'f16' : 'f32',
    W: dims.W,
    R: dims.R,
    docs: options.docStart !== undefined,
    residual: options.residual ?? false,
    workgroup: convTuning.workgroup,
    static: options.static !== undefined,
    backward: 'fused',
    tree: convTuning.lowRankTreeSum,
    ...lowRankStaging(rt, dims.R, convTuning.workgroup, convTuning.lowRankForwardStageX),
    prefetch: convTuning.lowRankPrefetch,
    ...(packed ? { packed: packed.access, streams: packed.streams } : {}),
  };
}

/** Streams the kernels of `p` cover in one dispatch (1 unless packed). */
const streamsOf = (p: LowRankKernelParams): number => p.streams ?? 1;

/**
 * The forward of one stream, or of packed streams in one dispatch: y
 * `[B, T, D]` per stream, and with `training` also U in the dz kernels'
 * layout (the streams' one after another; written by the same kernel, so
 * the backward needs no transposing dispatch).
 */
export function lowRankStreamsForward(
  rt: KernelRuntime,
  p: LowRankKernelParams,
  inputs: LowRankInputs | PackedStreamsInputs,
  dims: LowRankDims,
  training: boolean,
): { ys: Tensor[]; ut: Tensor | null } {
  const { B, T, D, W } = dims;
  const S = streamsOf(p);
  const backend = 'packed' in inputs ? inputs.packed.backend : inputs.x.backend;
  const ys = Array.from({ length: S }, () => output(backend, [B, T, D], p.dtype));
  const ut = training ? output(backend, [S * 4 * D * W * Math.ceil(p.R / 4)], 'f32') : null;
  launchLowRankForward(
    rt,
    { ...p, writeUT: training, pipelineStage: convTuning.lowRankForwardPipelineStage },
    inputs,
    ys,
    dims,
    chunking(B, T, convTuning.lowRankForwardChunk),
    ut ?? undefined,
  );
  return { ys, ut };
}

/** The backward's per-chunk and per-slice partials (see lowRankStreamsBackward), to be summed. */
export interface LowRankPartials {
  /** dU (and dS) partials `[streams, numChunks, rows·D]`. */
  readonly part: Tensor;
  readonly numChunks: number;
  /** dz partials `[streams, slices, B·T·R]`. */
  readonly zPart: Tensor;
  readonly slices: number;
}

/**
 * The backward of one stream, or of packed streams in one dispatch per
 * kernel, from dy `gys` (raw `[B, T, D]`, one per stream): the token loop
 * writes dx into `dx` (own `[B, T, D]`, or the packed gradient) and the dU/dS
 * partials; the dz kernel reduces over (w, c) per channel slice. The caller
 * sums the partials (the same order either way, so packed streams get
 * bitwise the gradients of the single-stream op).
 */
export function lowRankStreamsBackward(
  rt: KernelRuntime,
  p: LowRankKernelParams,
  gys: readonly Tensor[],
  kept: LowRankInputs | PackedStreamsInputs,
  ut: Tensor | null,
  dims: LowRankDims,
  dx: Tensor,
): LowRankPartials {
  const { B, T, D, W } = dims;
  const R = p.R;
  const S = streamsOf(p);
  const backend = dx.backend;
  const pb = {
    ...p,
    ...lowRankStaging(rt, R, p.workgroup, convTuning.lowRankStageX),
    pipelineStage: convTuning.lowRankPipelineStage,
  };
  const rows = lowRankPartialRows(p);
  const chunks = chunking(B, T, backwardChunk(B, T, D, p.workgroup));
  const part = output(backend, [S * chunks.numChunks * rows * D], 'f32');
  const modes = convTuning.lowRankSplitBackward ? (['dx', 'params'] as const) : (['fused'] as const);
  for (const mode of modes)
    launchLowRankTokenBackward(
      rt,
      { ...pb, backward: mode },
      gys,
      kept,
      { dx, part },
      { ...dims, rows },
      chunks,
    );
  const packed = p.packed ? { packed: p.packed, streams: S } : {};
  const quads = zGradQuadsParams(rt, { ...p, D, ...packed });
  const tokensPerGroup = quads ? zGradQuadsTokens(quads) : convTuning.lowRankZGradTokens * Z_GRAD_THREADS;
  const slice = zGradSlice(B, T, D, tokensPerGroup / Z_GRAD_THREADS);
  const slices = Math.ceil(D / slice);
  const zPart = output(backend, [S * slices * B * T * R], 'f32');
  const ut0 = ut ?? undefined;
  if (quads) launchLowRankZGradQuads(rt, quads, gys, kept, zPart, dims, slice, ut0);
  else {
    const q: LowRankZGradParams = {
      dtype: p.dtype,
      W,
      R,
      docs: p.docs,
      threads: Z_GRAD_THREADS,
      tokens: convTuning.lowRankZGradTokens,
      prefetch: convTuning.lowRankZGradPrefetch,
      ...packed,
    };
    launchLowRankZGrad(rt, q, gys, kept, zPart, dims, slice, ut0);
  }
  return { part, numChunks: chunks.numChunks, zPart, slices };
}

/**
 * The fused WebGPU low-rank dynamic convolution. Forward: one token-loop
 * kernel forming K = z·U (+S) in registers (K is never written). Backward:
 * the token loop re-generates K for dx and accumulates dU (and dS) per chunk;
 * a token-major kernel reduces dz over (w, c); one pass sums the partials.
 */
export function dynamicConvLowRankFused(
  rt: KernelRuntime,
  x: Tensor,
  z: Tensor,
  u: Tensor,
  options: DynamicConvOptions,
): Tensor {
  const [B, T, D] = x.shape as [number, number, number];
  const R = z.shape[2]!;
  const W = u.shape[1]! / D;
  const p = lowRankParams(rt, x.dtype, { R, W }, options);
  const xc = raw(x);
  const zc = raw(z);
  const uc = raw(u);
  const sc = options.static ? raw(options.static) : null;
  const dc = options.docStart ? raw(options.docStart) : null;
  const dims = { B, T, D, W };
  const inputs = [x, z, u, ...(options.static ? [options.static] : [])];
  const training = isGradEnabled() && inputs.some((t) => t.requiresGrad);
  const { ys, ut } = lowRankStreamsForward(
    rt,
    p,
    { x: xc, z: zc, u: uc, s: sc, docStart: dc },
    dims,
    training,
  );
  const y = ys[0]!;
  const saved = [xc, zc, uc, ...(sc ? [sc] : []), ...(dc ? [dc] : []), ...(ut ? [ut] : [])];
  record('dynamicConvLowRank', inputs, [y], saved, ([gy], s) => {
    const kept: LowRankInputs = {
      x: s[0]!,
      z: s[1]!,
      u: s[2]!,
      s: p.static ? s[3]! : null,
      docStart: p.docs ? s[3 + (p.static ? 1 : 0)]! : null,
    };
    const dx = output(x.backend, [B, T, D], x.dtype);
    const { part, numChunks, zPart, slices } = lowRankStreamsBackward(
      rt,
      p,
      [raw(gy!)],
      kept,
      s[s.length - 1]!,
      dims,
      dx,
    );
    const dz = reshape(sumPartials(rt, x.backend, zPart, slices, B * T * R, p.dtype), [B, T, R]);
    zPart.dispose();
    // dU and dS each in a buffer of its own (not views into one sum): the fused
    // WebGPU AdamW takes whole buffers only, views fall back to ~14 dispatches.
    const rows = lowRankPartialRows(p);
    const [du, dS] = p.static
      ? sumPartialsInTwo(rt, x.backend, part, numChunks, rows * D, R * W * D, p.dtype)
      : [sumPartials(rt, x.backend, part, numChunks, rows * D, p.dtype), null];
    part.dispose();
    return [dx, dz, reshape(du, [R, W * D]), ...(dS ? [reshape(dS, [W, D])] : [])];
  });
  for (const t of [xc, zc, uc, sc, dc, ut]) t?.dispose();
  return y;
}
