import { Uniforms } from '../common/uniforms.js';

/**
 * WGSL of the grouped (per-expert) matmuls of the dropless MoE. Rows of the
 * expert-sorted buffer are grouped into segments by an `offsets [E + 1]` i32
 * array: expert e owns rows `[offsets[e], offsets[e + 1])`.
 *
 * Every kernel computes one 64 × 64 output tile per workgroup of 256 threads
 * (16 × 16, each thread 4 × 4 outputs strided by 16), staging 16-deep slices
 * of both operands through shared memory (f32, whatever the storage dtype;
 * rows padded by one word so the transposing stores hit distinct banks).
 *
 * - `xw`: `c[r] = a[r] · w[e]` (a `[R, L]`, w `[E, L, N]`, c `[R, N]`).
 * - `xwT`: `c[r] = a[r] · w[e]ᵀ` (a `[R, L]`, w `[E, N, L]`, c `[R, N]`): the
 *   input gradient of `xw`.
 * - `wgrad`: `c[e] = a[seg e]ᵀ · b[seg e]` (a `[R, L]`, b `[R, N]`, c
 *   `[E, L, N]`): the weight gradient, summed over the segment's rows in
 *   order (deterministic, no atomics); an empty segment writes zeros.
 *
 * Row tiles of `xw`/`xwT` never straddle two experts: the schedule gives
 * expert e ⌈n_e / 64⌉ tiles, in expert order, and a workgroup finds its
 * (expert, first row) by walking `offsets`. Rows from `offsets[E]` to R (the
 * dropped assignments of a capacity plan) belong to no expert: their
 * ⌈(R − offsets[E]) / 64⌉ tiles come last and write zeros. The grid has
 * ⌈R / 64⌉ + E row slots (an upper bound of the E + 1 segments' tiles); the
 * spare ones exit at once.
 */

export const GROUP_TILE = 64;
const BK = 16;

export type GroupedMatmulMode = 'xw' | 'xwT' | 'wgrad';

export interface GroupedMatmulKernelParams {
  readonly dtype: 'f32' | 'f16';
  readonly mode: GroupedMatmulMode;
}

/** `R` rows of a, `L` the reduced width (wgrad: c's row count), `N` c's columns, `gridX` the folded slot grid. */
export const groupedMatmulUniforms = new Uniforms([
  ['R', 'u32'],
  ['L', 'u32'],
  ['N', 'u32'],
  ['E', 'u32'],
  ['gridX', 'u32'],
]);

export const groupedMatmulKey = (p: GroupedMatmulKernelParams): string =>
  `moe.groupedMatmul|${p.mode}|${p.dtype}|t${GROUP_TILE}|bk${BK}`;

/** The 4 × 4 register tile: acc_i holds row ty + 16i, columns tx + 16j. */
const accumulate = `for (var kk = 0u; kk < ${BK}u; kk++) {
      let b = vec4<f32>(Bs[kk][tx], Bs[kk][tx + 16u], Bs[kk][tx + 32u], Bs[kk][tx + 48u]);
      acc0 += As[kk][ty] * b;
      acc1 += As[kk][ty + 16u] * b;
      acc2 += As[kk][ty + 32u] * b;
      acc3 += As[kk][ty + 48u] * b;
    }`;

const accumulators =
  'var acc0 = vec4<f32>(0.0);\n  var acc1 = vec4<f32>(0.0);\n  var acc2 = vec4<f32>(0.0);\n  var acc3 = vec4<f32>(0.0);';

/** Writes the register tile: acc_i[j] → row `row0 + ty + 16i` (below `rowLimit`), column `col0 + tx + 16j` (below N). */
const storeTile = (dtype: string, address: (row: string, col: string) => string, rowLimit: string) =>
  [0, 1, 2, 3]
    .map(
      (i) => `{
    let row = ty + ${16 * i}u;
    if (row0 + row < ${rowLimit}) {
      for (var j = 0u; j < 4u; j++) {
        let col = col0 + tx + 16u * j;
        if (col < u.N) { c[${address('(row0 + row)', 'col')}] = ${dtype}(acc${i}[j]); }
      }
    }
  }`,
    )
    .join('\n  ');

