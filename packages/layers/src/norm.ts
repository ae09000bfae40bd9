import { layerNorm as layerNormOp, rmsNorm as rmsNormOp, type Tensor } from '@dynconv/tensor';
import { layerFusion } from './fused/gpu.js';
import { normFused } from './fused/norm.js';
import type { InitOptions } from './init.js';
import { constantParameter } from './init.js';

/** RMSNorm over the last axis with a learned scale `weight [dim]` (init 1). */
export type RMSNorm = { weight: Tensor; eps: number };

/** LayerNorm over the last axis: `weight [dim]` (init 1), optional `bias [dim]` (init 0). */
export type LayerNorm = { weight: Tensor; bias?: Tensor; eps: number };

export interface NormOptions extends Omit<InitOptions, 'generator'> {
  readonly dim: number;
  readonly eps?: number;
}

/** Default eps 1e-6. Deterministic: needs no random stream. */
export const initRMSNorm = (o: NormOptions): RMSNorm => ({
  weight: constantParameter([o.dim], o, 1),
  eps: o.eps ?? 1e-6,
});

/** Default eps 1e-5, bias on unless `bias: false`. */
export const initLayerNorm = (o: NormOptions & { readonly bias?: boolean }): LayerNorm => {
  const weight = constantParameter([o.dim], o, 1);
  const eps = o.eps ?? 1e-5;
  return o.bias === false ? { weight, eps } : { weight, bias: constantParameter([o.dim], o, 0), eps };
};

/**
 * `x [..., dim] → [..., dim]`: `x / sqrt(mean(x²) + eps) · weight`. With layer fusion on
 * (the default) the weight gradient comes out of the norm's backward kernel.
 */
export const rmsNorm = (p: RMSNorm, x: Tensor): Tensor =>
  layerFusion.enabled ? normFused('rms', x, null, p.weight, null, p.eps).y : rmsNormOp(x, p.weight, p.eps);

/**
 * The pre-norm residual step `h = x + delta; y = rmsNorm(p, h)` → `{ sum: h, y }`.
 * With layer fusion on, one kernel forward (the add rides in the norm) and one
 * backward (the residual gradient is added to dx there); else the composed ops.
 */
export function addRmsNorm(p: RMSNorm, x: Tensor, delta: Tensor): { sum: Tensor; y: Tensor } {
  if (!layerFusion.enabled) {
    const sum = x.add(delta);
    return { sum, y: rmsNormOp(sum, p.weight, p.eps) };
  }
  const { sum, y } = normFused('rms', x, delta, p.weight, null, p.eps);
  return { sum: sum!, y };
}

/** `x [..., dim] → [..., dim]`: `(x − mean) / sqrt(var + eps) · weight + bias`. */
export const layerNorm = (p: LayerNorm, x: Tensor): Tensor =>
  layerFusion.enabled
    ? normFused('layer', x, null, p.weight, p.bias ?? null, p.eps).y
    : layerNormOp(x, p.weight, p.bias ?? null, p.eps);
