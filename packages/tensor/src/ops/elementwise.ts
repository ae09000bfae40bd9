import { record } from '../autograd.js';
import type { BinaryOp, UnaryOp } from '../backend.js';
import type { DType } from '../dtype.js';
import { TensorError } from '../errors.js';
import { broadcastShapes } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { sumTo } from './reduce.js';
import { assertSameDType, backendOf, broadcastView, empty } from './util.js';

type Operand = Tensor | number;

/** Runs a backend unary kernel; `dtype` is the output dtype (default: the input's). */
export function unaryRaw(
  op: UnaryOp,
  x: Tensor,
  alpha?: number,
  beta?: number,
  dtype: DType = x.dtype,
): Tensor {
  const backend = backendOf(op, x);
  const out = empty(backend, x.shape, dtype);
  backend.unary(op, x.view(), out.storage.buffer, alpha, beta);
  return out;
}

const unaryOp =
  (op: UnaryOp, grad?: (g: Tensor, x: Tensor, y: Tensor) => Tensor, needs: 'x' | 'y' | 'xy' | 'none' = 'x') =>
  (x: Tensor): Tensor => {
    const y = unaryRaw(op, x);
    if (grad) {
      const saved = needs === 'x' ? [x] : needs === 'y' ? [y] : needs === 'xy' ? [x, y] : [];
      record(op, [x], [y], saved, ([g], s) => {
        const sx = needs === 'x' || needs === 'xy' ? s[0]! : x;
        const sy = needs === 'y' ? s[0]! : needs === 'xy' ? s[1]! : y;
        return [grad(g!, sx, sy)];
      });
    }
    return y;
  };

export const neg = unaryOp('neg', (g) => neg(g), 'none');
export const abs = unaryOp('abs', (g, x) => mul(g, sign(x)));
export const sign = unaryOp('sign');
export const exp = unaryOp('exp', (g, _x, y) => mul(g, y), 'y');
export const log = unaryOp('log', (g, x) => div(g, x));
export const sqrt = unaryOp('sqrt', (g, _x, y) => div(mul(g, 0.5), y), 'y');
export const rsqrt = unaryOp('rsqrt', (g, _x, y) => mul(g, mul(pow(y, 3), -0.5)), 'y');
export const square = unaryOp('square', (g, x) => mul(g, mul(x, 2)));
export const reciprocal = unaryOp('reciprocal', (g, _x, y) => neg(mul(g, square(y))), 'y');
export const sin = unaryOp('sin', (g, x) => mul(g, cos(x)));
export const cos = unaryOp('cos', (g, x) => neg(mul(g, sin(x))));
export const tanh = unaryOp('tanh', (g, _x, y) => mul(g, sub(1, square(y))), 'y');
export const sigmoid = unaryOp('sigmoid', (g, _x, y) => mul(g, mul(y, sub(1, y))), 'y');
export const silu = unaryOp('silu', (g, x) => {
  const s = sigmoid(x);
  return mul(g, mul(s, add(mul(x, sub(1, s)), 1)));
});
export const softplus = unaryOp('softplus', (g, x) => mul(g, sigmoid(x)));
export const relu = unaryOp('relu', (g, x) => mul(g, gt(x, 0)));
export const floor = unaryOp('floor');
/** 1 where the element is finite, else 0 (in the input's dtype). */
export const finiteMask = (x: Tensor): Tensor => unaryRaw('isfinite', x);

const geluExact = unaryOp(
  'gelu',
  (g, x, y) => {
    // dy/dx = Phi(x) + x phi(x); Phi(x) = y / x away from 0 (0.5 at 0).
    const small = lt(abs(x), 1e-6);
    const phiCdf = where(small, 0.5, div(y, where(small, 1, x)));
    const pdf = mul(exp(mul(square(x), -0.5)), 0.3989422804014327);
    return mul(g, add(phiCdf, mul(x, pdf)));
  },
  'xy',
);
const geluTanh = unaryOp('gelu_tanh', (g, x) => {
  const c = 0.7978845608028654;
  const t = tanh(mul(add(x, mul(pow(x, 3), 0.044715)), c));
  const dt = mul(sub(1, square(t)), mul(add(mul(square(x), 3 * 0.044715), 1), c));
  return mul(g, add(mul(add(t, 1), 0.5), mul(mul(x, dt), 0.5)));
});
/** GELU: exact (erf) by default, or the tanh approximation. */
export const gelu = (x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor =>
  approximate === 'tanh' ? geluTanh(x) : geluExact(x);

/** Casts to another dtype (gradients flow between float dtypes). */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (dtype === x.dtype) return x.share();
  const y = unaryRaw('copy', x, undefined, undefined, dtype);
  if (dtype === 'f32' || dtype === 'f16') record('cast', [x], [y], [], ([g]) => [cast(g!, x.dtype)]);
  return y;
}

