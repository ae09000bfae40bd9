import type { GpuRuntime } from '../runtime.js';
import {
  type MatmulParams,
  matmulKey,
  matmulTile,
  matmulTileN,
  matmulUniforms,
  matmulWgsl,
} from './matmul.wgsl.js';
import { type MatmulProblem, matmulUniformValues, waveFill } from './matmul-problem.js';
import { launchSplitKReduce } from './matmul-splitk.js';

/** Overrides of the register-tiled kernel for benchmarking and tuning; `undefined` picks by shape. */
export interface TiledTuning {
  tm?: 4 | 8 | 16;
  /** Outputs per thread along N (default: `tm`). */
  tn?: 4 | 8 | 16;
  bk?: 8 | 16 | 32;
  pad?: 0 | 1;
  warpTile?: boolean;
  unroll?: boolean;
  doubleBuffer?: boolean;
  /** K splits (batch 1 only; 1 = off). Default: by {@link splitKFor}. */
  splitK?: number;
}

/** Shared memory of the register-tiled kernel. */
const sharedBytes = (tileM: number, tileN: number, bk: number, pad: number, buffers: number): number =>
  buffers * bk * (tileM / 4 + pad + tileN / 4 + pad) * 16;

/** The register-tiled kernel runs anywhere WebGPU's default limits hold (256 invocations, 16 KiB shared). */
export const tiledFits = (rt: GpuRuntime): boolean =>
  rt.maxWorkgroupStorageBytes >= sharedBytes(128, 128, 8, 1, 1);

/** Workgroup slots per wave on the H100 (132 SMs): 2 per SM with 128 x 128 tiles, 1 with 128 x 256. */
const WAVE_128 = 264;
const WAVE_128X256 = 132;

/**
 * Whether 128 x 256 tiles (8 x 16 per thread, bk 16) beat 128 x 128 ones for
 * `p`: when they make at least two full-enough waves. H100, f32, unchecked
 * interior loads (docs/results/perf-h100-session5): 4096³ 46.3 against 44.3
 * TFLOP/s; 8192 x 2048 x 768 0.593 against 0.618 ms; 50304 x 768 x 8192
 * 13.2 against 14.2 ms; 8192 x 2304 x 768 (fill 0.87) 0.745 against 0.707 ms.
 * (128 x 64 tiles, once chosen to fill waves on 8192 x 768 outputs, now lose
 * 6-9 % there to 128 x 128 and are only used on request.)
 */
export const wideTilesFor = (p: Pick<MatmulProblem, 'batch' | 'm' | 'n'>): boolean => {
  const tiles = Math.ceil(p.m / 128) * Math.ceil(p.n / 256) * p.batch;
  return tiles >= 2 * WAVE_128X256 && waveFill(tiles, WAVE_128X256) >= 0.95;
};

/**
 * K splits for a batch-1 problem with less than one wave of 128 x 128 tiles
 * and a long K (the weight gradients dW = dYᵀ X of a training step: M, N =
 * model widths, K = tokens): a power of two giving at least 2.5 waves of
 * workgroups, each split at least 1024 deep. 1 (no split) otherwise. Measured on 2304 x 768 x 8192:
 * 8 splits 33.5 TFLOP/s against 25.4 unsplit (64 x 64 tiles).
 */
export const splitKFor = (p: Pick<MatmulProblem, 'batch' | 'm' | 'n' | 'k'>): number => {
  if (p.batch !== 1) return 1;
  const tiles = Math.ceil(p.m / 128) * Math.ceil(p.n / 128);
  if (tiles >= WAVE_128) return 1;
  const want = 2 ** Math.ceil(Math.log2((2.5 * WAVE_128) / tiles)); // powers of two split K evenly
  return Math.max(1, Math.min(Math.floor(p.k / 1024), want, 16));
};

