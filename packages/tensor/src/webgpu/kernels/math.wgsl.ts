import { erfWgsl } from './erf.js';

/**
 * WGSL math library (prefix `dc_`) with accuracy that does not depend on the
 * driver's fast builtins (NVIDIA's log/sin/cos are approximations with large
 * relative or absolute error near 1 and for large arguments):
 *
 * - `dc_log`: frexp + 2·atanh series, ~1 ulp on all positive inputs.
 * - `dc_log1p_small(y)`, y in [-0.5, 1]: 2·atanh(y / (2 + y)) series.
 * - `dc_expm1`: Taylor for |x| < 0.5, `exp(x) - 1` otherwise.
 * - `dc_tanh`: -expm1(-2|x|) / (2 + expm1(-2|x|)), sign restored; no overflow.
 * - `dc_sigmoid`: 1/(1+e^-x) or e^x/(1+e^x) by sign; no overflow.
 * - `dc_softplus`: max(x, 0) + log1p(exp(-|x|)).
 * - `dc_erf`: see `erf.ts`; `dc_gelu` = 0.5 x (1 + erf(x / sqrt 2)).
 * - `dc_sincos(x)`: Cody-Waite reduction by pi/2 (Cephes 3-part constant),
 *   Taylor on [-pi/4, pi/4]; accurate for |x| <= 8192, the driver's sin/cos
 *   beyond. `dc_sincos_2pi(u)` for u in [0, 1) reduces exactly by octants.
 * - `dc_pow(x, y)`: JavaScript `x ** y` semantics (negative base with integer
 *   exponent, 0 and infinities), exp(y·log|x|) otherwise.
 * - `dc_max`/`dc_min`: NaN-propagating like `Math.max`/`Math.min`.
 * NaN tests use bit patterns, which fast-math compilers cannot fold away.
 */
