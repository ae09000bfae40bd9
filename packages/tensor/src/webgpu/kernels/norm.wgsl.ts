import type { DType } from '../../dtype.js';
import { enableF16, linearWorkgroupIndex, mainParams } from '../wgsl.js';
import { rowUniforms } from './softmax.wgsl.js';

/**
 * How a norm kernel covers a row of n: `vec` elements per load (vec4 when n % 4 == 0),
 * `wg` threads, each keeping its `k` vectors of the row in registers (vector i of the
 * row belongs to thread i % wg, the same columns for every row).
 */
export interface NormLayout {
  readonly vec: 1 | 4;
  readonly wg: number;
  readonly k: number;
}

/** Fewest threads (64..256) that hold a row in at most 4 vectors each. */
export function normLayout(n: number): NormLayout {
  const vec = n % 4 === 0 ? 4 : 1;
  const nv = Math.max(1, n / vec);
  let wg = 64;
  while (wg < 256 && Math.ceil(nv / wg) > 4) wg *= 2;
  return { vec, wg, k: Math.ceil(nv / wg) };
}

const layoutKey = (l: NormLayout): string => `v${l.vec}k${l.k}wg${l.wg}`;

/** WGSL type of one vector of a dtype. */
const vecOf = (vec: 1 | 4, dtype: string): string => (vec === 4 ? `vec4<${dtype}>` : dtype);

/** Loads vector `index` of a binding as f32 (vec4<f32> or f32). */
const load = (vec: 1 | 4, binding: string, dtype: string, index: string): string =>
  dtype === 'f32' ? `${binding}[${index}]` : `${vecOf(vec, 'f32')}(${binding}[${index}])`;

/** Sum of a vector's lanes in a fixed order. */
const lanes = (vec: 1 | 4, v: string): string => (vec === 4 ? `((${v}.x + ${v}.y) + (${v}.z + ${v}.w))` : v);

/** Threads that add the first level of {@link rowSumWgsl}'s two. */
const ROW_SUM_GROUPS = 8;

/**
 * `row_sum2(v, lid, slot)`: the workgroup sum of v, the same bits in every thread.
 * Two barriers instead of a tree's log2(wg): every thread stores its value, 8 threads
 * each add wg/8 of them, then every thread adds the 8 (broadcast reads, a fixed order).
 * Two slots, so consecutive rows alternate and a row's stores cannot overwrite values
 * another thread is still reading.
 */
const rowSumWgsl = (wg: number): string => {
  const G = ROW_SUM_GROUPS;
  return `
var<workgroup> row_red: array<vec2<f32>, ${2 * wg}>;
var<workgroup> row_red2: array<vec2<f32>, ${2 * G}>;
fn row_sum2(v: vec2<f32>, lid: u32, slot: u32) -> vec2<f32> {
  let o = slot * ${wg}u;
  row_red[o + lid] = v;
  workgroupBarrier();
  if (lid < ${G}u) {
    var a = vec2<f32>(0.0);
    for (var i = lid; i < ${wg}u; i += ${G}u) { a += row_red[o + i]; }
    row_red2[slot * ${G}u + lid] = a;
  }
  workgroupBarrier();
  var s = vec2<f32>(0.0);
  for (var i = 0u; i < ${G}u; i++) { s += row_red2[slot * ${G}u + i]; }
  return s;
}`;
};

export interface NormParams extends NormLayout {
  readonly kind: 'rms' | 'layer';
  readonly x: DType;
  readonly out: DType;
  /** Weight/bias dtypes, or null when absent. */
  readonly weight: DType | null;
  readonly bias: DType | null;
  /** Dtype of the residual added to x (the sum is written in x's dtype), or null. */
  readonly residual?: DType | null;
}

export const normKey = (p: NormParams): string =>
  `norm|${p.kind}|${p.x}>${p.out}|w${p.weight ?? '-'}|b${p.bias ?? '-'}|r${p.residual ?? '-'}|${layoutKey(p)}`;

