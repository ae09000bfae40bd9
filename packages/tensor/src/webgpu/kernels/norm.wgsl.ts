import type { DType } from '../../dtype.js';
import { enableF16, linearWorkgroupIndex, mainParams } from '../wgsl.js';
import { loadF32, workgroupReduceWgsl } from './row.wgsl.js';
import { rowUniforms } from './softmax.wgsl.js';

export interface NormParams {
  readonly kind: 'rms' | 'layer';
  readonly x: DType;
  readonly out: DType;
  /** Weight/bias dtypes, or null when absent. */
  readonly weight: DType | null;
  readonly bias: DType | null;
  readonly wg: number;
}

export const normKey = (p: NormParams): string =>
  `norm|${p.kind}|${p.x}>${p.out}|w${p.weight ?? '-'}|b${p.bias ?? '-'}|wg${p.wg}`;

/**
 * RMSNorm: rstd = 1/sqrt(mean(x^2) + eps), out = x rstd w (+ b).
 * LayerNorm: mean, var = mean((x - mean)^2) (two passes), rstd = 1/sqrt(var + eps),
 * out = (x - mean) rstd w + b. One workgroup per row; stats are f32.
 * Bindings: x, [weight], [bias], out, [mean], rstd.
 */
export function normWgsl(p: NormParams): string {
  const decls: string[] = [];
  let b = 1;
  decls.push(`@group(0) @binding(${b++}) var<storage, read> x: array<${p.x}>;`);
  if (p.weight) decls.push(`@group(0) @binding(${b++}) var<storage, read> weight: array<${p.weight}>;`);
  if (p.bias) decls.push(`@group(0) @binding(${b++}) var<storage, read> bias: array<${p.bias}>;`);
  decls.push(`@group(0) @binding(${b++}) var<storage, read_write> out: array<${p.out}>;`);
  if (p.kind === 'layer')
    decls.push(`@group(0) @binding(${b++}) var<storage, read_write> mean_out: array<f32>;`);
  decls.push(`@group(0) @binding(${b++}) var<storage, read_write> rstd_out: array<f32>;`);
  const xj = loadF32('x', p.x, 'base + j');
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
  return `${enableF16(p.x, p.out, ...(p.weight ? [p.weight] : []), ...(p.bias ? [p.bias] : []))}
${rowUniforms.wgsl}
@group(0) @binding(0) var<uniform> u: Params;
${decls.join('\n')}
${workgroupReduceWgsl(p.wg)}
@compute @workgroup_size(${p.wg})
fn main(${mainParams}) {
  let row = ${linearWorkgroupIndex};
  if (row >= u.rows) { return; }
  let base = row * u.n;
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
  readonly wg: number;
}

export const normBackwardKey = (p: NormBackwardParams): string =>
  `normbwd|${p.kind}|${p.x},${p.dy}>${p.dx}|w${p.weight ?? '-'}|wg${p.wg}`;

/**
 * dx with g = dy w and xhat the normalised input:
 * RMS: dx = rstd (g - xhat mean(g xhat)); Layer: dx = rstd (g - mean(g) - xhat mean(g xhat)).
 * Bindings: x, [weight], [mean], rstd, dy, dx.
 */
export function normBackwardWgsl(p: NormBackwardParams): string {
  const decls: string[] = [];
  let b = 1;
  decls.push(`@group(0) @binding(${b++}) var<storage, read> x: array<${p.x}>;`);
  if (p.weight) decls.push(`@group(0) @binding(${b++}) var<storage, read> weight: array<${p.weight}>;`);
  if (p.kind === 'layer') decls.push(`@group(0) @binding(${b++}) var<storage, read> mean_in: array<f32>;`);
  decls.push(`@group(0) @binding(${b++}) var<storage, read> rstd_in: array<f32>;`);
  decls.push(`@group(0) @binding(${b++}) var<storage, read> dy: array<${p.dy}>;`);
  decls.push(`@group(0) @binding(${b++}) var<storage, read_write> dx: array<${p.dx}>;`);
  const xhat =
    p.kind === 'layer'
      ? `(${loadF32('x', p.x, 'base + j')} - mean) * rstd`
      : `${loadF32('x', p.x, 'base + j')} * rstd`;
  const g = p.weight
    ? `${loadF32('dy', p.dy, 'base + j')} * ${loadF32('weight', p.weight, 'j')}`
    : loadF32('dy', p.dy, 'base + j');
  return `${enableF16(p.x, p.dy, p.dx, ...(p.weight ? [p.weight] : []))}
${rowUniforms.wgsl}
@group(0) @binding(0) var<uniform> u: Params;
${decls.join('\n')}
${workgroupReduceWgsl(p.wg)}
@compute @workgroup_size(${p.wg})
fn main(${mainParams}) {
  let row = ${linearWorkgroupIndex};
  if (row >= u.rows) { return; }
  let base = row * u.n;
  let rstd = rstd_in[row];
  ${p.kind === 'layer' ? 'let mean = mean_in[row];' : ''}
  var acc = vec2<f32>(0.0);
  for (var j = lid; j < u.n; j += ${p.wg}u) { let gj = ${g}; acc += vec2<f32>(gj, gj * ${xhat}); }
  let sums = wg_sum2(acc, lid) / f32(u.n);
  for (var j = lid; j < u.n; j += ${p.wg}u) {
    dx[base + j] = ${p.dx}(rstd * (${g} - ${p.kind === 'layer' ? 'sums.x - ' : ''}${xhat} * sums.y));
  }
}`;
}