/** y = alpha * x + beta */
const affine = (x: Tensor, alpha: number, beta: number): Tensor => {
  const y = unaryRaw('affine', x, alpha, beta);
  record('affine', [x], [y], [], ([g]) => [alpha === 1 ? g! : unaryRaw('affine', g!, alpha, 0)]);
  return y;
};

const scalarOp = (
  op: UnaryOp,
  x: Tensor,
  alpha: number,
  grad?: (g: Tensor, x: Tensor, y: Tensor) => Tensor,
) => {
  const y = unaryRaw(op, x, alpha);
  if (grad) record(op, [x], [y], [x, y], ([g], [sx, sy]) => [grad(g!, sx!, sy!)]);
  return y;
};

/** Elementwise binary op with broadcasting between two tensors. */
function binaryRaw(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const backend = backendOf(op, a, b);
  const dtype = assertSameDType(op, a, b);
  const shape = broadcastShapes(op, a.shape, b.shape);
  const out = empty(backend, shape, dtype);
  backend.binary(op, broadcastView(a, shape), broadcastView(b, shape), out.storage.buffer);
  return out;
}

const binaryOp =
  (
    op: BinaryOp,
    grad?: (g: Tensor, a: Tensor, b: Tensor, y: Tensor) => [Tensor | null, Tensor | null],
    saveY = false,
  ) =>
  (a: Tensor, b: Tensor): Tensor => {
    const y = binaryRaw(op, a, b);
    if (grad)
      record(op, [a, b], [y], saveY ? [a, b, y] : [a, b], ([g], s) => {
        const [ga, gb] = grad(g!, s[0]!, s[1]!, s[2] ?? y);
        return [ga && sumTo(ga, a.shape), gb && sumTo(gb, b.shape)];
      });
    return y;
  };

const addT = binaryOp('add', (g) => [g, g]);
const subT = binaryOp('sub', (g) => [g, neg(g)]);
const mulT = binaryOp('mul', (g, a, b) => [mul(g, b), mul(g, a)]);
const divT = binaryOp('div', (g, a, b) => [div(g, b), neg(div(mul(g, a), square(b)))]);
const powT = binaryOp(
  'pow',
  (g, a, b, y) => [mul(g, mul(b, pow(a, sub(b, 1)))), mul(g, mul(y, log(a)))],
  true,
);
const maximumT = binaryOp('maximum', (g, a, b) => [mul(g, ge(a, b)), mul(g, lt(a, b))]);
const minimumT = binaryOp('minimum', (g, a, b) => [mul(g, le(a, b)), mul(g, gt(a, b))]);

const scalarLike = (x: Tensor, v: number): Tensor => {
  const t = empty(x.backend, [], x.dtype);
  x.backend.fill(t.storage.buffer, 1, v);
  return t;
};