/**
 * RMSNorm: rstd = 1/sqrt(mean(x^2) + eps), out = x rstd w (+ b).
 * LayerNorm: mean, var = mean((x - mean)^2) (two passes), rstd = 1/sqrt(var + eps),
 * out = (x - mean) rstd w + b. One workgroup per row, the row held in registers
 * ({@link normLayout}); stats are f32. With a residual, x + residual is rounded to
 * x's dtype, written to `sum` and normalised (the backward reads the same values).
 * Bindings: x, [residual], [weight], [bias], out, [sum], [mean], rstd.
 */
export function normWgsl(p: NormParams): string {
  const { vec, wg, k } = p;
  const vf = vecOf(vec, 'f32');
  const decls: string[] = [];
  let b = 1;
  const bind = (name: string, dtype: string, write: boolean) =>
    decls.push(
      `@group(0) @binding(${b++}) var<storage, ${write ? 'read_write' : 'read'}> ${name}: array<${vecOf(vec, dtype)}>;`,
    );
  bind('x', p.x, false);
  if (p.residual) bind('residual', p.residual, false);
  if (p.weight) bind('weight', p.weight, false);
  if (p.bias) bind('bias', p.bias, false);
  bind('out', p.out, true);
  if (p.residual) bind('sum', p.x, true);
  if (p.kind === 'layer')
    decls.push(`@group(0) @binding(${b++}) var<storage, read_write> mean_out: array<f32>;`);
  decls.push(`@group(0) @binding(${b++}) var<storage, read_write> rstd_out: array<f32>;`);
  // The residual sum goes through x's dtype, as the stored `sum` does.
  const xi = p.residual
    ? `${vf}(${vecOf(vec, p.x)}(${load(vec, 'x', p.x, 'base + i')} + ${load(vec, 'residual', p.residual, 'base + i')}))`
    : load(vec, 'x', p.x, 'base + i');
  const storeSum = p.residual ? `sum[base + i] = ${vecOf(vec, p.x)}(a);` : '';
  let y = p.kind === 'layer' ? '(xs[j] - mean) * rstd' : 'xs[j] * rstd';
  if (p.weight) y = `${y} * ${load(vec, 'weight', p.weight, 'i')}`;
  if (p.bias) y = `${y} + ${load(vec, 'bias', p.bias, 'i')}`;
  const stats =
    p.kind === 'layer'
      ? `let mean = row_sum2(vec2<f32>(${lanes(vec, 's')}, 0.0), lid, 0u).x / f32(u.n);
  var v = ${vf}(0.0);
  for (var j = 0u; j < ${k}u; j++) {
    if (lid + j * ${wg}u < nv) { let d = xs[j] - mean; v += d * d; }
  }
  let rstd = 1.0 / sqrt(row_sum2(vec2<f32>(${lanes(vec, 'v')}, 0.0), lid, 1u).x / f32(u.n) + u.eps);
  if (lid == 0u) { mean_out[row] = mean; rstd_out[row] = rstd; }`
      : `let rstd = 1.0 / sqrt(row_sum2(vec2<f32>(${lanes(vec, 's')}, 0.0), lid, 0u).x / f32(u.n) + u.eps);
  if (lid == 0u) { rstd_out[row] = rstd; }`;
  return `${enableF16(p.x, p.out, ...[p.weight, p.bias, p.residual].filter((d): d is DType => !!d))}
${rowUniforms.wgsl}
@group(0) @binding(0) var<uniform> u: Params;
${decls.join('\n')}
${rowSumWgsl(wg)}
@compute @workgroup_size(${wg})
fn main(${mainParams}) {
  let row = ${linearWorkgroupIndex};
  if (row >= u.rows) { return; }
  let nv = u.n / ${vec}u;
  let base = row * nv;
  var xs: array<${vf}, ${k}>;
  var s = ${vf}(0.0);
  for (var j = 0u; j < ${k}u; j++) {
    let i = lid + j * ${wg}u;
    var a = ${vf}(0.0);
    if (i < nv) { a = ${xi}; ${storeSum} }
    xs[j] = a;
    s += ${p.kind === 'layer' ? 'a' : 'a * a'};
  }
  ${stats}
  for (var j = 0u; j < ${k}u; j++) {
    let i = lid + j * ${wg}u;
    if (i < nv) { out[base + i] = ${vecOf(vec, p.out)}(${y}); }
  }
}`;
}