export function groupedMatmulWgsl(p: GroupedMatmulKernelParams): string {
  const T = p.dtype;
  const head = `${T === 'f16' ? 'enable f16;\n' : ''}${groupedMatmulUniforms.wgsl}
var<workgroup> As: array<array<f32, ${GROUP_TILE + 1}>, ${BK}>;
var<workgroup> Bs: array<array<f32, ${GROUP_TILE + 1}>, ${BK}>;
var<workgroup> seg: vec4<u32>;`;
  const main =
    '@compute @workgroup_size(256)\nfn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32)';
  if (p.mode === 'wgrad')
    return `${head}
@group(0) @binding(1) var<storage, read> a: array<${T}>;
@group(0) @binding(2) var<storage, read> b: array<${T}>;
@group(0) @binding(3) var<storage, read> offsets: array<i32>;
@group(0) @binding(4) var<storage, read_write> c: array<${T}>;

${main} {
  let e = wid.z;
  if (lid == 0u) {
    let s = min(u32(max(offsets[e], 0)), u.R);
    let t = min(u32(max(offsets[e + 1u], 0)), u.R);
    seg = vec4<u32>(s, select(0u, t - s, t > s), 0u, 0u);
  }
  // Published uniformly: the row loop below holds barriers.
  let sg = workgroupUniformLoad(&seg);
  let start = sg.x;
  let len = sg.y;
  let row0 = wid.y * ${GROUP_TILE}u;
  let col0 = wid.x * ${GROUP_TILE}u;
  let tx = lid % 16u;
  let ty = lid / 16u;
  ${accumulators}
  for (var r0 = 0u; r0 < len; r0 += ${BK}u) {
    for (var i = 0u; i < 4u; i++) {
      let v = lid + i * 256u;
      let kk = v / ${GROUP_TILE}u;
      let m = v % ${GROUP_TILE}u;
      var va = 0.0;
      var vb = 0.0;
      if (r0 + kk < len) {
        let r = start + r0 + kk;
        if (row0 + m < u.L) { va = f32(a[r * u.L + row0 + m]); }
        if (col0 + m < u.N) { vb = f32(b[r * u.N + col0 + m]); }
      }
      As[kk][m] = va;
      Bs[kk][m] = vb;
    }
    workgroupBarrier();
    ${accumulate}
    workgroupBarrier();
  }
  ${storeTile(T, (row, col) => `(e * u.L + ${row}) * u.N + ${col}`, 'u.L')}
}`;

  const transposed = p.mode === 'xwT';
  // w[e] is [L, N] (xw, rows along the reduced axis) or [N, L] (xwT); loads walk the contiguous axis.
  const loadB = transposed
    ? `let n = v / ${BK}u;
      let kk = v % ${BK}u;
      var vb = 0.0;
      if (l0 + kk < u.L && col0 + n < u.N) { vb = f32(w[(e * u.N + col0 + n) * u.L + l0 + kk]); }
      Bs[kk][n] = vb;`
    : `let kk = v / ${GROUP_TILE}u;
      let n = v % ${GROUP_TILE}u;
      var vb = 0.0;
      if (l0 + kk < u.L && col0 + n < u.N) { vb = f32(w[(e * u.L + l0 + kk) * u.N + col0 + n]); }
      Bs[kk][n] = vb;`;
  return `${head}
@group(0) @binding(1) var<storage, read> a: array<${T}>;
@group(0) @binding(2) var<storage, read> w: array<${T}>;
@group(0) @binding(3) var<storage, read> offsets: array<i32>;
@group(0) @binding(4) var<storage, read_write> c: array<${T}>;

${main} {
  if (lid == 0u) {
    // Which expert's segment this row slot covers: expert e owns ceil(n_e / 64) consecutive slots.
    let slot = wid.y + wid.z * u.gridX;
    var found = vec4<u32>(0u, 0u, 0u, 0u);
    var tiles = 0u;
    for (var e = 0u; e < u.E; e++) {
      let s = min(u32(max(offsets[e], 0)), u.R);
      let t = min(u32(max(offsets[e + 1u], 0)), u.R);
      let n = select(0u, (t - s + ${GROUP_TILE - 1}u) / ${GROUP_TILE}u, t > s);
      if (slot < tiles + n) {
        found = vec4<u32>(e, s + (slot - tiles) * ${GROUP_TILE}u, t, 1u);
        break;
      }
      tiles += n;
    }
    if (found.w == 0u) {
      // Past the experts' segments: rows no expert owns get zero tiles (flag 2: no reduction).
      let s = min(u32(max(offsets[u.E], 0)), u.R);
      if (slot < tiles + (u.R - s + ${GROUP_TILE - 1}u) / ${GROUP_TILE}u) {
        found = vec4<u32>(0u, s + (slot - tiles) * ${GROUP_TILE}u, u.R, 2u);
      }
    }
    seg = found;
  }
  let sg = workgroupUniformLoad(&seg);
  if (sg.w == 0u) { return; }
  let e = sg.x;
  let row0 = sg.y;
  let rowEnd = sg.z;
  let depth = select(u.L, 0u, sg.w == 2u);
  let col0 = wid.x * ${GROUP_TILE}u;
  let tx = lid % 16u;
  let ty = lid / 16u;
  ${accumulators}
  for (var l0 = 0u; l0 < depth; l0 += ${BK}u) {
    for (var i = 0u; i < 4u; i++) {
      let v = lid + i * 256u;
      {
        let m = v / ${BK}u;
        let kk = v % ${BK}u;
        var va = 0.0;
        if (row0 + m < rowEnd && l0 + kk < u.L) { va = f32(a[(row0 + m) * u.L + l0 + kk]); }
        As[kk][m] = va;
      }
      ${loadB}
    }
    workgroupBarrier();
    ${accumulate}
    workgroupBarrier();
  }
  ${storeTile(T, (row, col) => `${row} * u.N + ${col}`, 'rowEnd')}
}`;
}