/** Launches the register-tiled SIMT kernel (`matmul.wgsl.ts`) for `p`. */
export function launchTiled(rt: GpuRuntime, p: MatmulProblem, tuning: TiledTuning = {}): void {
  const { batch, m, n } = p;
  const requestedSplits = tuning.splitK ?? splitKFor(p);
  // The partial products must fit one storage binding.
  const fit = Math.floor(rt.maxStorageBindingBytes / (4 * m * n));
  const splits = batch === 1 ? Math.max(1, Math.min(requestedSplits, Math.ceil(p.k / 8), fit)) : 1;
  const bigTiles = Math.ceil(m / 128) * Math.ceil(n / 128) * batch * splits;
  const tm = tuning.tm ?? (bigTiles >= 200 ? 8 : 4);
  // Split-K workgroups count like batches: the MLP weight gradients (2048 x 768 x 8192 in 8 splits)
  // run 0.635 -> 0.588 ms on 128 x 256 tiles (perf-h100-session5/train-shapes-dw).
  const wide =
    tuning.tm === undefined &&
    tuning.tn === undefined &&
    tm === 8 &&
    wideTilesFor({ batch: batch * splits, m, n });
  const tn = tuning.tn ?? (wide ? 16 : tm);
  // Every thread stages at least one vec4 per operand and K-tile: tile * bk >= 1024. Measured on
  // the H100 (bench/gpu-bench.ts): bk 8 is best for f32 at 128-wide tiles, bk 16 for f16 inputs.
  const halfInputs = p.a.dtype === 'f16' || p.b.dtype === 'f16';
  const minBk = 1024 / (16 * Math.min(tm, tn));
  const tileM = 16 * tm;
  const tileN = 16 * tn;
  let bk = Math.max(tuning.bk ?? (Math.min(tm, tn) >= 8 && !halfInputs && !wide ? 8 : 16), minBk);
  // Halve a K-tile that would not fit the device's workgroup memory even unpadded.
  while (bk > minBk && bk > 8 && sharedBytes(tileM, tileN, bk, 0, 1) > rt.maxWorkgroupStorageBytes) bk /= 2;
  const pad = tuning.pad ?? 1;
  const buffers = tuning.doubleBuffer ? 2 : 1;
  // Padding adds one vec4 per shared k-row; drop it (then double buffering) where it would not fit.
  const fitsPad = sharedBytes(tileM, tileN, bk, 1, buffers) <= rt.maxWorkgroupStorageBytes;
  const doubleBuffer = buffers === 2 && sharedBytes(tileM, tileN, bk, 0, 2) <= rt.maxWorkgroupStorageBytes;
  // K per split: a multiple of bk (so vec4 loads never straddle two splits).
  const kChunk = splits > 1 ? Math.ceil(p.k / splits / bk) * bk : p.k;
  const used = splits > 1 ? Math.ceil(p.k / kChunk) : 1;
  const params: MatmulParams = {
    aDtype: p.a.dtype,
    bDtype: p.b.dtype,
    outDtype: used > 1 ? 'f32' : p.outDtype,
    aLoad: p.aLoad,
    bLoad: p.bLoad,
    tm,
    ...(tn !== tm ? { tn } : {}),
    bk: bk as 8 | 16 | 32,
    outVec4: n % 4 === 0,
    pad: pad === 1 && fitsPad ? 1 : 0,
    warpTile: tuning.warpTile ?? true,
    unroll: tuning.unroll ?? true,
    ...(doubleBuffer ? { doubleBuffer } : {}),
    ...(used > 1 ? { splitK: true } : {}),
  };
  const key = matmulKey(params);
  const grid = (z: number): [number, number, number] => [
    Math.ceil(n / matmulTileN(params)),
    Math.ceil(m / matmulTile(params)),
    z,
  ];
  if (used > 1) {
    // Partial products per K range, then one pass sums them into the output.
    const partial = rt.acquire(used * m * n * 4);
    rt.dispatch({
      pipelineKey: key,
      makeCode: () => matmulWgsl(params),
      bindings: [{ buffer: p.a.buffer }, { buffer: p.b.buffer }, { buffer: partial, write: true }],
      uniforms: matmulUniforms.pack({ ...matmulUniformValues(p, 0), kChunk }),
      workgroups: grid(used),
    });
    launchSplitKReduce(rt, partial, p.out, p.outDtype, m * n, used);
    rt.release(partial);
    return;
  }
  const maxZ = rt.maxWorkgroupsPerDimension;
  for (let batchBase = 0; batchBase < batch; batchBase += maxZ) {
    rt.dispatch({
      pipelineKey: key,
      makeCode: () => matmulWgsl(params),
      bindings: [{ buffer: p.a.buffer }, { buffer: p.b.buffer }, { buffer: p.out, write: true }],
      uniforms: matmulUniforms.pack(matmulUniformValues(p, batchBase)),
      workgroups: grid(Math.min(maxZ, batch - batchBase)),
    });
  }
}
