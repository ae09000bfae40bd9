import type { DType } from '../../dtype.js';
import type { ALoad, BLoad } from './matmul.wgsl.js';

/** A `[batch, rows, cols]` strided operand. */
export interface MatmulOperand {
  readonly buffer: GPUBuffer;
  readonly dtype: DType;
  readonly shape: readonly [number, number, number];
  readonly strides: readonly [number, number, number];
  readonly offset: number;
}

/**
 * One batched matmul `out[b] = a[b] @ b[b]`, normalised for the kernels:
 * strides of size-1 dims zeroed (a size-1 K gets stride 1) and the load path
 * of each operand chosen (see {@link loadMode}).
 */
export interface MatmulProblem {
  readonly batch: number;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly a: { readonly buffer: GPUBuffer; readonly dtype: DType; readonly offset: number };
  readonly b: { readonly buffer: GPUBuffer; readonly dtype: DType; readonly offset: number };
  /** [batch, m, k] strides of A and [batch, k, n] strides of B. */
  readonly aStrides: readonly [number, number, number];
  readonly bStrides: readonly [number, number, number];
  readonly aLoad: ALoad;
  readonly bLoad: BLoad;
  readonly out: GPUBuffer;
  readonly outDtype: DType;
}

const mult4 = (x: number): boolean => Math.abs(x) % 4 === 0;

/**
 * How to load an operand with strides (sOuter along its non-K axis, sK along
 * K): vec4 along the axis with stride 1 when the other stride, the offset and
 * the batch stride are multiples of 4, else scalar along the smaller stride.
 */
export const loadMode = (
  sOuter: number,
  sK: number,
  offset: number,
  sBatch: number,
): 'k4' | 'o4' | 'k1' | 'o1' => {
  const aligned = mult4(offset) && mult4(sBatch);
  if (aligned && sK === 1 && mult4(sOuter)) return 'k4';
  if (aligned && sOuter === 1 && mult4(sK)) return 'o4';
  return Math.abs(sK) <= Math.abs(sOuter) ? 'k1' : 'o1';
};

/** Normalises `a [batch, m, k] @ b [batch, k, n]` into `out [batch, m, n]` (contiguous). */
export function matmulProblem(
  a: MatmulOperand,
  b: MatmulOperand,
  out: GPUBuffer,
  outDtype: DType,
): MatmulProblem {
  const [batch, m, k] = a.shape;
  const n = b.shape[2];
  // Strides of size-1 dims never multiply a non-zero index: zero them so they do not block vec4 paths.
  // A size-1 K dim gets stride 1 (any value is equivalent), which also allows the vec4-along-K path.
  const aStrides: [number, number, number] = [
    batch === 1 ? 0 : a.strides[0],
    m === 1 ? 0 : a.strides[1],
    k === 1 ? 1 : a.strides[2],
  ];
  const bStrides: [number, number, number] = [
    batch === 1 ? 0 : b.strides[0],
    k === 1 ? 1 : b.strides[1],
    n === 1 ? 0 : b.strides[2],
  ];
  const am = loadMode(aStrides[1], aStrides[2], a.offset, aStrides[0]);
  const bm = loadMode(bStrides[2], bStrides[1], b.offset, bStrides[0]);
  return {
    batch,
    m,
    n,
    k,
    a: { buffer: a.buffer, dtype: a.dtype, offset: a.offset },
    b: { buffer: b.buffer, dtype: b.dtype, offset: b.offset },
    aStrides,
    bStrides,
    aLoad: am === 'o4' ? 'm4' : am === 'o1' ? 'm1' : am,
    bLoad: bm === 'o4' ? 'n4' : bm === 'o1' ? 'n1' : bm,
    out,
    outDtype,
  };
}

/** The shared uniform values of every matmul kernel (see `matmulUniforms`). */
export const matmulUniformValues = (p: MatmulProblem, batchBase: number): Record<string, number> => ({
  M: p.m,
  N: p.n,
  K: p.k,
  batchBase,
  aOff: p.a.offset,
  aBatch: p.aStrides[0],
  aRow: p.aStrides[1],
  aCol: p.aStrides[2],
  bOff: p.b.offset,
  bBatch: p.bStrides[0],
  bRow: p.bStrides[1],
  bCol: p.bStrides[2],
  kChunk: p.k,
});

/** Fraction of the workgroup slots that a grid of `tiles` workgroups keeps busy over its waves of `slots`. */
export const waveFill = (tiles: number, slots: number): number => tiles / (Math.ceil(tiles / slots) * slots);