export interface NormBackwardParams extends NormLayout {
  readonly kind: 'rms' | 'layer';
  readonly x: DType;
  readonly dy: DType;
  readonly dx: DType;
  readonly weight: DType | null;
  /** Dtype of a gradient added to dx (fused residual), or null. */
  readonly dresidual?: DType | null;
  /**
   * Parameter-gradient partials to write, or null: `w` Σ dy·xhat, `b` Σ dy,
   * per block of `block` rows (`[blocks, n]` f32, summed by {@link normColumnSumWgsl}).
   */
  readonly partials?: 'w' | 'b' | 'wb' | null;
  /** Rows per workgroup (1 without partials). */
  readonly block?: number;
}

export const normBackwardKey = (p: NormBackwardParams): string =>
  `normbwd|${p.kind}|${p.x},${p.dy}>${p.dx}|w${p.weight ?? '-'}|r${p.dresidual ?? '-'}|p${p.partials ?? '-'}x${p.block ?? 1}|${layoutKey(p)}`;

/**
 * dx with g = dy w and xhat the normalised input:
 * RMS: dx = rstd (g - xhat mean(g xhat)); Layer: dx = rstd (g - mean(g) - xhat mean(g xhat)),
 * plus `dresidual` when given. A workgroup per block of `block` rows (1 without partials),
 * taking them one after another: each thread loads its vectors of the row into registers
 * (the weight once per block), one workgroup sum gives the row's means, then it writes dx
 * and adds dy·xhat (dy) to its columns' partials, written once per block. A fixed order
 * throughout, so the result is deterministic.
 * Bindings: x, [weight], [mean], rstd, dy, [dresidual], dx, [partial_w], [partial_b].
 */
export function normBackwardWgsl(p: NormBackwardParams): string {
  const { vec, wg, k } = p;
  const vf = vecOf(vec, 'f32');
  const decls: string[] = [];
  let b = 1;
  const bind = (name: string, dtype: string, write: boolean) =>
    decls.push(
      `@group(0) @binding(${b++}) var<storage, ${write ? 'read_write' : 'read'}> ${name}: array<${vecOf(vec, dtype)}>;`,
    );
  bind('x', p.x, false);
  if (p.weight) bind('weight', p.weight, false);
  if (p.kind === 'layer') decls.push(`@group(0) @binding(${b++}) var<storage, read> mean_in: array<f32>;`);
  decls.push(`@group(0) @binding(${b++}) var<storage, read> rstd_in: array<f32>;`);
  bind('dy', p.dy, false);
  if (p.dresidual) bind('dresidual', p.dresidual, false);
  bind('dx', p.dx, true);
  const pw = p.partials?.includes('w') ?? false;
  const pb = p.partials?.includes('b') ?? false;
  if (pw) bind('partial_w', 'f32', true);
  if (pb) bind('partial_b', 'f32', true);
  const R = p.partials ? (p.block ?? 1) : 1;
  const layer = p.kind === 'layer';
  return `${enableF16(p.x, p.dy, p.dx, ...[p.weight, p.dresidual].filter((d): d is DType => !!d))}
${rowUniforms.wgsl}
@group(0) @binding(0) var<uniform> u: Params;
${decls.join('\n')}
${rowSumWgsl(wg)}
@compute @workgroup_size(${wg})
fn main(${mainParams}) {
  let blk = ${linearWorkgroupIndex};
  let first = blk * ${R}u;
  if (first >= u.rows) { return; }
  let count = min(${R}u, u.rows - first);
  let nv = u.n / ${vec}u;
  var ws: array<${vf}, ${k}>;
  var pw: array<${vf}, ${k}>;
  var pb: array<${vf}, ${k}>;
  var xh: array<${vf}, ${k}>;
  var gs: array<${vf}, ${k}>;
  for (var j = 0u; j < ${k}u; j++) {
    let i = lid + j * ${wg}u;
    ws[j] = ${vf}(${p.weight ? '0.0' : '1.0'});
    ${p.weight ? `if (i < nv) { ws[j] = ${load(vec, 'weight', p.weight, 'i')}; }` : ''}
    pw[j] = ${vf}(0.0);
    pb[j] = ${vf}(0.0);
  }
  for (var r = 0u; r < count; r++) {
    let row = first + r;
    let base = row * nv;
    let rstd = rstd_in[row];
    ${layer ? 'let mean = mean_in[row];' : ''}
    var sg = ${vf}(0.0);
    var sgx = ${vf}(0.0);
    for (var j = 0u; j < ${k}u; j++) {
      let i = lid + j * ${wg}u;
      xh[j] = ${vf}(0.0);
      gs[j] = ${vf}(0.0);
      if (i < nv) {
        let d = ${load(vec, 'dy', p.dy, 'base + i')};
        let h = ${layer ? `(${load(vec, 'x', p.x, 'base + i')} - mean) * rstd` : `${load(vec, 'x', p.x, 'base + i')} * rstd`};
        let g = d * ws[j];
        xh[j] = h;
        gs[j] = g;
        sg += g;
        sgx += g * h;
        ${pw ? 'pw[j] += d * h;' : ''}
        ${pb ? 'pb[j] += d;' : ''}
      }
    }
    let sums = row_sum2(vec2<f32>(${lanes(vec, 'sg')}, ${lanes(vec, 'sgx')}), lid, r % 2u) / f32(u.n);
    for (var j = 0u; j < ${k}u; j++) {
      let i = lid + j * ${wg}u;
      if (i < nv) {
        dx[base + i] = ${vecOf(vec, p.dx)}(rstd * (gs[j] - ${layer ? 'sums.x - ' : ''}xh[j] * sums.y)${
          p.dresidual ? ` + ${load(vec, 'dresidual', p.dresidual, 'base + i')}` : ''
        });
      }
    }
  }
  for (var j = 0u; j < ${k}u; j++) {
    let i = lid + j * ${wg}u;
    if (i < nv) {
      ${pw ? 'partial_w[blk * nv + i] = pw[j];' : ''}
      ${pb ? 'partial_b[blk * nv + i] = pb[j];' : ''}
    }
  }
}`;
}

