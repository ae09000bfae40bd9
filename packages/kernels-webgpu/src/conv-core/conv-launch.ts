import { type Backend, contiguous, type DType, type Tensor } from '@dynconv/tensor';
import { type Binding, foldGrid, gpuBuffer, type KernelRuntime, output } from '../common/gpu.js';
import {
  SUM_PARTIALS_WORKGROUP,
  sumPartialsKey,
  sumPartialsUniforms,
  sumPartialsWgsl,
} from '../common/sum-partials.wgsl.js';
import { convUniforms, type LaunchLayout } from './conv-layout.js';

/**
 * Launch shape of the token-loop kernels. `workgroup`: threads along channels.
 * Chunks (tokens per thread): longer ones amortise the W-1 warm-up reads and
 * shrink the per-chunk partials of the backward (numChunks · rows · D floats);
 * shorter ones give more threads. Mutable for the benchmark's sweep only.
 *
 * Values from the H100 sweep of bench/conv.ts (B=4, T=4096, D=2048, W=4, f32,
 * fwd+bwd ms): static 128 → 0.289 (256 → 0.323); head-wise 256 → hs=1 0.836,
 * hs=16 0.371 (128 → 0.872, 0.387). The forward chunk and the workgroup size
 * (64/128/256) moved no time by more than 1%.
 *
 * Low-rank, per kernel (bench/lowrank-parts.ts, each candidate timed
 * interleaved with the old default, ms): z staged in workgroup memory 64
 * tokens at a time takes the forward 0.308 → 0.249 and the fused backward
 * loop 0.566 → 0.461; x (and dy) staged too, in blocks of 8 (forward, chunk
 * 64) and 16 (backward, chunk 512) tokens: forward 0.191, backward 0.350
 * (blocks of 32 are slower). A prefetch depth of 2, tree-summed taps,
 * workgroup 128 or the split backward (dx 0.204 + params 0.215) did not help.
 *
 * At the model's shape (packed q|k|v, B=8, T=1024, three streams of D=768,
 * bench/lowrank-packed-e2e-shape.ts, whole op 0.593 ms: forward 0.127, backward
 * loop 0.252, dz 0.171, partial sums 0.056) no knob moved the op by 5 %: the
 * backward chunk 128 instead of the occupancy rule's 64 0.976-0.989×,
 * workgroup 32 0.977× (it too gets chunks of 128), the pipelined forward 0.987× (0.991× at the large
 * shape), forward stageX 16 0.997×, tree sums 1.07×, no z staging 1.29×.
 */