/** a + b (tensors broadcast; numbers fold into a scalar kernel). */
export function add(a: Operand, b: Operand): Tensor {
  if (typeof a === 'number' && typeof b === 'number') throw new TensorError('add', 'needs a tensor');
  if (typeof b === 'number') return affine(a as Tensor, 1, b);
  if (typeof a === 'number') return affine(b, 1, a);
  return addT(a, b);
}
export function sub(a: Operand, b: Operand): Tensor {
  if (typeof a === 'number' && typeof b === 'number') throw new TensorError('sub', 'needs a tensor');
  if (typeof b === 'number') return affine(a as Tensor, 1, -b);
  if (typeof a === 'number') return affine(b, -1, a);
  return subT(a, b);
}
export function mul(a: Operand, b: Operand): Tensor {
  if (typeof a === 'number' && typeof b === 'number') throw new TensorError('mul', 'needs a tensor');
  if (typeof b === 'number') return affine(a as Tensor, b, 0);
  if (typeof a === 'number') return affine(b, a, 0);
  return mulT(a, b);
}
export function div(a: Operand, b: Operand): Tensor {
  if (typeof a === 'number' && typeof b === 'number') throw new TensorError('div', 'needs a tensor');
  if (typeof b === 'number') return affine(a as Tensor, 1 / b, 0);
  if (typeof a === 'number') return scalarOp('rdiv_scalar', b, a, (g, x) => neg(div(mul(g, a), square(x))));
  return divT(a, b);
}
export function pow(a: Operand, b: Operand): Tensor {
  if (typeof a === 'number' && typeof b === 'number') throw new TensorError('pow', 'needs a tensor');
  if (typeof b === 'number') {
    if (b === 1) return (a as Tensor).share();
    return scalarOp('pow_scalar', a as Tensor, b, (g, x) => mul(g, mul(pow(x, b - 1), b)));
  }
  if (typeof a === 'number') return scalarOp('rpow_scalar', b, a, (g, _x, y) => mul(g, mul(y, Math.log(a))));
  return powT(a, b);
}
export function maximum(a: Operand, b: Operand): Tensor {
  if (typeof b === 'number') return scalarOp('max_scalar', a as Tensor, b, (g, x) => mul(g, gt(x, b)));
  if (typeof a === 'number') return maximum(b, a);
  return maximumT(a, b);
}
export function minimum(a: Operand, b: Operand): Tensor {
  if (typeof b === 'number') return scalarOp('min_scalar', a as Tensor, b, (g, x) => mul(g, lt(x, b)));
  if (typeof a === 'number') return minimum(b, a);
  return minimumT(a, b);
}
/** Clamps into [lo, hi]; the gradient passes where the input is inside. */
export function clamp(x: Tensor, lo: number, hi: number): Tensor {
  const y = unaryRaw('clamp', x, lo, hi);
  record('clamp', [x], [y], [x], ([g], [sx]) => [mul(g!, mul(ge(sx!, lo), le(sx!, hi)))]);
  return y;
}

const compare =
  (op: BinaryOp, scalar: UnaryOp | null, flipped: UnaryOp | null) =>
  (a: Operand, b: Operand): Tensor => {
    if (typeof a !== 'number' && typeof b !== 'number') return binaryRaw(op, a, b);
    if (typeof b === 'number' && scalar) return unaryRaw(scalar, a as Tensor, b);
    if (typeof a === 'number' && flipped) return unaryRaw(flipped, b as Tensor, a);
    const like = (typeof a === 'number' ? b : a) as Tensor;
    const s = scalarLike(like, (typeof a === 'number' ? a : b) as number);
    const out = typeof a === 'number' ? binaryRaw(op, s, like) : binaryRaw(op, like, s);
    s.dispose();
    return out;
  };
/** Comparisons write 1 or 0 in the inputs' dtype (usable directly as masks). */
export const eq = compare('eq', 'eq_scalar', 'eq_scalar');
export const ne = compare('ne', null, null);
export const lt = compare('lt', 'lt_scalar', 'gt_scalar');
export const le = compare('le', 'le_scalar', 'ge_scalar');
export const gt = compare('gt', 'gt_scalar', 'lt_scalar');
export const ge = compare('ge', 'ge_scalar', 'le_scalar');

/** cond != 0 ? a : b, with broadcasting over all three. */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  const ref = typeof a === 'number' ? (typeof b === 'number' ? null : b) : a;
  const dtype: DType = ref?.dtype ?? 'f32';
  const ta = typeof a === 'number' ? scalarFor(cond, a, dtype) : a;
  const tb = typeof b === 'number' ? scalarFor(cond, b, dtype) : b;
  const backend = backendOf('where', cond, ta, tb);
  assertSameDType('where', ta, tb);
  const shape = broadcastShapes('where', cond.shape, ta.shape, tb.shape);
  const out = empty(backend, shape, dtype);
  backend.where(
    broadcastView(cond, shape),
    broadcastView(ta, shape),
    broadcastView(tb, shape),
    out.storage.buffer,
  );
  record('where', [ta, tb], [out], [cond], ([g], [c]) => [
    typeof a === 'number' ? null : sumTo(where(c!, g!, 0), ta.shape),
    typeof b === 'number' ? null : sumTo(where(c!, 0, g!), tb.shape),
  ]);
  if (typeof a === 'number') ta.dispose();
  if (typeof b === 'number') tb.dispose();
  return out;
}

const scalarFor = (like: Tensor, v: number, dtype: DType): Tensor => {
  const t = empty(like.backend, [], dtype);
  like.backend.fill(t.storage.buffer, 1, v);
  return t;
};
