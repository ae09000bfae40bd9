import type { DType } from '../../dtype.js';
import { UniformStruct } from '../uniforms.js';
import { enableF16, linearWorkgroupIndex, mainParams } from '../wgsl.js';
import { mathWgsl } from './math.wgsl.js';
import { loadF32, workgroupReduceWgsl } from './row.wgsl.js';

export const rowUniforms = new UniformStruct([
  { name: 'rows', type: 'u32' },
  { name: 'n', type: 'u32' },
  { name: 'ignore', type: 'i32' },
  { name: 'eps', type: 'f32' },
]);

/**
 * (Log-)softmax, one workgroup per row of `[rows, n]`: one pass for the
 * online max/sum-of-exp state per thread, a workgroup combine, one pass to
 * write. Works for any n (threads stride over the row).
 */
export const softmaxWgsl = (p: {
  x: DType;
  out: DType;
  log: boolean;
  wg: number;
}): string => `${enableF16(p.x, p.out)}
${rowUniforms.wgsl}
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> x: array<${p.x}>;
@group(0) @binding(2) var<storage, read_write> out: array<${p.out}>;
${mathWgsl()}
${workgroupReduceWgsl(p.wg)}
@compute @workgroup_size(${p.wg})
fn main(${mainParams}) {
  let row = ${linearWorkgroupIndex};
  if (row >= u.rows) { return; }
  let base = row * u.n;
  var st = vec2<f32>(row_ninf(), 0.0);
  for (var j = lid; j < u.n; j += ${p.wg}u) { st = lse_push(st, ${loadF32('x', p.x, 'base + j')}); }
  st = wg_lse(st, lid);
  ${
    p.log
      ? `let shift = st.x + dc_log(st.y);
  for (var j = lid; j < u.n; j += ${p.wg}u) { out[base + j] = ${p.out}(${loadF32('x', p.x, 'base + j')} - shift); }`
      : `let inv = 1.0 / st.y;
  for (var j = lid; j < u.n; j += ${p.wg}u) { out[base + j] = ${p.out}(exp(${loadF32('x', p.x, 'base + j')} - st.x) * inv); }`
  }
}`;

/** dx = y (dy - sum(dy y)) for softmax; dx = dy - exp(y) sum(dy) for log-softmax. */
export const softmaxBackwardWgsl = (p: {
  y: DType;
  dy: DType;
  dx: DType;
  log: boolean;
  wg: number;
}): string => {
  const y = loadF32('y', p.y, 'base + j');
  const dy = loadF32('dy', p.dy, 'base + j');
  return `${enableF16(p.y, p.dy, p.dx)}
${rowUniforms.wgsl}
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> y: array<${p.y}>;
@group(0) @binding(2) var<storage, read> dy: array<${p.dy}>;
@group(0) @binding(3) var<storage, read_write> dx: array<${p.dx}>;
${workgroupReduceWgsl(p.wg)}
@compute @workgroup_size(${p.wg})
fn main(${mainParams}) {
  let row = ${linearWorkgroupIndex};
  if (row >= u.rows) { return; }
  let base = row * u.n;
  var acc = 0.0;
  for (var j = lid; j < u.n; j += ${p.wg}u) { acc += ${p.log ? dy : `${dy} * ${y}`}; }
  let total = wg_sum(acc, lid);
  for (var j = lid; j < u.n; j += ${p.wg}u) {
    dx[base + j] = ${p.dx}(${p.log ? `${dy} - exp(${y}) * total` : `${y} * (${dy} - total)`});
  }
}`;
};

/**
 * Cross-entropy per row: lse = logsumexp(row), loss = lse - x[target];
 * ignored rows get loss 0, out-of-range targets NaN. lse is always written.
 */
export const crossEntropyWgsl = (p: { x: DType; wg: number }): string => `${enableF16(p.x)}
${rowUniforms.wgsl}
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> x: array<${p.x}>;
@group(0) @binding(2) var<storage, read> targets: array<i32>;
@group(0) @binding(3) var<storage, read_write> losses: array<f32>;
@group(0) @binding(4) var<storage, read_write> lse: array<f32>;
${mathWgsl()}
${workgroupReduceWgsl(p.wg)}
@compute @workgroup_size(${p.wg})
fn main(${mainParams}) {
  let row = ${linearWorkgroupIndex};
  if (row >= u.rows) { return; }
  let base = row * u.n;
  var st = vec2<f32>(row_ninf(), 0.0);
  for (var j = lid; j < u.n; j += ${p.wg}u) { st = lse_push(st, ${loadF32('x', p.x, 'base + j')}); }
  st = wg_lse(st, lid);
  if (lid == 0u) {
    let l = st.x + dc_log(st.y);
    lse[row] = l;
    let t = targets[row];
    var loss = 0.0;
    if (t != u.ignore) {
      if (t < 0 || u32(t) >= u.n) { loss = dc_nan(); } else { loss = l - ${loadF32('x', p.x, 'base + u32(t)')}; }
    }
    losses[row] = loss;
  }
}`;

/** dlogits = g[r] (exp(x - lse[r]) - [j == t]), 0 on ignored rows. */
export const crossEntropyBackwardWgsl = (p: {
  x: DType;
  g: DType;
  dx: DType;
  wg: number;
}): string => `${enableF16(p.x, p.g, p.dx)}
${rowUniforms.wgsl}
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> x: array<${p.x}>;
@group(0) @binding(2) var<storage, read> targets: array<i32>;
@group(0) @binding(3) var<storage, read> lse: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<${p.g}>;
@group(0) @binding(5) var<storage, read_write> dx: array<${p.dx}>;
@compute @workgroup_size(${p.wg})
fn main(${mainParams}) {
  let row = ${linearWorkgroupIndex};
  if (row >= u.rows) { return; }
  let base = row * u.n;
  let t = targets[row];
  let ignored = t == u.ignore;
  let l = lse[row];
  let gr = select(${loadF32('g', p.g, 'row')}, 0.0, ignored);
  for (var j = lid; j < u.n; j += ${p.wg}u) {
    let onehot = select(0.0, 1.0, i32(j) == t);
    dx[base + j] = ${p.dx}(select(gr * (exp(${loadF32('x', p.x, 'base + j')} - l) - onehot), 0.0, ignored));
  }
}`;
