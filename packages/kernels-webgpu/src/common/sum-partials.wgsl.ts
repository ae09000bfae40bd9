import { Uniforms } from './uniforms.js';

/**
 * Second pass of the two-pass reductions over (batch, time): out[n] =
 * Σ_p part[p, n] for f32 partials `[P, N]`, summed in the order p = 0..P-1,
 * so the result is bitwise reproducible. One thread per n (coalesced rows).
 * The split form writes columns n < split to `out` and the rest to `out2`
 * (two parameters' gradients from one partials buffer, one dispatch).
 */
export const sumPartialsUniforms = new Uniforms([
  ['N', 'u32'],
  ['P', 'u32'],
  ['gridX', 'u32'],
  ['split', 'u32'],
]);

export const SUM_PARTIALS_WORKGROUP = 128;

export const sumPartialsKey = (dtype: 'f32' | 'f16', split = false): string =>
  `kernels.sumPartials|${dtype}|wg=${SUM_PARTIALS_WORKGROUP}${split ? '|split' : ''}`;

export const sumPartialsWgsl = (
  dtype: 'f32' | 'f16',
  split = false,
): string => `${dtype === 'f16' ? 'enable f16;\n' : ''}${sumPartialsUniforms.wgsl}
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<${dtype}>;
${split ? `@group(0) @binding(3) var<storage, read_write> out2: array<${dtype}>;` : ''}

@compute @workgroup_size(${SUM_PARTIALS_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n = (wid.x + wid.y * u.gridX) * ${SUM_PARTIALS_WORKGROUP}u + lid;
  if (n >= u.N) { return; }
  var acc = 0.0;
  for (var p = 0u; p < u.P; p++) { acc += part[p * u.N + n]; }
  ${split ? `if (n < u.split) { out[n] = ${dtype}(acc); } else { out2[n - u.split] = ${dtype}(acc); }` : `out[n] = ${dtype}(acc);`}
}`;
