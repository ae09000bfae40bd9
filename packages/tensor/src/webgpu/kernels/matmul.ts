import type { DType } from '../../dtype.js';
import type { GpuRuntime } from '../runtime.js';
import {
  type ALoad,
  type BLoad,
  type MatmulParams,
  matmulKey,
  matmulTile,
  matmulUniforms,
  matmulWgsl,
} from './matmul.wgsl.js';

/** A `[batch, rows, cols]` strided operand. */
export interface MatmulOperand {
  readonly buffer: GPUBuffer;
  readonly dtype: DType;
  readonly shape: readonly [number, number, number];
  readonly strides: readonly [number, number, number];
  readonly offset: number;
}

/** Overrides for benchmarking and tuning; `undefined` picks by shape. */
export interface MatmulTuning {
  tm?: 4 | 8;
  bk?: 8 | 16 | 32;
  pad?: 0 | 1;
  warpTile?: boolean;
  unroll?: boolean;
}

const mult4 = (x: number): boolean => Math.abs(x) % 4 === 0;

/**
 * How to load an operand with strides (sOuter along its non-K axis, sK along
 * K): vec4 along the axis with stride 1 when the other stride, the offset and
 * the batch stride are multiples of 4, else scalar along the smaller stride.
 */
const loadMode = (sOuter: number, sK: number, offset: number, sBatch: number): 'k4' | 'o4' | 'k1' | 'o1' => {
  const aligned = mult4(offset) && mult4(sBatch);
  if (aligned && sK === 1 && mult4(sOuter)) return 'k4';
  if (aligned && sOuter === 1 && mult4(sK)) return 'o4';
  return Math.abs(sK) <= Math.abs(sOuter) ? 'k1' : 'o1';
};

/** out[b] = a[b] @ b[b] into contiguous `[batch, m, n]` (see `Backend.matmul`). */
export function launchMatmul(
  rt: GpuRuntime,
  a: MatmulOperand,
  b: MatmulOperand,
  out: GPUBuffer,
  outDtype: DType,
  tuning: MatmulTuning = {},
): void {
  const [batch, m, k] = a.shape;
  const n = b.shape[2];
  if (batch === 0 || m === 0 || n === 0) return;
  // Strides of size-1 dims never multiply a non-zero index: zero them so they do not block vec4 paths.
  // A size-1 K dim gets stride 1 (any value is equivalent), which also allows the vec4-along-K path.
  const [sab, sam, sak] = [
    batch === 1 ? 0 : a.strides[0],
    m === 1 ? 0 : a.strides[1],
    k === 1 ? 1 : a.strides[2],
  ];
  const [sbb, sbk, sbn] = [
    batch === 1 ? 0 : b.strides[0],
    k === 1 ? 1 : b.strides[1],
    n === 1 ? 0 : b.strides[2],
  ];
  const am = loadMode(sam, sak, a.offset, sab);
  const bm = loadMode(sbn, sbk, b.offset, sbb);
  const aLoad: ALoad = am === 'o4' ? 'm4' : am === 'o1' ? 'm1' : am;
  const bLoad: BLoad = bm === 'o4' ? 'n4' : bm === 'o1' ? 'n1' : bm;

  const bigTiles = Math.ceil(m / 128) * Math.ceil(n / 128) * batch;
  const tm = tuning.tm ?? (bigTiles >= 200 ? 8 : 4);
  // Every thread stages at least one vec4 per operand and K-tile: tile * bk >= 1024. Measured on
  // the H100 (bench/gpu-bench.ts): bk 8 is best for f32 at 128-wide tiles, bk 16 for f16 inputs.
  const halfInputs = a.dtype === 'f16' || b.dtype === 'f16';
  const bk = Math.max(tuning.bk ?? (tm === 8 && !halfInputs ? 8 : 16), 1024 / (16 * tm)) as 8 | 16 | 32;
  // Padding adds one vec4 per shared k-row; drop it where it would not fit the workgroup storage limit.
  const sharedBytes = (pad: number) => 2 * bk * ((16 * tm) / 4 + pad) * 16;
  const pad = tuning.pad ?? 1;
  const p: MatmulParams = {
    aDtype: a.dtype,
    bDtype: b.dtype,
    outDtype,
    aLoad,
    bLoad,
    tm,
    bk,
    outVec4: n % 4 === 0,
    pad: pad === 1 && sharedBytes(1) <= rt.maxWorkgroupStorageBytes ? 1 : 0,
    warpTile: tuning.warpTile ?? true,
    unroll: tuning.unroll ?? true,
  };
  const tile = matmulTile(p);
  const key = matmulKey(p);
  const maxZ = rt.maxWorkgroupsPerDimension;
  for (let batchBase = 0; batchBase < batch; batchBase += maxZ) {
    rt.dispatch({
      pipelineKey: key,
      makeCode: () => matmulWgsl(p),
      bindings: [{ buffer: a.buffer }, { buffer: b.buffer }, { buffer: out, write: true }],
      uniforms: matmulUniforms.pack({
        M: m,
        N: n,
        K: k,
        batchBase,
        aOff: a.offset,
        aBatch: sab,
        aRow: sam,
        aCol: sak,
        bOff: b.offset,
        bBatch: sbb,
        bRow: sbk,
        bCol: sbn,
      }),
      workgroups: [Math.ceil(n / tile), Math.ceil(m / tile), Math.min(maxZ, batch - batchBase)],
    });
  }
}
