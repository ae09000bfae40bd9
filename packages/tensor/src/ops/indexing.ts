import { record } from '../autograd.js';
import type { CopyRun } from '../backend.js';
import { fmtShape, TensorError } from '../errors.js';
import { isContiguous, normAxis, numel } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { arange } from './creation.js';
import { add, mul } from './elementwise.js';
import { assertDType, assertSameDType, backendOf, empty } from './util.js';
import { contiguous, narrow, permute, reshape, unsqueeze } from './views.js';

const around = (shape: readonly number[], axis: number) => ({
  outer: numel(shape.slice(0, axis)),
  size: shape[axis]!,
  inner: numel(shape.slice(axis + 1)),
});

/** Entries of `x` along `axis` at the i32 positions `index [count]`. */
export function indexSelect(x: Tensor, axis: number, index: Tensor): Tensor {
  const backend = backendOf('indexSelect', x, index);
  assertDType('indexSelect', 'index', index, 'i32');
  if (index.rank !== 1)
    throw new TensorError('indexSelect', `index must be 1-D, got ${fmtShape(index.shape)}`);
  const a = normAxis('indexSelect', axis, x.rank);
  const { outer, size, inner } = around(x.shape, a);
  const count = index.shape[0]!;
  const xc = contiguous(x.detach());
  const ic = contiguous(index);
  const shape = [...x.shape];
  shape[a] = count;
  const out = empty(backend, shape, x.dtype);
  backend.gather({
    x: xc.storage.buffer,
    idx: ic.storage.buffer,
    outer,
    size,
    inner,
    count,
    out: out.storage.buffer,
  });
  xc.dispose();
  record('indexSelect', [x], [out], [ic], ([g], [si]) => {
    const gc = contiguous(g!);
    const dx = empty(backend, x.shape, x.dtype);
    backend.scatterAdd({
      src: gc.storage.buffer,
      idx: si!.storage.buffer,
      outer,
      count,
      inner,
      size,
      out: dx.storage.buffer,
    });
    return [dx];
  });
  ic.dispose();
  return out;
}

/** `x` plus `src` summed into the positions `index [count]` along `axis` (duplicates accumulate). */
export function scatterAdd(x: Tensor, axis: number, index: Tensor, src: Tensor): Tensor {
  const backend = backendOf('scatterAdd', x, index, src);
  assertDType('scatterAdd', 'index', index, 'i32');
  assertSameDType('scatterAdd', x, src);
  const a = normAxis('scatterAdd', axis, x.rank);
  const count = index.shape[0]!;
  const expected = [...x.shape];
  expected[a] = count;
  if (index.rank !== 1 || src.rank !== x.rank || src.shape.some((d, i) => d !== expected[i]))
    throw new TensorError(
      'scatterAdd',
      `src ${fmtShape(src.shape)} must be ${fmtShape(expected)} for x ${fmtShape(x.shape)} and index ${fmtShape(index.shape)}`,
    );
  const { outer, size, inner } = around(x.shape, a);
  const sc = contiguous(src.detach());
  const ic = contiguous(index);
  const scattered = empty(backend, x.shape, x.dtype);
  backend.scatterAdd({
    src: sc.storage.buffer,
    idx: ic.storage.buffer,
    outer,
    count,
    inner,
    size,
    out: scattered.storage.buffer,
  });
  sc.dispose();
  const out = add(x.detach(), scattered);
  scattered.dispose();
  record('scatterAdd', [x, src], [out], [ic], ([g], [si]) => [g!, indexSelect(g!, a, si!)]);
  ic.dispose();
  return out;
}

/**
 * Joins tensors along an existing axis. Where the dims before `axis` are all
 * 1 (axis 0, say), every input is one contiguous run of the output: the
 * inputs whose elements are consecutive in their buffer are copied by one
 * `copyRuns` call (WebGPU: one dispatch per 15 inputs), any other by a
 * strided copy of its own. The gradient of each input is a view (`narrow`).
 */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new TensorError('concat', 'needs at least one tensor');
  const backend = backendOf('concat', ...tensors);
  const dtype = assertSameDType('concat', ...tensors);
  const first = tensors[0]!;
  const a = normAxis('concat', axis, first.rank);
  for (const t of tensors)
    if (t.rank !== first.rank || t.shape.some((d, i) => i !== a && d !== first.shape[i]))
      throw new TensorError(
        'concat',
        `shapes ${tensors.map((x) => fmtShape(x.shape)).join(', ')} differ off axis ${a}`,
      );
  const shape = [...first.shape];
  shape[a] = tensors.reduce((n, t) => n + t.shape[a]!, 0);
  const out = empty(backend, shape, dtype);
  const ov = out.view();
  const runsOfOut = first.shape.slice(0, a).every((d) => d === 1);
  const runs: CopyRun[] = [];
  let start = 0;
  const starts: number[] = [];
  for (const t of tensors) {
    starts.push(start);
    const offset = start * out.strides[a]!;
    start += t.shape[a]!;
    if (t.size === 0) continue;
    if (runsOfOut && isContiguous(t.shape, t.strides))
      runs.push({ buffer: t.storage.buffer, offset: t.offset, sharedOffset: offset, length: t.size });
    else backend.copy(t.view(), { ...ov, shape: t.shape, offset });
  }
  if (runs.length > 0) backend.copyRuns({ direction: 'gather', shared: out.storage.buffer, runs });
  record('concat', tensors, [out], [], ([g]) =>
    tensors.map((t, i) => narrow(g!, a, starts[i]!, t.shape[a]!)),
  );
  return out;
}

