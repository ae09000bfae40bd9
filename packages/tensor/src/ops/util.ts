import type { Backend, View } from '../backend.js';
import type { DType } from '../dtype.js';
import { fmtShape, TensorError } from '../errors.js';
import { numel } from '../shape.js';
import { Storage } from '../storage.js';
import { Tensor } from '../tensor.js';

/** A fresh contiguous tensor whose contents the caller must fully write. */
export const empty = (backend: Backend, shape: readonly number[], dtype: DType): Tensor =>
  new Tensor(new Storage(backend, backend.alloc(numel(shape), dtype)), [...shape], dtype);

/** Asserts all tensors live on one backend and returns it. */
export const backendOf = (op: string, ...ts: Tensor[]): Backend => {
  const b = ts[0]!.backend;
  for (const t of ts) {
    t.assertAlive(op);
    if (t.backend !== b)
      throw new TensorError(op, `tensors are on different backends (${b.name} and ${t.backend.name})`);
  }
  return b;
};

export const assertSameDType = (op: string, ...ts: Tensor[]): DType => {
  const d = ts[0]!.dtype;
  for (const t of ts)
    if (t.dtype !== d)
      throw new TensorError(
        op,
        `dtype mismatch: ${ts.map((x) => `${x.dtype}${fmtShape(x.shape)}`).join(' vs ')}`,
      );
  return d;
};

export const assertFloat = (op: string, t: Tensor): void => {
  if (t.dtype !== 'f32' && t.dtype !== 'f16')
    throw new TensorError(op, `expects a float tensor, got ${t.dtype}${fmtShape(t.shape)}`);
};

export const assertDType = (op: string, what: string, t: Tensor, dtype: DType): void => {
  if (t.dtype !== dtype)
    throw new TensorError(op, `${what} must be ${dtype}, got ${t.dtype}${fmtShape(t.shape)}`);
};

/** A view of `t` broadcast to `shape` (stride 0 on broadcast dimensions). */
export const broadcastView = (t: Tensor, shape: readonly number[]): View => {
  const v = t.view();
  const rank = shape.length;
  const strides = new Array<number>(rank).fill(0);
  for (let i = 0; i < t.rank; i++) {
    const j = rank - t.rank + i;
    strides[j] = t.shape[i] === 1 && shape[j] !== 1 ? 0 : t.strides[i]!;
  }
  return { ...v, shape, strides };
};
