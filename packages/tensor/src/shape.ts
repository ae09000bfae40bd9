import { fmtShape, TensorError } from './errors.js';

/** Number of elements of a shape (1 for a scalar). */
export const numel = (shape: readonly number[]): number => {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
};

/** Row-major strides of a contiguous tensor of `shape`, in elements. */
export const contiguousStrides = (shape: readonly number[]): number[] => {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
};

export const isContiguous = (shape: readonly number[], strides: readonly number[]): boolean => {
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && strides[i] !== s) return false;
    s *= shape[i]!;
  }
  return true;
};

/** NumPy broadcasting of several shapes; throws naming `op` and the shapes when they do not broadcast. */
export const broadcastShapes = (op: string, ...shapes: (readonly number[])[]): number[] => {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const j = rank - s.length + i;
      const d = s[i]!;
      if (out[j] === 1) out[j] = d;
      else if (d !== 1 && d !== out[j])
        throw new TensorError(op, `shapes ${shapes.map(fmtShape).join(' and ')} do not broadcast`);
    }
  }
  return out;
};

/** Resolves a possibly negative axis against `rank`. */
export const normAxis = (op: string, axis: number, rank: number): number => {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= Math.max(rank, 1))
    throw new TensorError(op, `axis ${axis} is out of range for rank ${rank}`);
  return a;
};

/** Resolves an axis list (undefined = all axes), sorted and de-duplicated. */
export const normAxes = (
  op: string,
  axes: number | readonly number[] | undefined,
  rank: number,
): number[] => {
  if (axes === undefined) return [...Array(rank).keys()];
  const list = typeof axes === 'number' ? [axes] : axes;
  const out = [...new Set(list.map((a) => normAxis(op, a, rank)))].sort((a, b) => a - b);
  return out;
};

export const sameShape = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i]);

export const assertShape = (shape: readonly number[], op: string): void => {
  for (const d of shape)
    if (!Number.isInteger(d) || d < 0) throw new TensorError(op, `invalid shape ${fmtShape(shape)}`);
};
