import type { DType } from '../../../../packages/tensor/src/dtype.js';
import { enableF16, linearWorkgroupIndex, mainParams } from '../../../../packages/tensor/src/webgpu/wgsl.js';
import { loadF32, workgroupReduceWgsl } from '../../../../packages/tensor/src/webgpu/kernels/row.wgsl.js';
import { rowUniforms } from '../../../../packages/tensor/src/webgpu/kernels/softmax.wgsl.js';

export interface NormParams {
  readonly kind: 'rms' | 'layer';
  readonly x: DType;
  readonly out: DType;
  /** Weight/bias dtypes, or null when absent. */
  readonly weight: DType | null;
  readonly bias: DType | null;
  /** Dtype of the residual added to x (the sum is written in x's dtype), or null. */
  readonly residual?: DType | null;
  readonly wg: number;
}

export const normKey = (p: NormParams): string =>
  `norm|${p.kind}|${p.x}>${p.out}|w${p.weight ?? '-'}|b${p.bias ?? '-'}|r${p.residual ?? '-'}|wg${p.wg}`;

/**
 * RMSNorm: rstd = 1/sqrt(mean(x^2) + eps), out = x rstd w (+ b).
 * LayerNorm: mean, var = mean((x - mean)^2) (two passes), rstd = 1/sqrt(var + eps),
 * out = (x - mean) rstd w + b. One workgroup per row; stats are f32.
 * With a residual, x + residual is written to `sum` first and normalised from
 * there (so the backward, which reads `sum`, sees the same rounded values).
 * Bindings: x, [residual], [weight], [bias], out, [sum], [mean], rstd.
 */
export function normWgsl(p: NormParams): string {
  const decls: string[] = [];
  let b = 1;
  decls.push(`@group(0) @binding(${b++}) var<storage, read> x: array<${p.x}>;`);
  if (p.residual) decls.push(`@group(0) @binding(${b++}) var<storage, read> residual: array<${p.residual}>;`);
  if (p.weight) decls.push(`@group(0) @binding(${b++}) var<storage, read> weight: array<${p.weight}>;`);
  if (p.bias) decls.push(`@group(0) @binding(${b++}) var<storage, read> bias: array<${p.bias}>;`);
  decls.push(`@group(0) @binding(${b++}) var<storage, read_write> out: array<${p.out}>;`);
  if (p.residual) decls.push(`@group(0) @binding(${b++}) var<storage, read_write> sum: array<${p.x}>;`);
  if (p.kind === 'layer')
    decls.push(`@group(0) @binding(${b++}) var<storage, read_write> mean_out: array<f32>;`);
  decls.push(`@group(0) @binding(${b++}) var<storage, read_write> rstd_out: array<f32>;`);
  // Each thread reads back only the sum elements it wrote itself: no barrier needed.
  const xj = loadF32(p.residual ? 'sum' : 'x', p.x, 'base + j');
  const addResidual = p.residual
    ? `for (var j = lid; j < u.n; j += ${p.wg}u) { sum[base + j] = ${p.x}(${loadF32('x', p.x, 'base + j')} + ${loadF32('residual', p.residual, 'base + j')}); }`
    : '';
  let y = p.kind === 'layer' ? `(${xj} - mean) * rstd` : `${xj} * rstd`;
  if (p.weight) y = `${y} * ${loadF32('weight', p.weight, 'j')}`;
  if (p.bias) y = `${y} + ${loadF32('bias', p.bias, 'j')}`;
  const stats =
    p.kind === 'layer'
      ? `var s = 0.0;
  for (var j = lid; j < u.n; j += ${p.wg}u) { s += ${xj}; }
  let mean = wg_sum(s, lid) / f32(u.n);
  var v = 0.0;
  for (var j = lid; j < u.n; j += ${p.wg}u) { let d = ${xj} - mean; v += d * d; }
  let rstd = 1.0 / sqrt(wg_sum(v, lid) / f32(u.n) + u.eps);
  if (lid == 0u) { mean_out[row] = mean; rstd_out[row] = rstd; }`
      : `var s = 0.0;
  for (var j = lid; j < u.n; j += ${p.wg}u) { let a = ${xj}; s += a * a; }
  let rstd = 1.0 / sqrt(wg_sum(s, lid) / f32(u.n) + u.eps);
  if (lid == 0u) { rstd_out[row] = rstd; }`;
  return `${enableF16(p.x, p.out, ...[p.weight, p.bias, p.residual].filter((d): d is DType => !!d))}
${rowUniforms.wgsl}
@group(0) @binding(0) var<uniform> u: Params;
${decls.join('\n')}
${workgroupReduceWgsl(p.wg)}
@compute @workgroup_size(${p.wg})
fn main(${mainParams}) {
  let row = ${linearWorkgroupIndex};
  if (row >= u.rows) { return; }
  let base = row * u.n;
  ${addResidual}
  ${stats}
  for (var j = lid; j < u.n; j += ${p.wg}u) { out[base + j] = ${p.out}(${y}); }
}`;
}

