import { Uniforms } from '../common/uniforms.js';

/**
 * The partial-sum pass (common/sum-partials.wgsl.ts: `Σ_p part[p, n]` over
 * f32 partials `[P, N]`, in the order p = 0..P-1, so bitwise reproducible)
 * writing into column ranges of a packed tensor: item n = row·cols + col goes
 * to `out[row * stride + offset + col]`. Why: dz lands straight in the packed
 * gradient of the matmul that produced z, with no copy after.
 */
export const sumPartialsStridedUniforms = new Uniforms([
  ['N', 'u32'],
  ['P', 'u32'],
  ['gridX', 'u32'],
  ['cols', 'u32'],
  ['stride', 'u32'],
  ['offset', 'u32'],
]);

export const SUM_PARTIALS_STRIDED_WORKGROUP = 128;

export const sumPartialsStridedKey = (dtype: 'f32' | 'f16'): string =>
  `dynamicConvLowRank.sumPartialsStrided|${dtype}|wg=${SUM_PARTIALS_STRIDED_WORKGROUP}`;

export const sumPartialsStridedWgsl = (
  dtype: 'f32' | 'f16',
): string => `${dtype === 'f16' ? 'enable f16;\n' : ''}${sumPartialsStridedUniforms.wgsl}
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<${dtype}>;

@compute @workgroup_size(${SUM_PARTIALS_STRIDED_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n = (wid.x + wid.y * u.gridX) * ${SUM_PARTIALS_STRIDED_WORKGROUP}u + lid;
  if (n >= u.N) { return; }
  var acc = 0.0;
  for (var p = 0u; p < u.P; p++) { acc += part[p * u.N + n]; }
  out[(n / u.cols) * u.stride + u.offset + n % u.cols] = ${dtype}(acc);
}`;
