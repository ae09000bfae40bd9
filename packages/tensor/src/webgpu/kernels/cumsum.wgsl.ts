import type { DType } from '../../dtype.js';
import { UniformStruct } from '../uniforms.js';
import { enableF16, linearWorkgroupIndex, mainParams } from '../wgsl.js';

export const cumsumUniforms = new UniformStruct([
  { name: 'outer', type: 'u32' },
  { name: 'n', type: 'u32' },
  { name: 'inner', type: 'u32' },
]);

/**
 * Inclusive prefix sums along the middle axis of `[outer, n, inner]` (f32
 * accumulation for float data). `serial`: one thread per (o, r) walks n.
 * `scan` (inner == 1): one workgroup per row; blocks of 1024 elements, 4 per
 * thread, a Hillis-Steele scan of thread totals in shared memory, and a carry
 * between blocks. `reverse` scans from the end.
 */
export const cumsumWgsl = (p: {
  x: DType;
  out: DType;
  mode: 'serial' | 'scan';
  reverse: boolean;
}): string => {
  const ct = p.x === 'f16' || p.x === 'f32' ? 'f32' : p.x;
  const load = (e: string): string => (ct === p.x ? e : `${ct}(${e})`);
  const store = (e: string): string => (ct === p.out ? e : `${p.out}(${e})`);
  const head = `${enableF16(p.x, p.out)}
${cumsumUniforms.wgsl}
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> x: array<${p.x}>;
@group(0) @binding(2) var<storage, read_write> out: array<${p.out}>;`;
  if (p.mode === 'serial')
    return `${head}
@compute @workgroup_size(256)
fn main(${mainParams}) {
  let t = ${linearWorkgroupIndex} * 256u + lid;
  if (t >= u.outer * u.inner) { return; }
  let r = t % u.inner;
  let o = t / u.inner;
  let base = o * u.n * u.inner + r;
  var acc = ${ct}(0);
  for (var s = 0u; s < u.n; s++) {
    let j = ${p.reverse ? 'u.n - 1u - s' : 's'};
    let at = base + j * u.inner;
    acc += ${load('x[at]')};
    out[at] = ${store('acc')};
  }
}`;
  return `${head}
var<workgroup> sums: array<${ct}, 256>;
@compute @workgroup_size(256)
fn main(${mainParams}) {
  let o = ${linearWorkgroupIndex};
  if (o >= u.outer) { return; }
  let base = o * u.n;
  var carry = ${ct}(0);
  for (var b0 = 0u; b0 < u.n; b0 += 1024u) {
    var v: array<${ct}, 4>;
    var run = ${ct}(0);
    for (var c = 0u; c < 4u; c++) {
      let s = b0 + lid * 4u + c;
      var e = ${ct}(0);
      if (s < u.n) { e = ${load(`x[base + ${p.reverse ? 'u.n - 1u - s' : 's'}]`)}; }
      run += e;
      v[c] = run;
    }
    sums[lid] = run;
    workgroupBarrier();
    for (var d = 1u; d < 256u; d <<= 1u) {
      var add = ${ct}(0);
      if (lid >= d) { add = sums[lid - d]; }
      workgroupBarrier();
      sums[lid] += add;
      workgroupBarrier();
    }
    let before = carry + select(${ct}(0), sums[max(lid, 1u) - 1u], lid > 0u);
    for (var c = 0u; c < 4u; c++) {
      let s = b0 + lid * 4u + c;
      if (s < u.n) { out[base + ${p.reverse ? 'u.n - 1u - s' : 's'}] = ${store('before + v[c]')}; }
    }
    carry += workgroupUniformLoad(&sums[255]);
    workgroupBarrier();
  }
}`;
};