export interface NormBackwardParams {
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
  readonly block?: number;
  readonly wg: number;
}

export const normBackwardKey = (p: NormBackwardParams): string =>
  `normbwd|${p.kind}|${p.x},${p.dy}>${p.dx}|w${p.weight ?? '-'}|r${p.dresidual ?? '-'}|p${p.partials ?? '-'}x${p.block ?? 0}|wg${p.wg}`;

/**
 * dx with g = dy w and xhat the normalised input:
 * RMS: dx = rstd (g - xhat mean(g xhat)); Layer: dx = rstd (g - mean(g) - xhat mean(g xhat)),
 * plus `dresidual` when given. Without partials one workgroup per row. With partials one
 * workgroup per block of `block` rows: the row sums first (a workgroup reduction per row),
 * then each thread walks its columns down the block, writing dx and summing dy·xhat (dy)
 * into one partial per column; a fixed order, so the result is deterministic.
 * Bindings: x, [weight], [mean], rstd, dy, [dresidual], dx, [partial_w], [partial_b].
 */
export function normBackwardWgsl(p: NormBackwardParams): string {
  const decls: string[] = [];
  let b = 1;
  decls.push(`@group(0) @binding(${b++}) var<storage, read> x: array<${p.x}>;`);
  if (p.weight) decls.push(`@group(0) @binding(${b++}) var<storage, read> weight: array<${p.weight}>;`);
  if (p.kind === 'layer') decls.push(`@group(0) @binding(${b++}) var<storage, read> mean_in: array<f32>;`);
  decls.push(`@group(0) @binding(${b++}) var<storage, read> rstd_in: array<f32>;`);
  decls.push(`@group(0) @binding(${b++}) var<storage, read> dy: array<${p.dy}>;`);
  if (p.dresidual)
    decls.push(`@group(0) @binding(${b++}) var<storage, read> dresidual: array<${p.dresidual}>;`);
  decls.push(`@group(0) @binding(${b++}) var<storage, read_write> dx: array<${p.dx}>;`);
  const pw = p.partials?.includes('w') ?? false;
  const pb = p.partials?.includes('b') ?? false;
  if (pw) decls.push(`@group(0) @binding(${b++}) var<storage, read_write> partial_w: array<f32>;`);
  if (pb) decls.push(`@group(0) @binding(${b++}) var<storage, read_write> partial_b: array<f32>;`);
  const xhat =
    p.kind === 'layer'
      ? `(${loadF32('x', p.x, 'base + j')} - mean) * rstd`
      : `${loadF32('x', p.x, 'base + j')} * rstd`;
  const dyj = loadF32('dy', p.dy, 'base + j');
  const g = p.weight ? `${dyj} * ${loadF32('weight', p.weight, 'j')}` : dyj;
  const dxj = (sums: string) =>
    `${p.dx}(rstd * (${g} - ${p.kind === 'layer' ? `${sums}.x - ` : ''}${xhat} * ${sums}.y)${
      p.dresidual ? ` + ${loadF32('dresidual', p.dresidual, 'base + j')}` : ''
    })`;
  const rowSums = `var acc = vec2<f32>(0.0);
    for (var j = lid; j < u.n; j += ${p.wg}u) { let gj = ${g}; acc += vec2<f32>(gj, gj * ${xhat}); }
    let sums = wg_sum2(acc, lid) / f32(u.n);`;
  const header = `${enableF16(p.x, p.dy, p.dx, ...[p.weight, p.dresidual].filter((d): d is DType => !!d))}
${rowUniforms.wgsl}
@group(0) @binding(0) var<uniform> u: Params;
${decls.join('\n')}
${workgroupReduceWgsl(p.wg)}`;
  const stats = (row: string) =>
    `let rstd = rstd_in[${row}];${p.kind === 'layer' ? ` let mean = mean_in[${row}];` : ''}`;
  if (!p.partials)
    return `${header}
@compute @workgroup_size(${p.wg})
fn main(${mainParams}) {
  let row = ${linearWorkgroupIndex};
  if (row >= u.rows) { return; }
  let base = row * u.n;
  ${stats('row')}
  ${rowSums}
  for (var j = lid; j < u.n; j += ${p.wg}u) { dx[base + j] = ${dxj('sums')}; }
}`;
  const R = p.block ?? 1;
  return `${header}
@compute @workgroup_size(${p.wg})
fn main(${mainParams}) {
  let blk = ${linearWorkgroupIndex};
  let first = blk * ${R}u;
  if (first >= u.rows) { return; }
  let count = min(${R}u, u.rows - first);
  var block_sums: array<vec2<f32>, ${R}>;
  for (var r = 0u; r < count; r++) {
    let base = (first + r) * u.n;
    ${stats('first + r')}
    ${rowSums}
    block_sums[r] = sums;
  }
  for (var j = lid; j < u.n; j += ${p.wg}u) {
    var pw = 0.0;
    var pb = 0.0;
    for (var r = 0u; r < count; r++) {
      let base = (first + r) * u.n;
      ${stats('first + r')}
      let sums = block_sums[r];
      dx[base + j] = ${dxj('sums')};
      ${pw ? `pw += ${dyj} * ${xhat};` : ''}
      ${pb ? `pb += ${dyj};` : ''}
    }
    ${pw ? 'partial_w[blk * u.n + j] = pw;' : ''}
    ${pb ? 'partial_b[blk * u.n + j] = pb;' : ''}
  }
}`;
}

