import { record } from '../autograd.js';
import type { View } from '../backend.js';
import { fmtShape, TensorError } from '../errors.js';
import { broadcastShapes, numel } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { sumTo } from './reduce.js';
import { assertFloat, assertSameDType, backendOf, broadcastView, empty } from './util.js';
import { squeeze, transpose, unsqueeze } from './views.js';

/** Collapses the leading (batch) dims of a view into one strided dim, if the layout allows. */
const collapseBatch = (v: View, batchRank: number): View | null => {
  const bs = v.shape.slice(0, batchRank);
  const st = v.strides.slice(0, batchRank);
  const rest = { shape: v.shape.slice(batchRank), strides: v.strides.slice(batchRank) };
  const dims = bs.map((d, i) => [d, st[i]!] as const).filter(([d]) => d !== 1);
  let stride = 0;
  if (dims.length > 0) {
    stride = dims[dims.length - 1]![1];
    for (let i = dims.length - 2; i >= 0; i--) {
      const [, s] = dims[i]!;
      const [dn, sn] = dims[i + 1]!;
      if (s !== sn * dn) return null;
    }
  }
  return { ...v, shape: [numel(bs), ...rest.shape], strides: [stride, ...rest.strides] };
};

function matmulND(a: Tensor, b: Tensor): Tensor {
  const backend = backendOf('matmul', a, b);
  const dtype = assertSameDType('matmul', a, b);
  const [m, k] = a.shape.slice(-2) as [number, number];
  const [k2, n] = b.shape.slice(-2) as [number, number];
  if (k !== k2)
    throw new TensorError('matmul', `inner dimensions differ: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)}`);
  const batch = broadcastShapes('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2));
  let av = collapseBatch(broadcastView(a, [...batch, m, k]), batch.length);
  let bv = collapseBatch(broadcastView(b, [...batch, k, n]), batch.length);
  const temps: Tensor[] = [];
  const materialize = (t: Tensor, shape: number[]) => {
    const c = empty(backend, shape, dtype);
    backend.copy(broadcastView(t, shape), c.view());
    temps.push(c);
    return collapseBatch(c.view(), batch.length)!;
  };
  av ??= materialize(a, [...batch, m, k]);
  bv ??= materialize(b, [...batch, k, n]);
  const out = empty(backend, [...batch, m, n], dtype);
  backend.matmul(av, bv, out.storage.buffer);
  for (const t of temps) t.dispose();
  record('matmul', [a, b], [out], [a, b], ([g], [sa, sb]) => [
    a.requiresGrad ? sumTo(matmulND(g!, transpose(sb!)), a.shape) : null,
    b.requiresGrad ? sumTo(matmulND(transpose(sa!), g!), b.shape) : null,
  ]);
  return out;
}

/**
 * Matrix product with NumPy semantics: `[..., m, k] @ [..., k, n] -> [..., m, n]`,
 * batch dimensions broadcast; a 1-D operand is a vector (its dim is removed
 * from the result).
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  assertFloat('matmul', a);
  assertFloat('matmul', b);
  if (a.rank === 0 || b.rank === 0) throw new TensorError('matmul', 'operands must have rank >= 1');
  const a2 = a.rank === 1 ? unsqueeze(a, 0) : a;
  const b2 = b.rank === 1 ? unsqueeze(b, -1) : b;
  let y = matmulND(a2, b2);
  const drop: number[] = [];
  if (a.rank === 1) drop.push(y.rank - 2);
  if (b.rank === 1) drop.push(y.rank - 1);
  if (drop.length) {
    const s = squeeze(y, drop);
    y.dispose();
    y = s;
  }
  if (a2 !== a) a2.dispose();
  if (b2 !== b) b2.dispose();
  return y;
}
