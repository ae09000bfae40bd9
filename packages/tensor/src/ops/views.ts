import { record } from '../autograd.js';
import { fmtShape, TensorError } from '../errors.js';
import { assertShape, contiguousStrides, isContiguous, normAxes, normAxis, numel } from '../shape.js';
import { Tensor } from '../tensor.js';
import { sumTo } from './reduce.js';
import { backendOf, empty } from './util.js';

/** A view sharing `x`'s storage with a new layout. */
const viewOf = (x: Tensor, shape: readonly number[], strides: readonly number[], offset: number): Tensor =>
  new Tensor(x.storage.retain(), [...shape], x.dtype, [...strides], offset);

/** A contiguous copy (or a new handle when `x` already is contiguous). */
export function contiguous(x: Tensor): Tensor {
  if (x.isContiguous) {
    const y = x.share();
    record('contiguous', [x], [y], [], ([g]) => [g!]);
    return y;
  }
  const backend = backendOf('contiguous', x);
  const y = empty(backend, x.shape, x.dtype);
  backend.copy(x.view(), y.view());
  record('contiguous', [x], [y], [], ([g]) => [g!]);
  return y;
}

/** Same data, new shape (one dimension may be -1). Copies only when the layout requires it. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const n = x.size;
  const infer = shape.indexOf(-1);
  let target = [...shape];
  if (infer >= 0) {
    const rest = numel(shape.filter((_, i) => i !== infer));
    if (rest === 0 || n % rest !== 0)
      throw new TensorError('reshape', `cannot reshape ${fmtShape(x.shape)} into ${fmtShape(shape)}`);
    target[infer] = n / rest;
  }
  assertShape(target, 'reshape');
  if (numel(target) !== n)
    throw new TensorError(
      'reshape',
      `cannot reshape ${fmtShape(x.shape)} (${n} elements) into ${fmtShape(shape)}`,
    );
  target = target.map(Number);
  let y: Tensor;
  if (isContiguous(x.shape, x.strides)) y = viewOf(x, target, contiguousStrides(target), x.offset);
  else {
    const c = contiguous(x.detach());
    y = viewOf(c, target, contiguousStrides(target), 0);
    c.dispose();
  }
  record('reshape', [x], [y], [], ([g]) => [reshape(g!, x.shape)]);
  return y;
}

/** Reorders dimensions: output dim i is input dim `axes[i]`. */
export function permute(x: Tensor, axes: readonly number[]): Tensor {
  const ax = axes.map((a) => normAxis('permute', a, x.rank));
  if (ax.length !== x.rank || new Set(ax).size !== x.rank)
    throw new TensorError('permute', `axes [${axes.join(', ')}] are not a permutation of rank ${x.rank}`);
  const y = viewOf(
    x,
    ax.map((a) => x.shape[a]!),
    ax.map((a) => x.strides[a]!),
    x.offset,
  );
  const inverse = new Array<number>(ax.length);
  ax.forEach((a, i) => {
    inverse[a] = i;
  });
  record('permute', [x], [y], [], ([g]) => [permute(g!, inverse)]);
  return y;
}

/** Swaps two dimensions. */
export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  if (x.rank < 2) return permute(x, [...x.shape.keys()]);
  const order = [...x.shape.keys()];
  const i = normAxis('transpose', a, x.rank);
  const j = normAxis('transpose', b, x.rank);
  order[i] = j;
  order[j] = i;
  return permute(x, order);
}

type Range = readonly [number, number] | readonly [number, number, number] | null;

