import { record } from '../autograd.js';
import type { ReduceOp } from '../backend.js';
import { TensorError } from '../errors.js';
import { normAxes, normAxis, sameShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { div, eq, exp, log, mul, sub } from './elementwise.js';
import { backendOf, empty } from './util.js';
import { expand, reshape } from './views.js';

/** Runs a backend reduction over `axes`; returns the result without kept dims. */
function reduceRaw(op: ReduceOp, x: Tensor, axes: readonly number[]): Tensor {
  const backend = backendOf(op, x);
  const keepAxes = [...x.shape.keys()].filter((i) => !axes.includes(i));
  const order = [...keepAxes, ...axes];
  const v = x.view();
  const view = { ...v, shape: order.map((i) => x.shape[i]!), strides: order.map((i) => x.strides[i]!) };
  const outShape = keepAxes.map((i) => x.shape[i]!);
  const out = empty(backend, outShape, op === 'argmax' || op === 'argmin' ? 'i32' : x.dtype);
  backend.reduce(op, view, axes.length, out.storage.buffer);
  return out;
}

const keptShape = (shape: readonly number[], axes: readonly number[]): number[] =>
  shape.map((d, i) => (axes.includes(i) ? 1 : d));

const finish = (y: Tensor, shape: readonly number[], axes: readonly number[], keepDims: boolean): Tensor => {
  if (!keepDims) return y;
  const r = reshape(y, keptShape(shape, axes));
  y.dispose();
  return r;
};

/** Sum over `axes` (all by default). */
export function sum(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const ax = normAxes('sum', axes, x.rank);
  const y = reduceRaw('sum', x, ax);
  record('sum', [x], [y], [], ([g]) => [expand(reshape(g!, keptShape(x.shape, ax)), x.shape)]);
  return finish(y, x.shape, ax, keepDims);
}

/** Mean over `axes` (all by default). */
export function mean(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const ax = normAxes('mean', axes, x.rank);
  const count = ax.reduce((n, a) => n * x.shape[a]!, 1);
  const s = sum(x, ax, keepDims);
  const m = mul(s, 1 / count);
  s.dispose();
  return m;
}

const extremum =
  (op: 'max' | 'min') =>
  (x: Tensor, axes?: number | readonly number[], keepDims = false) => {
    const ax = normAxes(op, axes, x.rank);
    if (ax.some((a) => x.shape[a] === 0)) throw new TensorError(op, 'cannot reduce an empty axis');
    const y = reduceRaw(op, x, ax);
    // The gradient is shared evenly among tied extrema (as in PyTorch's amax).
    record(op, [x], [y], [x, y], ([g], [sx, sy]) => {
      const kept = keptShape(x.shape, ax);
      const mask = eq(sx!, reshape(sy!, kept));
      const count = sum(mask, ax, true);
      return [mul(expand(reshape(g!, kept), x.shape), div(mask, count))];
    });
    return finish(y, x.shape, ax, keepDims);
  };
export const max = extremum('max');
export const min = extremum('min');

const argReduce =
  (op: 'argmax' | 'argmin') =>
  (x: Tensor, axis = -1, keepDims = false) => {
    const a = normAxis(op, axis, x.rank);
    if (x.shape[a] === 0) throw new TensorError(op, 'cannot reduce an empty axis');
    return finish(reduceRaw(op, x, [a]), x.shape, [a], keepDims);
  };
/** Index (i32) of the largest value along `axis` (first occurrence). */
export const argmax = argReduce('argmax');
export const argmin = argReduce('argmin');

/** log(sum(exp(x))) over `axes`, computed stably. */
export function logsumexp(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const ax = normAxes('logsumexp', axes, x.rank);
  const m = reduceRaw('max', x, ax);
  const mk = reshape(m, keptShape(x.shape, ax));
  const xd = x.detach();
  const shifted = sub(xd, mk);
  const e = exp(shifted);
  const s = reduceRaw('sum', e, ax);
  const l = log(s);
  const y = l.add(m);
  for (const t of [xd, mk, shifted, e, s, l, m]) t.dispose();
  record('logsumexp', [x], [y], [x, y], ([g], [sx, sy]) => {
    const kept = keptShape(x.shape, ax);
    return [mul(expand(reshape(g!, kept), x.shape), exp(sub(sx!, reshape(sy!, kept))))];
  });
  return finish(y, x.shape, ax, keepDims);
}

/** Sums a broadcast gradient back down to `shape`. */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  const s = axes.length ? sum(g, axes, true) : g;
  const r = reshape(s, shape);
  if (s !== g) s.dispose();
  return r;
}