/**
 * Rows per workgroup of the backward with parameter gradients: up to 4 (fewer partial
 * rows to sum) while keeping ~2048+ workgroups in flight for large inputs.
 */
export const normBackwardBlock = (rows: number): number => Math.min(4, Math.max(1, Math.floor(rows / 2048)));

/** Columns per workgroup, lanes per column and rows per chunk of {@link normColumnSumWgsl}. */
export const COLUMN_SUM_COLS = 64;
const COLUMN_SUM_LANES = 4;
export const COLUMN_SUM_CHUNK = 64;

export const normColumnSumKey = (out: DType): string => `normcolsum|${out}|c${COLUMN_SUM_CHUNK}`;

/**
 * out[c, j] = Σ partials[r, j] over the rows r of chunk c (64 rows) of `[rows, n]` f32
 * partials: a workgroup per (64 columns, chunk), 4 lanes per column striding down the
 * chunk, the lane sums added in a fixed order (deterministic). Repeated until one row
 * is left, so large sums spread over many workgroups. With rows = 0 it writes zeros.
 * Bindings: partials, out.
 */
export function normColumnSumWgsl(out: DType): string {
  const C = COLUMN_SUM_COLS;
  const L = COLUMN_SUM_LANES;
  return `${enableF16(out)}
${rowUniforms.wgsl}
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<${out}>;
var<workgroup> lane_sums: array<f32, ${C * L}>;
@compute @workgroup_size(${C * L})
fn main(${mainParams}) {
  let groups = (u.n + ${C - 1}u) / ${C}u;
  let w = ${linearWorkgroupIndex};
  let chunk = w / groups;
  let r0 = chunk * ${COLUMN_SUM_CHUNK}u;
  if (r0 >= max(u.rows, 1u)) { return; }
  let r1 = min(r0 + ${COLUMN_SUM_CHUNK}u, u.rows);
  let col = (w % groups) * ${C}u + lid % ${C}u;
  let lane = lid / ${C}u;
  var acc = 0.0;
  if (col < u.n) {
    for (var r = r0 + lane; r < r1; r += ${L}u) { acc += partials[r * u.n + col]; }
  }
  lane_sums[lid] = acc;
  workgroupBarrier();
  if (lane == 0u && col < u.n) {
    var s = 0.0;
    for (var l = 0u; l < ${L}u; l++) { s += lane_sums[l * ${C}u + lid]; }
    out[chunk * u.n + col] = ${out}(s);
  }
}`;
}
