import type { DType } from '../../dtype.js';
import { UniformStruct } from '../uniforms.js';
import { enableF16, linearWorkgroupIndex, mainParams } from '../wgsl.js';

export const indexUniforms = new UniformStruct([
  { name: 'outer', type: 'u32' },
  { name: 'size', type: 'u32' },
  { name: 'inner', type: 'u32' },
  { name: 'count', type: 'u32' },
  { name: 'total', type: 'u32' },
]);

/** out[o, i, r] = x[o, idx[i], r]; out-of-range indices give 0. One thread per output element. */
export const gatherWgsl = (dtype: DType): string => `${enableF16(dtype)}
${indexUniforms.wgsl}
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> x: array<${dtype}>;
@group(0) @binding(2) var<storage, read> idx: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<${dtype}>;
@compute @workgroup_size(256)
fn main(${mainParams}) {
  let t = ${linearWorkgroupIndex} * 256u + lid;
  if (t >= u.total) { return; }
  let r = t % u.inner;
  let q = t / u.inner;
  let i = q % u.count;
  let o = q / u.count;
  let v = idx[i];
  var value = ${dtype}(0);
  if (v >= 0 && u32(v) < u.size) { value = x[(o * u.size + u32(v)) * u.inner + r]; }
  out[t] = value;
}`;

/**
 * out[o, v, r] = sum over i (ascending) of src[o, i, r] where idx[i] == v.
 * Deterministic, no atomics: every output scans the whole index list, and
 * adds its matches in ascending i (the same order in every mode, so the
 * modes agree to the bit). `thread`: one thread per output element (small
 * inner). `workgroup`: one workgroup per (o, v, chunk of 1024 inner
 * elements); the index list is staged through shared memory in blocks of 256
 * and each thread accumulates 4 inner elements. `rows`: one workgroup per
 * (o, SCATTER_ROWS consecutive v, chunk of 256 inner elements), one thread
 * per inner element holding the rows' sums: the index list is scanned once
 * per SCATTER_ROWS rows instead of once per row (an embedding backward at a
 * 50k vocabulary scans it 50k times otherwise), each block of 256 indices
 * compacted to its matches first (the H100 took 2.3 ms for 8,192 tokens over
 * 50,304 rows when every thread compared all indices); matches are rare
 * there, so the sums live in a private array indexed by row.
 */
export const SCATTER_ROWS = 64;
export const scatterAddWgsl = (dtype: DType, mode: 'thread' | 'workgroup' | 'rows'): string => {
  const ct = dtype === 'f16' ? 'f32' : dtype;
  const load = (e: string): string => (ct === dtype ? e : `${ct}(${e})`);
  const store = (e: string): string => (ct === dtype ? e : `${dtype}(${e})`);
  if (mode === 'thread')
    return `${enableF16(dtype)}
${indexUniforms.wgsl}
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> src: array<${dtype}>;
@group(0) @binding(2) var<storage, read> idx: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<${dtype}>;
@compute @workgroup_size(256)
fn main(${mainParams}) {
  let t = ${linearWorkgroupIndex} * 256u + lid;
  if (t >= u.total) { return; }
  let r = t % u.inner;
  let q = t / u.inner;
  let v = i32(q % u.size);
  let o = q / u.size;
  var acc = ${ct}(0);
  for (var i = 0u; i < u.count; i++) {
    if (idx[i] == v) { acc += ${load('src[(o * u.count + i) * u.inner + r]')}; }
  }
  out[t] = ${store('acc')};
}`;
  if (mode === 'rows')
    return `${enableF16(dtype)}
${indexUniforms.wgsl}
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> src: array<${dtype}>;
@group(0) @binding(2) var<storage, read> idx: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<${dtype}>;
// Per block of 256 indices: which fall in this workgroup's rows, compacted in ascending
// order, so each thread walks the few matches instead of comparing all 256.
var<workgroup> hits: array<u32, 256>;
var<workgroup> matched: array<u32, 256>;
@compute @workgroup_size(256)
fn main(${mainParams}) {
  let w = ${linearWorkgroupIndex};
  let chunks = (u.inner + 255u) / 256u;
  let groups = (u.size + ${SCATTER_ROWS - 1}u) / ${SCATTER_ROWS}u;
  if (w >= u.outer * groups * chunks) { return; }
  let chunk = w % chunks;
  let q = w / chunks;
  let v0 = i32((q % groups) * ${SCATTER_ROWS}u);
  let o = q / groups;
  let r = chunk * 256u + lid;
  let rr = min(r, u.inner - 1u);
  var acc: array<${ct}, ${SCATTER_ROWS}>;
  for (var i0 = 0u; i0 < u.count; i0 += 256u) {
    let rel = select(-1, idx[min(i0 + lid, u.count - 1u)], i0 + lid < u.count) - v0;
    let hit = rel >= 0 && rel < ${SCATTER_ROWS};
    hits[lid] = select(0u, 1u, hit);
    workgroupBarrier();
    // One thread compacts (a parallel prefix sum over the flags computed wrong sums on
    // llvmpipe, not found why; matches are rare: about 256 * SCATTER_ROWS / size).
    if (lid == 0u) {
      var n = 0u;
      for (var j = 0u; j < 256u; j++) {
        if (hits[j] != 0u) {
          matched[n] = j;
          n++;
        }
      }
      hits[0] = n;
    }
    let found = workgroupUniformLoad(&hits[0]);
    for (var m = 0u; m < found; m++) {
      let j = matched[m];
      acc[u32(idx[i0 + j] - v0) & ${SCATTER_ROWS - 1}u] += ${load('src[(o * u.count + i0 + j) * u.inner + rr]')};
    }
    workgroupBarrier();
  }
  if (r < u.inner) {
    for (var k = 0; k < ${SCATTER_ROWS}; k++) {
      let v = u32(v0 + k);
      if (v < u.size) { out[(o * u.size + v) * u.inner + r] = ${store('acc[k]')}; }
    }
  }
}`;
  return `${enableF16(dtype)}
${indexUniforms.wgsl}
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> src: array<${dtype}>;
@group(0) @binding(2) var<storage, read> idx: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<${dtype}>;
var<workgroup> block: array<i32, 256>;
@compute @workgroup_size(256)
fn main(${mainParams}) {
  let w = ${linearWorkgroupIndex};
  let chunks = (u.inner + 1023u) / 1024u;
  if (w >= u.outer * u.size * chunks) { return; }
  let chunk = w % chunks;
  let q = w / chunks;
  let v = i32(q % u.size);
  let o = q / u.size;
  let r0 = chunk * 1024u + lid;
  var acc = vec4<${ct}>(${ct}(0));
  for (var i0 = 0u; i0 < u.count; i0 += 256u) {
    block[lid] = select(-1, idx[min(i0 + lid, u.count - 1u)], i0 + lid < u.count);
    workgroupBarrier();
    let len = min(256u, u.count - i0);
    for (var j = 0u; j < len; j++) {
      if (block[j] == v) {
        let rowBase = (o * u.count + i0 + j) * u.inner;
        for (var c = 0u; c < 4u; c++) {
          let r = r0 + c * 256u;
          if (r < u.inner) { acc[c] += ${load('src[rowBase + r]')}; }
        }
      }
    }
    workgroupBarrier();
  }
  for (var c = 0u; c < 4u; c++) {
    let r = r0 + c * 256u;
    if (r < u.inner) { out[(o * u.size + u32(v)) * u.inner + r] = ${store('acc[c]')}; }
  }
}`;
};
