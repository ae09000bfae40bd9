import type { GpuRuntime } from '../runtime.js';
import { matmulUniforms } from './matmul.wgsl.js';
import type { MatmulCaps } from './matmul-caps.js';
import { type MatmulProblem, matmulUniformValues, waveFill } from './matmul-problem.js';
import {
  type SgMatmulParams,
  sgmatInvalid,
  sgmatKey,
  sgmatShared,
  sgmatTileM,
  sgmatTileN,
  sgmatWgsl,
} from './matmul-sgmat.wgsl.js';
import { launchSplitKReduce } from './matmul-splitk.js';

/** Workgroup shape of the subgroup-matrix kernel (see `SgMatmulParams`). */
export interface SgMatTiling {
  sgM: number;
  sgN: number;
  tilesM: number;
  tilesN: number;
  bk: number;
  doubleBuffer: boolean;
  /** Experiment: matrices loaded straight from global memory (see `SgMatmulParams.direct`). */
  direct?: boolean;
  /** Shared layouts (see `SgMatmulParams.aLayout` / `bLayout`; defaults natural / kn). */
  aLayout?: 'natural' | 'mk' | 'km';
  bLayout?: 'natural' | 'kn' | 'nk';
  /** Elements per staging load (see `SgMatmulParams.vec`). */
  vec?: 4 | 8;
  /** K-tile count rounded up to a multiple of this (see `SgMatmulParams.padTiles`). */
  padTiles?: number;
  /** K splits (batch 1; 1 = off). Default: by {@link sgmatSplitKFor}. */
  splits?: number;
}

/**
 * Tilings by problem size, first match wins: a tiling applies when the
 * problem has at least `minWorkgroups` of its tiles (enough to fill the GPU).
 * From the H100 sweep at 4096³, f16 -> f32, best of 2 passes
 * (docs/results/perf-notes.md): 128 x 128 bk 32 141 TFLOP/s, 128 x 256 on 8
 * subgroups 145 (same within run-to-run spread, twice the shared memory),
 * bk 16 117, 64 x 64 91, double-buffered 87, direct global loads 77.
 * Tile sizes assume a 16 x 16 x 16 shape (a 16 x 8 shape halves N).
 */
export const SGMAT_TILINGS: readonly (SgMatTiling & { readonly minWorkgroups: number })[] = [
  // 128 x 128 tiles, 4 subgroups of 64 x 64: the big-GEMM choice (2 waves on 132 SMs or more).
  { sgM: 2, sgN: 2, tilesM: 4, tilesN: 4, bk: 32, doubleBuffer: false, minWorkgroups: 264 },
  // 64 x 64 tiles, 4 subgroups of 32 x 32: more workgroups for mid-size problems (not tuned).
  { sgM: 2, sgN: 2, tilesM: 2, tilesN: 2, bk: 32, doubleBuffer: false, minWorkgroups: 0 },
];

type Caps = NonNullable<MatmulCaps['subgroupMatrix']>;

/** Workgroups that fill the H100 twice (132 SMs). */
const TWO_WAVES = 264;

/**
 * K splits for a batch-1 problem with fewer than two waves of 128 x 128
 * tiles and a long K (the weight gradients dW = dYᵀ X of a training step:
 * M, N = model widths, K = tokens): a power of two giving at least two
 * waves, each split at least 1024 deep; 1 otherwise. Why: unsplit, those
 * shapes ran on 64 x 64 tiles at ~57 TFLOP/s against ~100 for the dX shapes
 * (docs/results/perf-h100-session4/README.md).
 */
export const sgmatSplitKFor = (p: Pick<MatmulProblem, 'batch' | 'm' | 'n' | 'k'>, tile = 128): number => {
  if (p.batch !== 1) return 1;
  const tiles = Math.ceil(p.m / tile) * Math.ceil(p.n / tile);
  // Enough tiles, but a ragged last wave and a long K: two splits fill the waves.
  // H100, reduced precision, 8192 x 768 outputs: K 50304 145 -> 171 TFLOP/s, K 4096 140 -> 146;
  // K 2048 lost (129 -> 118), hence the 2048-deep floor per split.
  if (tiles >= TWO_WAVES) return waveFill(tiles, TWO_WAVES) < 0.9 && p.k >= 2 * 2048 ? 2 : 1;
  const want = 2 ** Math.ceil(Math.log2(TWO_WAVES / tiles));
  return Math.max(1, Math.min(Math.floor(p.k / 1024), want, 16));
};

/** The K splits for `p` (the override, else {@link sgmatSplitKFor}; 1 with direct loads). */
export const sgmatSplits = (p: MatmulProblem, override: Partial<SgMatTiling> = {}): number =>
  override.direct ? 1 : Math.max(1, Math.min(override.splits ?? sgmatSplitKFor(p), Math.ceil(p.k / 32)));

