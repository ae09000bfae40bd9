import { Uniforms } from '../common/uniforms.js';

/**
 * Zeros columns `[start, start + width)` of every row of a `[rows, stride]`
 * tensor, one thread per zeroed element or vec4 (consecutive threads, consecutive
 * columns). Why: the packed low-rank op's gradient has columns no stream
 * covers (the model pads the packed width to a multiple of 256); zeroing
 * only those instead of filling the whole `[B, T, P]` gradient first made the
 * op 8-9 % faster at the model's shape on the H100 (B=8, T=1024, P=2560,
 * 208 uncovered columns; bench/lowrank-packed-e2e-shape.ts: 0.593 ms against
 * 0.649 with the full fill, which alone took 0.076 ms; this kernel ~0.011).
 */
export const zeroColumnsUniforms = new Uniforms([
  ['count', 'u32'], // rows * width, in elements of the kernel (vec4s with vec4)
  ['width', 'u32'],
  ['start', 'u32'],
  ['stride', 'u32'],
  ['gridX', 'u32'],
]);

export const ZERO_COLUMNS_WORKGROUP = 256;

/** Whether the range can be zeroed with vec4 stores (start, width and row stride multiples of 4). */
export const zeroColumnsVec4 = (start: number, width: number, stride: number): boolean =>
  start % 4 === 0 && width % 4 === 0 && stride % 4 === 0;

export const zeroColumnsKey = (dtype: 'f32' | 'f16', vec4: boolean): string =>
  `dynamicConvLowRank.zeroColumns|${dtype}|v4=${vec4 ? 1 : 0}|wg=${ZERO_COLUMNS_WORKGROUP}`;

/** With `vec4`, the uniforms' count, width, start and stride are in vec4s. */
export const zeroColumnsWgsl = (dtype: 'f32' | 'f16', vec4: boolean): string => {
  const type = vec4 ? `vec4<${dtype}>` : dtype;
  return `${dtype === 'f16' ? 'enable f16;\n' : ''}${zeroColumnsUniforms.wgsl}
@group(0) @binding(1) var<storage, read_write> out: array<${type}>;

@compute @workgroup_size(${ZERO_COLUMNS_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n = (wid.x + wid.y * u.gridX) * ${ZERO_COLUMNS_WORKGROUP}u + lid;
  if (n >= u.count) { return; }
  out[(n / u.width) * u.stride + u.start + n % u.width] = ${type}(0.0);
}`;
};