export const convTuning = {
  workgroup: 64,
  forwardChunk: 32,
  backwardChunk: 128,
  headwiseBackwardChunk: 256,
  lowRankBackwardChunk: 512,
  /** Tokens per thread of the low-rank forward. */
  lowRankForwardChunk: 64,
  /** Low-rank backward as two token-loop kernels (dx; dU and dS) instead of one. */
  lowRankSplitBackward: false,
  /** Low-rank taps summed over the rank as a tree (see LowRankKernelParams.tree). */
  lowRankTreeSum: false,
  /** Low-rank: z staged in workgroup memory this many tokens at a time (0: per-thread loads). */
  lowRankStageZ: 64,
  /** Low-rank backward: x and dy staged in workgroup memory this many tokens at a time (0: per-thread prefetch). */
  lowRankStageX: 16,
  /** Low-rank forward: x staged this many tokens at a time. */
  lowRankForwardStageX: 8,
  /** Low-rank token loops: loads issued this many tokens ahead. */
  lowRankPrefetch: 1,
  /**
   * Low-rank dz kernel (interleaved layout): tokens per thread. H100, 128 threads: 1 → 0.319–0.325 ms
   * (2 tokens × 64 threads, the old default: 0.409).
   */
  lowRankZGradTokens: 1,
  /**
   * Low-rank backward token loop: software-pipelined staging (ConvLoopParams.pipelineStage).
   * H100: 0.348 → 0.328 ms (the forward, compute-bound, was 1 % slower with it: off there).
   */
  lowRankPipelineStage: true,
  /** Low-rank forward token loop: software-pipelined staging of x and z (off: see lowRankPipelineStage). */
  lowRankForwardPipelineStage: false,
  /**
   * Low-rank dz with the quad kernel (zgrad-quads.wgsl.ts: a thread per 4 tokens × 4 ranks).
   * H100: 0.225 ms against 0.264 for the one-token-per-thread kernel (whole op 0.792 → 0.757).
   */
  lowRankZGradQuads: true,
  /** Channels per staged step of the quad dz kernel. */
  lowRankZGradQuadsChannels: 8,
  /** Low-rank dz: software-pipelined staging (LowRankZGradParams.prefetch). H100: 0.326 → 0.289 ms. */
  lowRankZGradPrefetch: true,
  /** Low-rank dz: channels per slice before occupancy narrows it (zGradSlice). */
  lowRankZGradSlice: 512,
  /**
   * Low-rank backward token loop and dz: fewest workgroups a launch should have
   * (backwardChunk and zGradSlice shorten chunks and narrow slices until it has them).
   */
  lowRankMinWorkgroups: 1024,
  /**
   * Packed low-rank op: most streams of one shape a dispatch covers (grid
   * spans streams × blocks; the device's storage-binding limit and
   * MAX_PACKED_STREAMS may lower it). 1: a dispatch per stream and kernel,
   * as before; the env `DYNCONV_LOWRANK_STREAMS_PER_DISPATCH` at load sets
   * it (the baseline of an A/B measurement in one run).
   */
  lowRankStreamsPerDispatch:
    Number(
      (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env
        ?.DYNCONV_LOWRANK_STREAMS_PER_DISPATCH,
    ) || 4,
};

/** How a `[B, T]` token range splits into chunks of L tokens (chunks never cross sequences). */
export interface Chunking {
  readonly L: number;
  readonly chunksPerSeq: number;
  readonly numChunks: number;
}

export const chunking = (B: number, T: number, L: number): Chunking => {
  const chunksPerSeq = Math.max(1, Math.ceil(T / L));
  return { L, chunksPerSeq, numChunks: B * chunksPerSeq };
};

/** A contiguous, offset-0 handle on `t` with no graph (the kernels index raw buffers). */
export const raw = (t: Tensor): Tensor => contiguous(t.detach());

/** Storage binding of a contiguous tensor. */
export const bind = (t: Tensor, write = false): Binding => ({
  buffer: gpuBuffer(t),
  ...(write ? { write } : {}),
});

/**
 * Dispatches a token-loop kernel over `[ceil(D / workgroup), numChunks]`
 * (chunks folded into z past the limit); with a `layout` (conv-layout.ts),
 * grid x spans its streams × the channel blocks (`blocks` of them per stream)
 * and the uniforms carry the layout's values.
 */
export function dispatchTokenLoop(
  rt: KernelRuntime,
  spec: { key: string; code: () => string; bindings: readonly Binding[]; workgroup: number },
  dims: { T: number; D: number; H?: number; hs?: number; W: number; rows?: number },
  chunks: Chunking,
  layout?: LaunchLayout,
): void {
  const folded = foldGrid(chunks.numChunks, rt.maxWorkgroupsPerDimension);
  const blocks = Math.ceil(dims.D / spec.workgroup);
  rt.dispatch({
    pipelineKey: spec.key,
    makeCode: spec.code,
    bindings: spec.bindings,
    uniforms: (layout?.uniforms ?? convUniforms).pack({
      ...(layout ? { ...layout.values, blocks } : {}),
      T: dims.T,
      D: dims.D,
      L: chunks.L,
      chunksPerSeq: chunks.chunksPerSeq,
      numChunks: chunks.numChunks,
      gridX: folded.gridX,
      H: dims.H ?? 1,
      hs: dims.hs ?? 1,
      WD: dims.W * dims.D,
      rows: dims.rows ?? 0,
    }),
    workgroups: [blocks * (layout?.streams ?? 1), folded.grid[0], folded.grid[1]],
  });
}

/** Sums f32 partials `[P, N]` over P into a new `[N]` tensor of `dtype` (deterministic order). */
export function sumPartials(
  rt: KernelRuntime,
  backend: Backend,
  part: Tensor,
  P: number,
  N: number,
  dtype: DType,
): Tensor {
  const out = output(backend, [N], dtype);
  dispatchSumPartials(rt, part, P, N, dtype, [out], N);
  return out;
}

/**
 * sumPartials into two tensors of their own, columns `[0, split)` and
 * `[split, N)`, in one dispatch (e.g. dU and dS from one partials buffer: the
 * fused AdamW takes whole buffers, not views).
 */
export function sumPartialsInTwo(
  rt: KernelRuntime,
  backend: Backend,
  part: Tensor,
  P: number,
  N: number,
  split: number,
  dtype: DType,
): [Tensor, Tensor] {
  const outs: [Tensor, Tensor] = [output(backend, [split], dtype), output(backend, [N - split], dtype)];
  dispatchSumPartials(rt, part, P, N, dtype, outs, split);
  return outs;
}

function dispatchSumPartials(
  rt: KernelRuntime,
  part: Tensor,
  P: number,
  N: number,
  dtype: DType,
  outs: readonly Tensor[],
  split: number,
): void {
  const folded = foldGrid(Math.ceil(N / SUM_PARTIALS_WORKGROUP), rt.maxWorkgroupsPerDimension);
  const d = dtype === 'f16' ? 'f16' : 'f32';
  const two = outs.length === 2;
  rt.dispatch({
    pipelineKey: sumPartialsKey(d, two),
    makeCode: () => sumPartialsWgsl(d, two),
    bindings: [bind(part), ...outs.map((o) => bind(o, true))],
    uniforms: sumPartialsUniforms.pack({ N, P, gridX: folded.gridX, split }),
    workgroups: folded.grid,
  });
}
