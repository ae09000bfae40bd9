import type { DType } from '../../dtype.js';
import { UniformStruct } from '../uniforms.js';
import { enableF16, linearWorkgroupIndex, mainParams } from '../wgsl.js';
import { mathWgsl } from './math.wgsl.js';

export const FILL_WORKGROUP = 256;

/** fill: `value` is the f32 value (f32/f16 outputs) or the integer bits (i32/u32 outputs). */
export const fillUniforms = new UniformStruct([
  { name: 'n', type: 'u32' },
  { name: 'bits', type: 'u32' },
]);

export const fillWgsl = (dtype: DType): string => {
  const value =
    dtype === 'f32'
      ? 'bitcast<f32>(u.bits)'
      : dtype === 'f16'
        ? 'f16(bitcast<f32>(u.bits))'
        : `bitcast<${dtype}>(u.bits)`;
  return `${enableF16(dtype)}
${fillUniforms.wgsl}
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read_write> out: array<${dtype}>;
@compute @workgroup_size(${FILL_WORKGROUP})
fn main(${mainParams}) {
  let i = ${linearWorkgroupIndex} * ${FILL_WORKGROUP}u + lid;
  if (i < u.n) { out[i] = ${value}; }
}`;
};

/** arange: integer outputs with integral start/step use exact wrapping integer math (`intMath`). */
export const arangeUniforms = new UniformStruct([
  { name: 'n', type: 'u32' },
  { name: 'start', type: 'f32' },
  { name: 'step', type: 'f32' },
  { name: 'istart', type: 'i32' },
  { name: 'istep', type: 'i32' },
]);

export const arangeWgsl = (dtype: DType, intMath: boolean): string => {
  const value = intMath
    ? `${dtype}(u.istart + i32(i) * u.istep)`
    : dtype === 'f32'
      ? 'fma(f32(i), u.step, u.start)'
      : `${dtype}(fma(f32(i), u.step, u.start))`;
  return `${enableF16(dtype)}
${arangeUniforms.wgsl}
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read_write> out: array<${dtype}>;
@compute @workgroup_size(${FILL_WORKGROUP})
fn main(${mainParams}) {
  let i = ${linearWorkgroupIndex} * ${FILL_WORKGROUP}u + lid;
  if (i < u.n) { out[i] = ${value}; }
}`;
};

/** Philox-4x32-10 key, and the 64-bit start counter as two words. */
export const randomUniforms = new UniformStruct([
  { name: 'n', type: 'u32' },
  { name: 'key0', type: 'u32' },
  { name: 'key1', type: 'u32' },
  { name: 'ctrLo', type: 'u32' },
  { name: 'ctrHi', type: 'u32' },
]);

/**
 * WGSL twin of `random/philox.ts`: thread t computes counter offset + t and
 * writes elements 4t..4t+3 (word j to element 4t+j). Normals use Box-Muller
 * on word pairs (0,1) and (2,3): z0 = r cos(2 pi u2) to 4t, z1 = r sin(2 pi u2)
 * to 4t+1, with u1 = ((w0 >> 8) + 1) 2^-24 and u2 = (w1 >> 8) 2^-24.
 */
export const randomWgsl = (dtype: DType, kind: 'uniform' | 'normal' | 'bits'): string => {
  const store = (j: number, expr: string): string =>
    `if (base + ${j}u < u.n) { out[base + ${j}u] = ${dtype === 'f32' || (kind === 'bits' && dtype === 'u32') ? expr : `${dtype}(${expr})`}; }`;
  let values: string;
  if (kind === 'bits') values = [0, 1, 2, 3].map((j) => store(j, `w[${j}]`)).join('\n  ');
  else if (kind === 'uniform')
    values = [0, 1, 2, 3].map((j) => store(j, `f32(w[${j}] >> 8u) * 5.960464477539063e-8`)).join('\n  ');
  else
    values = `let r0 = sqrt(-2.0 * dc_log(f32((w[0] >> 8u) + 1u) * 5.960464477539063e-8));
  let a0 = dc_sincos_2pi(f32(w[1] >> 8u) * 5.960464477539063e-8);
  let r1 = sqrt(-2.0 * dc_log(f32((w[2] >> 8u) + 1u) * 5.960464477539063e-8));
  let a1 = dc_sincos_2pi(f32(w[3] >> 8u) * 5.960464477539063e-8);
  ${store(0, 'r0 * a0.y')}
  ${store(1, 'r0 * a0.x')}
  ${store(2, 'r1 * a1.y')}
  ${store(3, 'r1 * a1.x')}`;
  return `${enableF16(dtype)}
${randomUniforms.wgsl}
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read_write> out: array<${dtype}>;
${kind === 'normal' ? mathWgsl() : ''}
// (hi, lo) of the 64-bit product: WGSL has no mul-hi, so 16-bit halves.
fn mulhilo(a: u32, b: u32) -> vec2<u32> {
  let aLo = a & 0xffffu; let aHi = a >> 16u; let bLo = b & 0xffffu; let bHi = b >> 16u;
  let lolo = aLo * bLo;
  let mid1 = aHi * bLo + (lolo >> 16u);
  let mid2 = aLo * bHi + (mid1 & 0xffffu);
  return vec2<u32>(aHi * bHi + (mid1 >> 16u) + (mid2 >> 16u), a * b);
}
fn philox(ctrLo: u32, ctrHi: u32) -> array<u32, 4> {
  var c0 = ctrLo; var c1 = ctrHi; var c2 = 0u; var c3 = 0u;
  var k0 = u.key0; var k1 = u.key1;
  for (var r = 0; r < 10; r++) {
    let p0 = mulhilo(0xd2511f53u, c0);
    let p1 = mulhilo(0xcd9e8d57u, c2);
    c0 = p1.x ^ c1 ^ k0; c1 = p1.y; c2 = p0.x ^ c3 ^ k1; c3 = p0.y;
    k0 += 0x9e3779b9u; k1 += 0xbb67ae85u;
  }
  return array<u32, 4>(c0, c1, c2, c3);
}
@compute @workgroup_size(${FILL_WORKGROUP})
fn main(${mainParams}) {
  let t = ${linearWorkgroupIndex} * ${FILL_WORKGROUP}u + lid;
  let base = t * 4u;
  if (t >= (u.n + 3u) / 4u) { return; }
  let lo = u.ctrLo + t;
  let w = philox(lo, u.ctrHi + select(0u, 1u, lo < t));
  ${values}
}`;
};
