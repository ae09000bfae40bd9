import { Uniforms } from './uniforms.js';

/**
 * Second pass of the two-pass reductions over (batch, time): out[n] =
 * Σ_p part[p * stride + offset + n] for f32 partials `[P, stride]` and
 * n < N (a column range of the rows), summed in the order p = 0..P-1, so the
 * result is bitwise reproducible. One thread per n (coalesced rows).
 */
export const sumPartialsUniforms = new Uniforms([
  ['N', 'u32'],
  ['P', 'u32'],
  ['gridX', 'u32'],
  ['stride', 'u32'],
  ['offset', 'u32'],
]);

export const SUM_PARTIALS_WORKGROUP = 128;

export const sumPartialsKey = (dtype: 'f32' | 'f16'): string =>
  `kernels.sumPartials|${dtype}|wg=${SUM_PARTIALS_WORKGROUP}`;

export const sumPartialsWgsl = (
  dtype: 'f32' | 'f16',
): string => `${dtype === 'f16' ? 'enable f16;\n' : ''}${sumPartialsUniforms.wgsl}
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<${dtype}>;

@compute @workgroup_size(${SUM_PARTIALS_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n = (wid.x + wid.y * u.gridX) * ${SUM_PARTIALS_WORKGROUP}u + lid;
  if (n >= u.N) { return; }
  var acc = 0.0;
  for (var p = 0u; p < u.P; p++) { acc += part[p * u.stride + u.offset + n]; }
  out[n] = ${dtype}(acc);
}`;