/** Splits along `axis` into pieces of the given sizes (or `n` equal pieces). Views, no copy. */
export function split(x: Tensor, sizes: number | readonly number[], axis = 0): Tensor[] {
  const a = normAxis('split', axis, x.rank);
  const d = x.shape[a]!;
  let parts: number[];
  if (typeof sizes === 'number') {
    if (d % sizes !== 0)
      throw new TensorError('split', `axis ${a} of ${fmtShape(x.shape)} does not divide into ${sizes}`);
    parts = new Array<number>(sizes).fill(d / sizes);
  } else parts = [...sizes];
  if (parts.reduce((s, p) => s + p, 0) !== d)
    throw new TensorError('split', `sizes [${parts.join(', ')}] do not add up to ${d}`);
  let start = 0;
  return parts.map((p) => {
    const t = narrow(x, a, start, p);
    start += p;
    return t;
  });
}

/** Joins tensors along a new axis. */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  const expanded = tensors.map((t) => unsqueeze(t, axis));
  const out = concat(expanded, axis < 0 ? axis : axis);
  for (const t of expanded) t.dispose();
  return out;
}

/** Inclusive cumulative sum along `axis`. */
export function cumsum(x: Tensor, axis = -1, reverse = false): Tensor {
  const backend = backendOf('cumsum', x);
  const a = normAxis('cumsum', axis, x.rank);
  const { outer, size, inner } = around(x.shape, a);
  const xc = contiguous(x.detach());
  const out = empty(backend, x.shape, x.dtype);
  backend.cumsum(xc.storage.buffer, outer, size, inner, reverse, out.storage.buffer);
  xc.dispose();
  record('cumsum', [x], [out], [], ([g]) => [cumsum(g!, a, !reverse)]);
  return out;
}

/** The `k` largest entries along `axis` (sorted descending) and their i32 indices. */
export function topk(x: Tensor, k: number, axis = -1): { values: Tensor; indices: Tensor } {
  const backend = backendOf('topk', x);
  const a = normAxis('topk', axis, x.rank);
  const n = x.shape[a]!;
  if (!Number.isInteger(k) || k < 1 || k > n)
    throw new TensorError('topk', `k=${k} out of range for axis of size ${n}`);
  const order = [...x.shape.keys()].filter((i) => i !== a);
  order.push(a);
  const inverse = new Array<number>(order.length);
  order.forEach((o, i) => {
    inverse[o] = i;
  });
  const p = permute(x.detach(), order);
  const c = contiguous(p);
  const rows = c.size / n;
  const outShape = [...c.shape.slice(0, -1), k];
  const values = empty(backend, outShape, x.dtype);
  const indices = empty(backend, outShape, 'i32');
  backend.topk(c.storage.buffer, rows, n, k, values.storage.buffer, indices.storage.buffer);
  p.dispose();
  c.dispose();
  record('topk', [x], [values], [indices], ([g], [si]) => {
    // Scatter each row's k gradients into a zero row of length n, then undo the permutation.
    const offsets = mul(arange(0, rows, 1, { dtype: 'i32', backend }), n);
    const flatIdx = reshape(add(si!, reshape(offsets, [...outShape.slice(0, -1), 1])), [rows * k]);
    const gc = contiguous(g!);
    const dflat = empty(backend, [rows * n], x.dtype);
    backend.scatterAdd({
      src: gc.storage.buffer,
      idx: flatIdx.storage.buffer,
      outer: 1,
      count: rows * k,
      inner: 1,
      size: rows * n,
      out: dflat.storage.buffer,
    });
    return [permute(reshape(dflat, c.shape), inverse)];
  });
  const pv = permute(values, inverse);
  const pi = permute(indices, inverse);
  values.dispose();
  indices.dispose();
  return { values: pv, indices: pi };
}
