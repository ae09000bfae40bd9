/** Stride bookkeeping shared by the strided kernels (elementwise, reduce, copy). */

/** Highest tensor rank the strided kernels take (shape and strides travel in `u32x8` uniforms). */
export const MAX_RANK = 8;

/** Row-major strides of `shape`. */
export const rowMajorStrides = (shape: readonly number[]): number[] => {
  const out = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    out[i] = s;
    s *= shape[i]!;
  }
  return out;
};

/**
 * Merges dimensions that every operand walks contiguously (stride[d] ==
 * stride[d+1] * shape[d+1]) and drops size-1 dimensions, so most views
 * index as rank 1 or 2. Returns at least rank 1.
 */
export function coalesceDims(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
): { shape: number[]; strides: number[][] } {
  const keep = shape.map((_, i) => i).filter((i) => shape[i] !== 1);
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (const d of keep) {
    const last = outShape.length - 1;
    const merge = last >= 0 && strides.every((s, k) => outStrides[k]![last] === s[d]! * shape[d]!);
    if (merge) {
      outShape[last]! *= shape[d]!;
      for (let k = 0; k < strides.length; k++) outStrides[k]![last] = strides[k]![d]!;
    } else {
      outShape.push(shape[d]!);
      for (let k = 0; k < strides.length; k++) outStrides[k]!.push(strides[k]![d]!);
    }
  }
  if (outShape.length === 0) return { shape: [1], strides: strides.map(() => [0]) };
  return { shape: outShape, strides: outStrides };
}

/** How a kernel addresses an operand: contiguous from its offset, broadcast scalar, or general strides. */
export type AccessMode = 'c' | 'b' | 's';

export const accessMode = (shape: readonly number[], strides: readonly number[]): AccessMode => {
  if (strides.every((s, i) => s === 0 || shape[i] === 1)) return 'b';
  const rm = rowMajorStrides(shape);
  if (strides.every((s, i) => s === rm[i] || shape[i] === 1)) return 'c';
  return 's';
};

/** Pads to `MAX_RANK` entries with zeros (uniform arrays have a fixed length). */
export const padRank = (values: readonly number[]): number[] => {
  if (values.length > MAX_RANK) throw new RangeError(`rank ${values.length} exceeds ${MAX_RANK}`);
  return [...values, ...new Array<number>(MAX_RANK - values.length).fill(0)];
};
