import type { DType } from '../../dtype.js';
import { UniformStruct } from '../uniforms.js';
import { enableF16, linearWorkgroupIndex, mainParams } from '../wgsl.js';

export const topkUniforms = new UniformStruct([
  { name: 'rows', type: 'u32' },
  { name: 'n', type: 'u32' },
  { name: 'k', type: 'u32' },
]);

/** Rows up to this length are sorted whole in shared memory. */
export const TOPK_SORT_MAX = 2048;

/**
 * The ranking both variants use: (v, i) comes before (w, j) when v is NaN and
 * w is not, or v > w, or v == w and i < j. Index 0xffffffff marks padding,
 * which ranks last.
 */
const rankFn = `
fn before(v: f32, i: u32, w: f32, j: u32) -> bool {
  if (i == 0xffffffffu) { return false; }
  if (j == 0xffffffffu) { return true; }
  let vn = (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
  let wn = (bitcast<u32>(w) & 0x7fffffffu) > 0x7f800000u;
  if (vn != wn) { return vn; }
  if (!vn && v != w) { return v > w; }
  return i < j;
}`;

/**
 * Top-k per row of `[rows, n]`, sorted by the ranking above. `sort`
 * (n <= 2048): bitonic sort of the padded row in shared memory, one
 * workgroup per row. `select` (longer rows): k rounds, each a workgroup
 * arg-best over the elements ranked after the previous pick (O(k n)).
 */
export const topkWgsl = (p: { x: DType; values: DType; mode: 'sort' | 'select' }): string => {
  const load = (e: string): string => (p.x === 'f32' ? e : `f32(${e})`);
  const store = (e: string): string => (p.values === 'f32' ? e : `${p.values}(${e})`);
  const head = `${enableF16(p.x, p.values)}
${topkUniforms.wgsl}
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> x: array<${p.x}>;
@group(0) @binding(2) var<storage, read_write> values: array<${p.values}>;
@group(0) @binding(3) var<storage, read_write> indices: array<i32>;
${rankFn}`;
  if (p.mode === 'sort')
    return `${head}
var<workgroup> sv: array<f32, ${TOPK_SORT_MAX}>;
var<workgroup> si: array<u32, ${TOPK_SORT_MAX}>;
@compute @workgroup_size(256)
fn main(${mainParams}) {
  let row = ${linearWorkgroupIndex};
  if (row >= u.rows) { return; }
  let base = row * u.n;
  var size = 2u;
  while (size < u.n) { size <<= 1u; }
  for (var j = lid; j < size; j += 256u) {
    if (j < u.n) { sv[j] = ${load('x[base + j]')}; si[j] = j; } else { sv[j] = 0.0; si[j] = 0xffffffffu; }
  }
  workgroupBarrier();
  for (var block = 2u; block <= size; block <<= 1u) {
    for (var stride = block >> 1u; stride > 0u; stride >>= 1u) {
      for (var t = lid; t < size / 2u; t += 256u) {
        let a = (t / stride) * stride * 2u + (t % stride);
        let b = a + stride;
        let firstFirst = (a & block) == 0u;
        let av = sv[a]; let ai = si[a]; let bv = sv[b]; let bi = si[b];
        if (before(bv, bi, av, ai) == firstFirst) { sv[a] = bv; si[a] = bi; sv[b] = av; si[b] = ai; }
      }
      workgroupBarrier();
    }
  }
  for (var j = lid; j < u.k; j += 256u) {
    values[row * u.k + j] = ${store('sv[j]')};
    indices[row * u.k + j] = i32(si[j]);
  }
}`;
  return `${head}
var<workgroup> bv: array<f32, 256>;
var<workgroup> bi: array<u32, 256>;
var<workgroup> pick: vec2<u32>;
@compute @workgroup_size(256)
fn main(${mainParams}) {
  let row = ${linearWorkgroupIndex};
  if (row >= u.rows) { return; }
  let base = row * u.n;
  var prevV = 0.0;
  var prevI = 0xffffffffu;
  for (var r = 0u; r < u.k; r++) {
    var bestV = 0.0;
    var bestI = 0xffffffffu;
    for (var j = lid; j < u.n; j += 256u) {
      let v = ${load('x[base + j]')};
      let after = prevI == 0xffffffffu || before(prevV, prevI, v, j);
      if (after && before(v, j, bestV, bestI)) { bestV = v; bestI = j; }
    }
    bv[lid] = bestV;
    bi[lid] = bestI;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
      if (lid < s && before(bv[lid + s], bi[lid + s], bv[lid], bi[lid])) { bv[lid] = bv[lid + s]; bi[lid] = bi[lid + s]; }
      workgroupBarrier();
    }
    // Published through workgroupUniformLoad: a plain read after the barrier can see stale values (llvmpipe).
    if (lid == 0u) { pick = vec2<u32>(bitcast<u32>(bv[0]), bi[0]); }
    let chosen = workgroupUniformLoad(&pick);
    prevV = bitcast<f32>(chosen.x);
    prevI = chosen.y;
    if (lid == 0u) { values[row * u.k + r] = ${store('prevV')}; indices[row * u.k + r] = i32(prevI); }
  }
}`;
};
