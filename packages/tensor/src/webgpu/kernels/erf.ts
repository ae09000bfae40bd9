/**
 * The erf approximation the WebGPU backend uses for exact GELU, shared so
 * the CPU reference can evaluate the same formula.
 *
 * Piecewise polynomials fitted (Chebyshev interpolation in f64) to erf:
 * - |x| < 0.75: erf(x) = x + x * P0(x^2)
 * - 0.75 <= |x| < 2, 2 <= |x| < 3, 3 <= |x| < 4: erf(|x|) = Pk(|x| - ck)
 * - |x| >= 4: erf = 1 (1 - erf(4) < 1.6e-8)
 * Max abs error evaluated in f32 arithmetic (Horner, no FMA): 8.9e-8 on
 * [-5, 5] (in f64: 4.6e-8; the coefficients are f32 values). erf is odd; NaN
 * stays NaN.
 */
export const ERF_SMALL_LIMIT = 0.75;
/** Coefficients of P0 in x^2 (lowest order first); erf(x) = x + x * P0(x^2). */
export const ERF_SMALL: readonly number[] = [
  0.128379225730896, -0.37612637877464294, 0.1128377839922905, -0.02686477266252041, 0.005216789431869984,
  -0.0008356928010471165, 0.00009470461372984573,
];
/** Regions `[upper, center, coefficients in (|x| - center), lowest order first]`. */
export const ERF_REGIONS: readonly (readonly [number, number, readonly number[]])[] = [
  [
    2,
    1.375,
    [
      0.9481700658798218, 0.1703597754240036, -0.2342446893453598, 0.15793772041797638, -0.03050076775252819,
      -0.0306063424795866, 0.022163018584251404, -0.0014150392962619662, -0.00427041482180357,
      0.0015578812453895807, 0.00034783247974701226, -0.0002927052555605769,
    ],
  ],
  [
    3,
    2.5,
    [
      0.9995930194854736, 0.002178284339606762, -0.005445737391710281, 0.008350086398422718,
      -0.008621514774858952, 0.006117443088442087, -0.0028082390781491995, 0.000541381596121937,
      0.0003063659823965281, -0.00024593801936134696,
    ],
  ],
  [
    4,
    3.5,
    [
      0.9999992847442627, 0.000005397295808506897, -0.000018897393601946533, 0.000042409123125253245,
      -0.00006774990470148623, 0.00008048177551245317, -0.00007727948104729876, 0.0000668899156153202,
      -0.000036770150472875684,
    ],
  ],
];

const horner = (c: readonly number[], v: number): number => {
  let r = c[c.length - 1]!;
  for (let i = c.length - 2; i >= 0; i--) r = r * v + c[i]!;
  return r;
};

/** The approximation above evaluated in f64 (within 5e-8 of erf). */
export function erfApprox(x: number): number {
  const a = Math.abs(x);
  if (Number.isNaN(x)) return x;
  if (a < ERF_SMALL_LIMIT) return x + x * horner(ERF_SMALL, x * x);
  let r = 1;
  for (const [upper, center, coef] of ERF_REGIONS)
    if (a < upper) {
      r = horner(coef, a - center);
      break;
    }
  return x < 0 ? -r : r;
}

/** Exact GELU with {@link erfApprox}: 0.5 x (1 + erf(x / sqrt 2)). */
export const geluErf = (x: number): number => 0.5 * x * (1 + erfApprox(x * Math.SQRT1_2));

/** WGSL `fn dc_erf(x: f32) -> f32` implementing the same formula. */
export const erfWgsl = (): string => {
  const lit = (v: number): string => {
    const s = String(Math.fround(v));
    return /[.e]/.test(s) ? s : `${s}.0`;
  };
  const poly = (c: readonly number[], v: string): string => {
    let r = lit(c[c.length - 1]!);
    for (let i = c.length - 2; i >= 0; i--) r = `fma(${r}, ${v}, ${lit(c[i]!)})`;
    return r;
  };
  const regions = ERF_REGIONS.map(
    ([upper, center, coef]) => `if (a < ${lit(upper)}) { r = ${poly(coef, `(a - ${lit(center)})`)}; }`,
  ).join(' else ');
  return `fn dc_erf(x: f32) -> f32 {
  let a = abs(x);
  if (a < ${lit(ERF_SMALL_LIMIT)}) { let s = x * x; return fma(x, ${poly(ERF_SMALL, 's')}, x); }
  var r = 1.0;
  ${regions} else if (dc_isnan(x)) { r = x; }
  return select(r, -r, x < 0.0);
}`;
};
