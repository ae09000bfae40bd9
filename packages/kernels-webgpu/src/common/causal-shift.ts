import { arange, cast, concat, ge, mul, narrow, reshape, type Tensor, zeros } from '@dynconv/tensor';

/**
 * Building blocks of the composed (reference) convolutions, made of plain
 * differentiable tensor ops so they run and differentiate on every backend.
 */

/** `x[:, t - lag]` for each t of x `[B, T, ...]`, zero where `t - lag < 0`. */
export function shiftBack(x: Tensor, lag: number): Tensor {
  if (lag === 0) return x;
  const T = x.shape[1]!;
  const padShape = [...x.shape];
  if (lag >= T) return zeros(padShape, { dtype: x.dtype, backend: x.backend });
  padShape[1] = lag;
  const pad = zeros(padShape, { dtype: x.dtype, backend: x.backend });
  return concat([pad, narrow(x, 1, 0, T - lag)], 1);
}

/**
 * 1 where tap `lag` of token t stays inside its document (`t - lag >= docStart[b, t]`),
 * else 0: `[B, T, 1]` in `dtype`. The zero padding of {@link shiftBack} covers `t - lag < 0`.
 */
export function lagMask(docStart: Tensor, lag: number, dtype: Tensor['dtype']): Tensor {
  const [B, T] = docStart.shape as [number, number];
  const source = arange(-lag, T - lag, 1, { dtype: 'i32', backend: docStart.backend });
  const inside = cast(ge(source, docStart), dtype);
  return reshape(inside, [B, T, 1]);
}

/** `shiftBack(x, lag)` with taps that would cross a document start zeroed. */
export function shiftWithinDocument(x: Tensor, lag: number, docStart: Tensor | undefined): Tensor {
  const shifted = shiftBack(x, lag);
  if (!docStart || lag === 0) return shifted;
  return mul(shifted, lagMask(docStart, lag, x.dtype));
}

/** Row `w` of a `[W, D]` filter as `[D]` (broadcasts over `[B, T, D]`). */
export const tapRow = (weight: Tensor, w: number): Tensor =>
  reshape(narrow(weight, 0, w, 1), [weight.shape[1]!]);