/** Strided sub-view: one `[start, end, step?]` (or null for all) per leading dimension. Negative indices count from the end. */
export function slice(x: Tensor, ranges: readonly Range[]): Tensor {
  if (ranges.length > x.rank) throw new TensorError('slice', `${ranges.length} ranges for rank ${x.rank}`);
  const shape = [...x.shape];
  const strides = [...x.strides];
  let offset = x.offset;
  const starts: number[] = [];
  const steps: number[] = [];
  ranges.forEach((r, i) => {
    const d = x.shape[i]!;
    const step = r?.[2] ?? 1;
    if (step <= 0 || !Number.isInteger(step))
      throw new TensorError('slice', `step must be a positive integer, got ${step}`);
    const clampIdx = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
    const start = r ? clampIdx(r[0]) : 0;
    const end = r ? clampIdx(r[1]) : d;
    const len = Math.max(0, Math.ceil((end - start) / step));
    shape[i] = len;
    offset += start * x.strides[i]!;
    strides[i] = x.strides[i]! * step;
    starts.push(start);
    steps.push(step);
  });
  const y = viewOf(x, shape, strides, offset);
  record('slice', [x], [y], [], ([g]) => {
    const backend = g!.backend;
    const dx = empty(backend, x.shape, g!.dtype);
    backend.fill(dx.storage.buffer, dx.size, 0);
    const dstStrides = [...dx.strides];
    let dstOffset = 0;
    starts.forEach((s, i) => {
      dstOffset += s * dx.strides[i]!;
      dstStrides[i] = dx.strides[i]! * steps[i]!;
    });
    backend.copy(g!.view(), { ...dx.view(), shape, strides: dstStrides, offset: dstOffset });
    return [dx];
  });
  return y;
}

/** `length` entries of `axis` starting at `start`. */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  const a = normAxis('narrow', axis, x.rank);
  if (start < 0 || length < 0 || start + length > x.shape[a]!)
    throw new TensorError(
      'narrow',
      `[${start}, ${start + length}) is outside axis ${a} of ${fmtShape(x.shape)}`,
    );
  const ranges: Range[] = x.shape.map(() => null);
  ranges[a] = [start, start + length];
  return slice(x, ranges);
}

/** Broadcasts size-1 (or missing leading) dimensions to `shape` without copying. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  if (shape.length < x.rank)
    throw new TensorError('expand', `cannot expand ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
  const lead = shape.length - x.rank;
  const strides = shape.map((d, i) => {
    if (i < lead) return 0;
    const s = x.shape[i - lead]!;
    if (s === d) return x.strides[i - lead]!;
    if (s === 1) return 0;
    throw new TensorError('expand', `cannot expand ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
  });
  const y = viewOf(x, shape, strides, x.offset);
  record('expand', [x], [y], [], ([g]) => [sumTo(g!, x.shape)]);
  return y;
}

/** Removes size-1 dimensions (the given ones, or all). */
export function squeeze(x: Tensor, axes?: number | readonly number[]): Tensor {
  const ax =
    axes === undefined
      ? [...x.shape.keys()].filter((i) => x.shape[i] === 1)
      : normAxes('squeeze', axes, x.rank);
  for (const a of ax)
    if (x.shape[a] !== 1) throw new TensorError('squeeze', `axis ${a} of ${fmtShape(x.shape)} is not 1`);
  const keepIdx = [...x.shape.keys()].filter((i) => !ax.includes(i));
  const y = viewOf(
    x,
    keepIdx.map((i) => x.shape[i]!),
    keepIdx.map((i) => x.strides[i]!),
    x.offset,
  );
  record('squeeze', [x], [y], [], ([g]) => [reshape(g!, x.shape)]);
  return y;
}

/** Inserts a size-1 dimension at `axis` (which may equal the rank). */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = axis < 0 ? axis + x.rank + 1 : axis;
  if (a < 0 || a > x.rank) throw new TensorError('unsqueeze', `axis ${axis} out of range for rank ${x.rank}`);
  const shape = [...x.shape];
  const strides = [...x.strides];
  shape.splice(a, 0, 1);
  strides.splice(a, 0, a < x.rank ? x.strides[a]! * x.shape[a]! : 1);
  const y = viewOf(x, shape, strides, x.offset);
  record('unsqueeze', [x], [y], [], ([g]) => [reshape(g!, x.shape)]);
  return y;
}

/** Merges dimensions `start..end` (inclusive) into one. */
export function flatten(x: Tensor, start = 0, end = -1): Tensor {
  if (x.rank === 0) return reshape(x, [1]);
  const s = normAxis('flatten', start, x.rank);
  const e = normAxis('flatten', end, x.rank);
  const shape = [...x.shape.slice(0, s), numel(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)];
  return reshape(x, shape);
}
