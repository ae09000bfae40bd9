import type { BinaryOp, UnaryOp } from '../../backend.js';

/**
 * WGSL bodies of the elementwise ops. `x`, `a`, `b` are values in the
 * compute type; `u.alpha`/`u.beta` are the f32 scalar parameters.
 * Float ops run in f32 (f16 data widens on load); integer data runs in its
 * own type where the op is exact on integers, otherwise it goes through f32.
 */
const cmp = (cond: string, t: string): string => `select(${t}(0), ${t}(1), ${cond})`;

export const unaryF32: Record<UnaryOp, (x: string) => string> = {
  copy: (x) => x,
  neg: (x) => `-${x}`,
  abs: (x) => `abs(${x})`,
  sign: (x) => `select(select(select(0.0, -1.0, ${x} < 0.0), 1.0, ${x} > 0.0), ${x}, dc_isnan(${x}))`,
  exp: (x) => `exp(${x})`,
  log: (x) => `dc_log(${x})`,
  sqrt: (x) => `sqrt(${x})`,
  rsqrt: (x) => `(1.0 / sqrt(${x}))`,
  square: (x) => `(${x} * ${x})`,
  reciprocal: (x) => `(1.0 / ${x})`,
  sin: (x) => `dc_sincos(${x}).x`,
  cos: (x) => `dc_sincos(${x}).y`,
  tanh: (x) => `dc_tanh(${x})`,
  sigmoid: (x) => `dc_sigmoid(${x})`,
  silu: (x) => `(${x} * dc_sigmoid(${x}))`,
  gelu: (x) => `dc_gelu(${x})`,
  gelu_tanh: (x) => `dc_gelu_tanh(${x})`,
  softplus: (x) => `dc_softplus(${x})`,
  relu: (x) => `dc_max(${x}, 0.0)`,
  floor: (x) => `floor(${x})`,
  affine: (x) => `fma(u.alpha, ${x}, u.beta)`,
  pow_scalar: (x) => `dc_pow(${x}, u.alpha)`,
  rpow_scalar: (x) => `dc_pow(u.alpha, ${x})`,
  clamp: (x) => `dc_min(dc_max(${x}, u.alpha), u.beta)`,
  max_scalar: (x) => `dc_max(${x}, u.alpha)`,
  min_scalar: (x) => `dc_min(${x}, u.alpha)`,
  gt_scalar: (x) => cmp(`${x} > u.alpha`, 'f32'),
  lt_scalar: (x) => cmp(`${x} < u.alpha`, 'f32'),
  ge_scalar: (x) => cmp(`${x} >= u.alpha`, 'f32'),
  le_scalar: (x) => cmp(`${x} <= u.alpha`, 'f32'),
  eq_scalar: (x) => cmp(`${x} == u.alpha`, 'f32'),
  rdiv_scalar: (x) => `(u.alpha / ${x})`,
  isfinite: (x) => cmp(`dc_isfinite(${x})`, 'f32'),
};

/** Unary ops computed exactly in i32/u32 on integer data (the rest go through f32). */
export const unaryInt: Partial<Record<UnaryOp, (x: string, t: 'i32' | 'u32') => string>> = {
  copy: (x) => x,
  neg: (x, t) => (t === 'u32' ? `(0u - ${x})` : `-${x}`),
  abs: (x, t) => (t === 'u32' ? x : `abs(${x})`),
  sign: (x, t) => (t === 'u32' ? cmp(`${x} > 0u`, t) : `select(select(0, -1, ${x} < 0), 1, ${x} > 0)`),
  square: (x) => `(${x} * ${x})`,
  relu: (x, t) => `max(${x}, ${t}(0))`,
  floor: (x) => x,
  isfinite: (_x, t) => `${t}(1)`,
};

export const binaryF32: Record<BinaryOp, (a: string, b: string) => string> = {
  add: (a, b) => `(${a} + ${b})`,
  sub: (a, b) => `(${a} - ${b})`,
  mul: (a, b) => `(${a} * ${b})`,
  div: (a, b) => `(${a} / ${b})`,
  pow: (a, b) => `dc_pow(${a}, ${b})`,
  maximum: (a, b) => `dc_max(${a}, ${b})`,
  minimum: (a, b) => `dc_min(${a}, ${b})`,
  eq: (a, b) => cmp(`${a} == ${b}`, 'f32'),
  ne: (a, b) => cmp(`${a} != ${b}`, 'f32'),
  lt: (a, b) => cmp(`${a} < ${b}`, 'f32'),
  le: (a, b) => cmp(`${a} <= ${b}`, 'f32'),
  gt: (a, b) => cmp(`${a} > ${b}`, 'f32'),
  ge: (a, b) => cmp(`${a} >= ${b}`, 'f32'),
};

/** Binary ops on integer data; division truncates and x / 0 is 0 (JavaScript's Int32Array store of ±Infinity). */
export const binaryInt: Partial<Record<BinaryOp, (a: string, b: string, t: 'i32' | 'u32') => string>> = {
  add: (a, b) => `(${a} + ${b})`,
  sub: (a, b) => `(${a} - ${b})`,
  mul: (a, b) => `(${a} * ${b})`,
  div: (a, b, t) => `select(${a} / ${b}, ${t}(0), ${b} == ${t}(0))`,
  maximum: (a, b) => `max(${a}, ${b})`,
  minimum: (a, b) => `min(${a}, ${b})`,
  eq: (a, b, t) => cmp(`${a} == ${b}`, t),
  ne: (a, b, t) => cmp(`${a} != ${b}`, t),
  lt: (a, b, t) => cmp(`${a} < ${b}`, t),
  le: (a, b, t) => cmp(`${a} <= ${b}`, t),
  gt: (a, b, t) => cmp(`${a} > ${b}`, t),
  ge: (a, b, t) => cmp(`${a} >= ${b}`, t),
};
