import type { BackendBuffer, View } from '../backend.js';
import type { DType } from '../dtype.js';
import { roundF16 } from '../dtype.js';

/** CPU storage: float dtypes in Float32Array (or Float64Array in f64 mode), ints in Int32Array/Uint32Array. */
export interface CpuBuffer extends BackendBuffer {
  readonly data: Float32Array | Float64Array | Int32Array | Uint32Array;
}

export const cpuData = (b: BackendBuffer): CpuBuffer['data'] => (b as CpuBuffer).data;

export const allocCpu = (length: number, dtype: DType, f64: boolean): CpuBuffer => ({
  length,
  dtype,
  data:
    dtype === 'i32'
      ? new Int32Array(length)
      : dtype === 'u32'
        ? new Uint32Array(length)
        : f64
          ? new Float64Array(length)
          : new Float32Array(length),
});

/** Rounds an output buffer's first `n` values to f16 precision when its dtype is f16. */
export const finishF16 = (b: BackendBuffer, n: number): void => {
  if (b.dtype !== 'f16') return;
  const d = cpuData(b);
  for (let i = 0; i < n; i++) d[i] = roundF16(d[i]!);
};

/** Element offsets of a strided view in row-major order. */
export function viewOffsets(v: Pick<View, 'shape' | 'strides' | 'offset'>): Int32Array | Float64Array {
  let n = 1;
  for (const d of v.shape) n *= d;
  const out = n < 2 ** 31 ? new Int32Array(n) : new Float64Array(n);
  const rank = v.shape.length;
  if (n === 0) return out;
  const idx = new Array<number>(rank).fill(0);
  let off = v.offset;
  for (let i = 0; i < n; i++) {
    out[i] = off;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      off += v.strides[d]!;
      if (idx[d]! < v.shape[d]!) break;
      off -= v.strides[d]! * v.shape[d]!;
      idx[d] = 0;
    }
  }
  return out;
}