/** The kernel parameters for `p` (tiling from {@link SGMAT_TILINGS} unless overridden). */
export function sgmatParams(
  p: MatmulProblem,
  caps: Caps,
  override: Partial<SgMatTiling> = {},
): SgMatmulParams {
  const base = (t: SgMatTiling): SgMatmulParams => ({
    aDtype: p.a.dtype === 'f16' ? 'f16' : 'f32',
    bDtype: p.b.dtype === 'f16' ? 'f16' : 'f32',
    outDtype: p.outDtype === 'f16' ? 'f16' : 'f32',
    aLoad: p.aLoad,
    bLoad: p.bLoad,
    shape: caps.shape,
    ...t,
    directStore: p.n % 4 === 0,
    syntax: caps.syntax,
  });
  const splits = sgmatSplits(p, override);
  // Split K: the big tiles, made numerous by the splits.
  const chosen =
    (splits > 1 ? SGMAT_TILINGS[0] : undefined) ??
    SGMAT_TILINGS.find((t) => {
      const q = base(t);
      return Math.ceil(p.m / sgmatTileM(q)) * Math.ceil(p.n / sgmatTileN(q)) * p.batch >= t.minWorkgroups;
    }) ??
    SGMAT_TILINGS[SGMAT_TILINGS.length - 1]!;
  // 8-wide staging loads for f16 inputs (H100, 4096³: 155 against 141 TFLOP/s, x @ Wᵀ 136 against 103);
  // f32 inputs stay 4-wide (8-wide measured 61 against 141 with reduced precision).
  const vec = override.vec ?? (p.a.dtype === 'f16' && p.b.dtype === 'f16' ? 8 : 4);
  const { splits: _, ...tiling } = { ...chosen, ...override };
  const params = {
    ...base({ ...tiling, vec }),
    ...(splits > 1 ? { splitK: true, outDtype: 'f32' as const } : {}),
  };
  return vec === 8 && (!vec8Aligned(p) || sgmatInvalid(params)) ? { ...params, vec: 4 } : params;
}

/** 8-wide staging loads read f16 operands 16 bytes at a time: their offsets and strides must be multiples of 8. */
function vec8Aligned(p: MatmulProblem): boolean {
  const ok = (dtype: string, mode: string, offset: number, strides: readonly number[]): boolean =>
    dtype !== 'f16' || !mode.endsWith('4') || [offset, ...strides].every((x) => x === 1 || x % 8 === 0);
  return ok(p.a.dtype, p.aLoad, p.a.offset, p.aStrides) && ok(p.b.dtype, p.bLoad, p.b.offset, p.bStrides);
}

/** Why the subgroup-matrix kernel cannot run `params` on `rt`, or null. */
export const sgmatUnfit = (rt: GpuRuntime, params: SgMatmulParams): string | null => {
  const invalid = sgmatInvalid(params);
  if (invalid) return invalid;
  const bytes = sgmatShared(params).bytes;
  return bytes > rt.maxWorkgroupStorageBytes
    ? `needs ${bytes} bytes of workgroup memory, the device allows ${rt.maxWorkgroupStorageBytes}`
    : null;
};

/** Why the direct form cannot run `p` (it has no bounds checks and needs 16-byte aligned rows), or null. */
export function sgmatDirectUnfit(p: MatmulProblem, params: SgMatmulParams): string | null {
  if (p.m % sgmatTileM(params) || p.n % sgmatTileN(params) || p.k % params.bk) return 'partial tiles';
  const vec = (p.aLoad === 'k4' || p.aLoad === 'm4') && (p.bLoad === 'k4' || p.bLoad === 'n4');
  const words = [p.a.offset, p.b.offset, ...p.aStrides, ...p.bStrides].filter((x) => x !== 1);
  return vec && words.every((x) => x % 8 === 0) ? null : 'rows not 16-byte aligned';
}

/**
 * Launches the subgroup-matrix kernel (`matmul-sgmat.wgsl.ts`); with
 * `params.splitK`, over `splits` K ranges into f32 partials, then one pass
 * sums them into the output in split order.
 */
export function launchSgmat(
  rt: GpuRuntime,
  p: MatmulProblem,
  params: SgMatmulParams,
  splits = params.splitK ? sgmatSplits(p) : 1,
): void {
  const unfit = params.direct ? sgmatDirectUnfit(p, params) : null;
  if (unfit) throw new RangeError(`sgmat matmul, direct loads: ${unfit}`);
  const key = sgmatKey(params);
  const tm = sgmatTileM(params);
  const tn = sgmatTileN(params);
  if (params.splitK) {
    if (p.batch !== 1) throw new RangeError('sgmat matmul: split-K needs batch 1');
    // K per split: a multiple of bk (so no staging load straddles two splits).
    const kChunk = Math.ceil(p.k / splits / params.bk) * params.bk;
    const used = Math.ceil(p.k / kChunk);
    const partial = rt.acquire(used * p.m * p.n * 4);
    rt.dispatch({
      pipelineKey: key,
      makeCode: () => sgmatWgsl(params),
      bindings: [{ buffer: p.a.buffer }, { buffer: p.b.buffer }, { buffer: partial, write: true }],
      uniforms: matmulUniforms.pack({ ...matmulUniformValues(p, 0), kChunk }),
      workgroups: [Math.ceil(p.n / tn), Math.ceil(p.m / tm), used],
    });
    launchSplitKReduce(rt, partial, p.out, p.outDtype, p.m * p.n, used);
    rt.release(partial);
    return;
  }
  const maxZ = rt.maxWorkgroupsPerDimension;
  for (let batchBase = 0; batchBase < p.batch; batchBase += maxZ)
    rt.dispatch({
      pipelineKey: key,
      makeCode: () => sgmatWgsl(params),
      bindings: [{ buffer: p.a.buffer }, { buffer: p.b.buffer }, { buffer: p.out, write: true }],
      uniforms: matmulUniforms.pack(matmulUniformValues(p, batchBase)),
      workgroups: [Math.ceil(p.n / tn), Math.ceil(p.m / tm), Math.min(maxZ, p.batch - batchBase)],
    });
}