/**
 * Rows per workgroup of the backward with parameter gradients: up to 8 (fewer partial
 * rows to sum) while keeping ~1024+ workgroups in flight for large inputs.
 */
export const normBackwardBlock = (rows: number): number => Math.min(8, Math.max(1, Math.floor(rows / 1024)));

/** Columns per workgroup and lanes per column of {@link normColumnSumWgsl}. */
export const COLUMN_SUM_COLS = 32;
const COLUMN_SUM_LANES = 8;

export const normColumnSumKey = (out: DType): string => `normcolsum|${out}`;

/**
 * out[j] = Σ_r partials[r, j] over `[rows, n]` f32 partials: per workgroup 32
 * columns, 8 lanes each striding down the rows, then the 8 lane sums added
 * in a fixed order (deterministic). Bindings: partials, out.
 */
export function normColumnSumWgsl(out: DType): string {
  const C = COLUMN_SUM_COLS;
  const L = COLUMN_SUM_LANES;
  return `${enableF16(out)}
${rowUniforms.wgsl}
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<${out}>;
var<workgroup> lanes: array<f32, ${C * L}>;
@compute @workgroup_size(${C * L})
fn main(${mainParams}) {
  let col = ${linearWorkgroupIndex} * ${C}u + lid % ${C}u;
  let lane = lid / ${C}u;
  var acc = 0.0;
  if (col < u.n) {
    for (var r = lane; r < u.rows; r += ${L}u) { acc += partials[r * u.n + col]; }
  }
  lanes[lid] = acc;
  workgroupBarrier();
  if (lane == 0u && col < u.n) {
    var s = 0.0;
    for (var l = 0u; l < ${L}u; l++) { s += lanes[l * ${C}u + lid]; }
    out[col] = ${out}(s);
  }
}`;
}
