import type { GpuRuntime } from '../runtime.js';
import { type MatmulParams, matmulKey, matmulTile, matmulUniforms, matmulWgsl } from './matmul.wgsl.js';
import { type MatmulProblem, matmulUniformValues } from './matmul-problem.js';

/** Overrides of the register-tiled kernel for benchmarking and tuning; `undefined` picks by shape. */
export interface TiledTuning {
  tm?: 4 | 8;
  bk?: 8 | 16 | 32;
  pad?: 0 | 1;
  warpTile?: boolean;
  unroll?: boolean;
  doubleBuffer?: boolean;
}

/** Shared memory of the register-tiled kernel. */
const sharedBytes = (tm: number, bk: number, pad: number, buffers: number): number =>
  buffers * 2 * bk * ((16 * tm) / 4 + pad) * 16;

/** The register-tiled kernel runs anywhere WebGPU's default limits hold (256 invocations, 16 KiB shared). */
export const tiledFits = (rt: GpuRuntime): boolean => rt.maxWorkgroupStorageBytes >= sharedBytes(8, 8, 1, 1);

/** Launches the register-tiled SIMT kernel (`matmul.wgsl.ts`) for `p`. */
export function launchTiled(rt: GpuRuntime, p: MatmulProblem, tuning: TiledTuning = {}): void {
  const { batch, m, n } = p;
  const bigTiles = Math.ceil(m / 128) * Math.ceil(n / 128) * batch;
  const tm = tuning.tm ?? (bigTiles >= 200 ? 8 : 4);
  // Every thread stages at least one vec4 per operand and K-tile: tile * bk >= 1024. Measured on
  // the H100 (bench/gpu-bench.ts): bk 8 is best for f32 at 128-wide tiles, bk 16 for f16 inputs.
  const halfInputs = p.a.dtype === 'f16' || p.b.dtype === 'f16';
  const bk = Math.max(tuning.bk ?? (tm === 8 && !halfInputs ? 8 : 16), 1024 / (16 * tm)) as 8 | 16 | 32;
  const pad = tuning.pad ?? 1;
  const buffers = tuning.doubleBuffer ? 2 : 1;
  // Padding adds one vec4 per shared k-row; drop it (then double buffering) where it would not fit.
  const fitsPad = sharedBytes(tm, bk, 1, buffers) <= rt.maxWorkgroupStorageBytes;
  const doubleBuffer = buffers === 2 && sharedBytes(tm, bk, 0, 2) <= rt.maxWorkgroupStorageBytes;
  const params: MatmulParams = {
    aDtype: p.a.dtype,
    bDtype: p.b.dtype,
    outDtype: p.outDtype,
    aLoad: p.aLoad,
    bLoad: p.bLoad,
    tm,
    bk,
    outVec4: n % 4 === 0,
    pad: pad === 1 && fitsPad ? 1 : 0,
    warpTile: tuning.warpTile ?? true,
    unroll: tuning.unroll ?? true,
    ...(doubleBuffer ? { doubleBuffer } : {}),
  };
  const tile = matmulTile(params);
  const key = matmulKey(params);
  const maxZ = rt.maxWorkgroupsPerDimension;
  for (let batchBase = 0; batchBase < batch; batchBase += maxZ) {
    rt.dispatch({
      pipelineKey: key,
      makeCode: () => matmulWgsl(params),
      bindings: [{ buffer: p.a.buffer }, { buffer: p.b.buffer }, { buffer: p.out, write: true }],
      uniforms: matmulUniforms.pack(matmulUniformValues(p, batchBase)),
      workgroups: [Math.ceil(n / tile), Math.ceil(m / tile), Math.min(maxZ, batch - batchBase)],
    });
  }
}