export const mathWgsl = (): string => `
fn dc_isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn dc_isfinite(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }
// NaN and infinity from private variables: WGSL constant evaluation rejects non-finite values.
var<private> dc_nan_bits: u32 = 0x7fc00000u;
var<private> dc_inf_bits: u32 = 0x7f800000u;
fn dc_nan() -> f32 { return bitcast<f32>(dc_nan_bits); }
fn dc_inf() -> f32 { return bitcast<f32>(dc_inf_bits); }
fn dc_max(a: f32, b: f32) -> f32 { return select(max(a, b), dc_nan(), dc_isnan(a) || dc_isnan(b)); }
fn dc_min(a: f32, b: f32) -> f32 { return select(min(a, b), dc_nan(), dc_isnan(a) || dc_isnan(b)); }

fn dc_log1p_small(y: f32) -> f32 {
  let s = y / (2.0 + y);
  let s2 = s * s;
  var p = 0.06666666666666667;
  p = fma(p, s2, 0.07692307692307693);
  p = fma(p, s2, 0.09090909090909091);
  p = fma(p, s2, 0.1111111111111111);
  p = fma(p, s2, 0.14285714285714285);
  p = fma(p, s2, 0.2);
  p = fma(p, s2, 0.3333333333333333);
  p = fma(p, s2, 1.0);
  return 2.0 * s * p;
}

fn dc_log(x: f32) -> f32 {
  if (dc_isnan(x) || x < 0.0) { return dc_nan(); }
  if (x == 0.0) { return -dc_inf(); }
  if (x == dc_inf()) { return x; }
  let fe = frexp(x);
  var m = fe.fract;
  var e = f32(fe.exp);
  if (m < 0.70710678) { m = m * 2.0; e = e - 1.0; }
  return fma(e, 0.693145751953125, fma(e, 1.4286067653e-6, dc_log1p_small(m - 1.0)));
}

fn dc_expm1(x: f32) -> f32 {
  if (abs(x) < 0.5) {
    var p = 2.755731922398589e-6;
    p = fma(p, x, 2.48015873015873e-5);
    p = fma(p, x, 1.984126984126984e-4);
    p = fma(p, x, 1.388888888888889e-3);
    p = fma(p, x, 8.333333333333333e-3);
    p = fma(p, x, 4.1666666666666664e-2);
    p = fma(p, x, 0.16666666666666666);
    p = fma(p, x, 0.5);
    return fma(x * x, p, x);
  }
  return exp(x) - 1.0;
}

fn dc_tanh(x: f32) -> f32 {
  let e = dc_expm1(-2.0 * abs(x));
  let t = -e / (2.0 + e);
  return select(t, -t, x < 0.0);
}

fn dc_sigmoid(x: f32) -> f32 {
  let e = exp(-abs(x));
  let s = 1.0 / (1.0 + e);
  return select(e * s, s, x >= 0.0);
}

fn dc_softplus(x: f32) -> f32 {
  return max(x, 0.0) + dc_log1p_small(exp(-abs(x)));
}

${erfWgsl()}

fn dc_gelu(x: f32) -> f32 { return 0.5 * x * (1.0 + dc_erf(x * 0.7071067811865476)); }

fn dc_gelu_tanh(x: f32) -> f32 {
  return 0.5 * x * (1.0 + dc_tanh(0.7978845608028654 * fma(0.044715 * x * x, x, x)));
}

// sin(t) and cos(t) for |t| <= pi/4 (Taylor to t^9 / t^10).
fn dc_sincos_reduced(t: f32) -> vec2<f32> {
  let t2 = t * t;
  var s = fma(t2, -2.7557319223985893e-6, 1.984126984126984e-4);
  s = fma(s, t2, -8.333333333333333e-3);
  s = fma(s, t2, 0.16666666666666666);
  s = t - t * t2 * s;
  var c = fma(t2, -2.755731922398589e-7, 2.48015873015873e-5);
  c = fma(c, t2, -1.388888888888889e-3);
  c = fma(c, t2, 4.1666666666666664e-2);
  c = fma(c, t2, -0.5);
  c = fma(c, t2, 1.0);
  return vec2<f32>(s, c);
}

// (sin, cos) of the quadrant q (0..3) rotation applied to angle with (s, c).
fn dc_quadrant(sc: vec2<f32>, q: u32) -> vec2<f32> {
  switch (q & 3u) {
    case 0u: { return sc; }
    case 1u: { return vec2<f32>(sc.y, -sc.x); }
    case 2u: { return -sc; }
    default: { return vec2<f32>(-sc.y, sc.x); }
  }
}

fn dc_sincos(x: f32) -> vec2<f32> {
  if (!dc_isfinite(x)) { return vec2<f32>(dc_nan(), dc_nan()); }
  if (abs(x) > 8192.0) { return vec2<f32>(sin(x), cos(x)); }
  // Cody-Waite with the Cephes split of pi/2: k * c1 and k * c2 are exact for |k| < 2^13, no FMA needed.
  let k = round(x * 0.6366197723675814);
  let r = ((x - k * 1.5703125) - k * 4.837512969970703125e-4) - k * 7.54978995489188216e-8;
  return dc_quadrant(dc_sincos_reduced(r), u32(i32(k) & 3));
}

// (sin, cos) of 2*pi*u for u in [0, 1): octant reduction is exact for u = k * 2^-24.
fn dc_sincos_2pi(u: f32) -> vec2<f32> {
  let t = u * 8.0;
  let o = floor(t);
  let f = t - o;
  let oi = u32(o);
  let odd = (oi & 1u) == 1u;
  let sc = dc_sincos_reduced(select(f, 1.0 - f, odd) * 0.7853981633974483);
  let within = select(sc, sc.yx, odd);
  return dc_quadrant(within, oi >> 1u);
}

fn dc_pow(x: f32, y: f32) -> f32 {
  if (y == 0.0) { return 1.0; }
  if (dc_isnan(x) || dc_isnan(y)) { return dc_nan(); }
  if (y == 1.0) { return x; }
  if (y == 2.0) { return x * x; }
  if (y == -1.0) { return 1.0 / x; }
  let ax = abs(x);
  let yInt = floor(y) == y;
  if (x < 0.0 && !yInt) { return dc_nan(); }
  if (y == 0.5 && x >= 0.0) { return sqrt(x); }
  var r: f32;
  if (ax == 0.0) { r = select(dc_inf(), 0.0, y > 0.0); }
  else if (ax == dc_inf()) { r = select(0.0, dc_inf(), y > 0.0); }
  else { r = exp(y * dc_log(ax)); }
  let odd = yInt && abs(y) < 16777216.0 && (i32(y) & 1) != 0;
  return select(r, -r, x < 0.0 && odd);
}
`;
