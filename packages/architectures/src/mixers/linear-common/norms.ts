import { type Linear, linear, type RMSNorm, rmsNorm as rmsNormLayer } from '@dynconv/layers';
import { add, mul, reshape, rmsNorm, rsqrt, silu, square, sum, type Tensor, tidy } from '@dynconv/tensor';

/**
 * Gated RMSNorm, both conventions in use:
 * - `'gate-then-norm'` (Mamba-2 `RMSNormGated(norm_before_gate=False)`):
 *   `RMSNorm(y ⊙ SiLU(z)) ⊙ weight`, normalised over groups of `groupSize` channels, `weight [D]`;
 * - `'norm-then-gate'` (fla `FusedRMSNormGated`, Gated DeltaNet / GLA):
 *   `RMSNorm(y) ⊙ weight ⊙ SiLU(z)` per group (head), `weight [groupSize]` shared by the groups.
 *
 * @param y `[..., D]`
 * @param z `[..., D]` gate input
 */
export function gatedRmsNorm(
  y: Tensor,
  z: Tensor,
  weight: Tensor,
  o: {
    readonly groupSize: number;
    readonly eps: number;
    readonly order: 'gate-then-norm' | 'norm-then-gate';
  },
): Tensor {
  return tidy(() => {
    const D = y.shape[y.rank - 1]!;
    const lead = y.shape.slice(0, -1);
    const grouped = [...lead, D / o.groupSize, o.groupSize];
    if (o.order === 'gate-then-norm') {
      const normed = rmsNorm(reshape(mul(y, silu(z)), grouped), null, o.eps);
      return mul(reshape(normed, [...lead, D]), weight);
    }
    const normed = rmsNorm(reshape(y, grouped), weight, o.eps);
    return mul(reshape(normed, [...lead, D]), silu(z));
  });
}

/** `x / sqrt(Σ x² + eps)` over the last axis (fla's `l2norm`, eps 1e-6). */
export const l2Normalize = (x: Tensor, eps = 1e-6): Tensor =>
  tidy(() => mul(x, rsqrt(add(sum(square(x), -1, true), eps))));

/**
 * The output tail of the q/k/v linear-attention mixers (GDN, GLA): per-head
 * RMSNorm of `o [B, T, H, V]` — gated by SiLU(`gate`) when the mixer has a gate
 * projection — then the output projection to `[B, T, d]`.
 */
export function normGateProject(
  o: Tensor,
  gate: Tensor | null,
  norm: RMSNorm,
  oProj: Linear,
  [B, T, H, V]: readonly [number, number, number, number],
): Tensor {
  const normed = gate
    ? gatedRmsNorm(reshape(o, [B, T, H * V]), gate, norm.weight, {
        groupSize: V,
        eps: norm.eps,
        order: 'norm-then-gate',
      })
    : reshape(rmsNormLayer(norm, o), [B, T, H * V]);
  return linear(oProj, normed);
}
