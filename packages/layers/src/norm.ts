import { layerNorm as layerNormOp, rmsNorm as rmsNormOp, type Tensor } from '@dynconv/tensor';
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

/** `x [..., dim] → [..., dim]`: `x / sqrt(mean(x²) + eps) · weight`. */
export const rmsNorm = (p: RMSNorm, x: Tensor): Tensor => rmsNormOp(x, p.weight, p.eps);

/** `x [..., dim] → [..., dim]`: `(x − mean) / sqrt(var + eps) · weight + bias`. */
export const layerNorm = (p: LayerNorm, x: Tensor): Tensor => layerNormOp(x, p.weight, p.bias ?? null, p.eps);
