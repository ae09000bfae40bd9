import type { BackendBuffer, BinaryOp, UnaryOp, View } from '../backend.js';
import { roundF16 } from '../dtype.js';
import { cpuData, finishF16, viewOffsets } from './buffer.js';
import { geluExact, geluTanh, sigmoid, softplus } from './math.js';

type Unary = (x: number, a: number, b: number) => number;

/** Reference definitions of the unary ops (the WGSL kernels implement the same formulas in f32). */
export const UNARY: Record<UnaryOp, Unary> = {
  copy: (x) => x,
  neg: (x) => -x,
  abs: Math.abs,
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : 0),
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  square: (x) => x * x,
  reciprocal: (x) => 1 / x,
  sin: Math.sin,
  cos: Math.cos,
  tanh: Math.tanh,
  sigmoid,
  silu: (x) => x * sigmoid(x),
  gelu: geluExact,
  gelu_tanh: geluTanh,
  softplus,
  relu: (x) => Math.max(x, 0),
  floor: Math.floor,
  affine: (x, a, b) => a * x + b,
  pow_scalar: (x, a) => x ** a,
  rpow_scalar: (x, a) => a ** x,
  clamp: (x, a, b) => Math.min(Math.max(x, a), b),
  max_scalar: (x, a) => Math.max(x, a),
  min_scalar: (x, a) => Math.min(x, a),
  gt_scalar: (x, a) => (x > a ? 1 : 0),
  lt_scalar: (x, a) => (x < a ? 1 : 0),
  ge_scalar: (x, a) => (x >= a ? 1 : 0),
  le_scalar: (x, a) => (x <= a ? 1 : 0),
  eq_scalar: (x, a) => (x === a ? 1 : 0),
  rdiv_scalar: (x, a) => a / x,
  isfinite: (x) => (Number.isFinite(x) ? 1 : 0),
};

export const BINARY: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: (a, b) => a ** b,
  maximum: Math.max,
  minimum: Math.min,
  eq: (a, b) => (a === b ? 1 : 0),
  ne: (a, b) => (a !== b ? 1 : 0),
  lt: (a, b) => (a < b ? 1 : 0),
  le: (a, b) => (a <= b ? 1 : 0),
  gt: (a, b) => (a > b ? 1 : 0),
  ge: (a, b) => (a >= b ? 1 : 0),
};

const isInt = (b: BackendBuffer) => b.dtype === 'i32' || b.dtype === 'u32';

export function unary(op: UnaryOp, x: View, out: BackendBuffer, alpha = 0, beta = 0): void {
  const f = UNARY[op];
  const src = cpuData(x.buffer);
  const dst = cpuData(out);
  const offs = viewOffsets(x);
  // Integer division/affine results truncate toward zero, as in WGSL's i32 arithmetic.
  const trunc = isInt(out) && !isInt(x.buffer);
  for (let i = 0; i < offs.length; i++) {
    const v = f(src[offs[i]!]!, alpha, beta);
    dst[i] = trunc ? Math.trunc(v) : v;
  }
  finishF16(out, offs.length);
}

export function binary(op: BinaryOp, a: View, b: View, out: BackendBuffer): void {
  const f = BINARY[op];
  const da = cpuData(a.buffer);
  const db = cpuData(b.buffer);
  const dst = cpuData(out);
  const oa = viewOffsets(a);
  const ob = viewOffsets(b);
  const intDiv = op === 'div' && isInt(out);
  for (let i = 0; i < oa.length; i++) {
    const v = f(da[oa[i]!]!, db[ob[i]!]!);
    dst[i] = intDiv ? Math.trunc(v) : v;
  }
  finishF16(out, oa.length);
}

export function where(cond: View, a: View, b: View, out: BackendBuffer): void {
  const dc = cpuData(cond.buffer);
  const da = cpuData(a.buffer);
  const db = cpuData(b.buffer);
  const dst = cpuData(out);
  const oc = viewOffsets(cond);
  const oa = viewOffsets(a);
  const ob = viewOffsets(b);
  for (let i = 0; i < oc.length; i++) dst[i] = dc[oc[i]!] !== 0 ? da[oa[i]!]! : db[ob[i]!]!;
  finishF16(out, oc.length);
}

export function copy(src: View, dst: View): void {
  const ds = cpuData(src.buffer);
  const dd = cpuData(dst.buffer);
  const os = viewOffsets(src);
  const od = viewOffsets(dst);
  const trunc = isInt(dst.buffer) && !isInt(src.buffer);
  const f16 = dst.dtype === 'f16' && src.dtype !== 'f16';
  for (let i = 0; i < os.length; i++) {
    const v = ds[os[i]!]!;
    dd[od[i]!] = trunc ? Math.trunc(v) : f16 ? roundF16(v) : v;
  }
}
