import type { ShortConvSpec } from '@dynconv/layers';

/**
 * Closed-form parameter and FLOP counts, from configs alone (no allocation).
 *
 * FLOP convention (forward, per token): a matmul with an `[in, out]` weight
 * costs 2·in·out; attention scores and the weighted sum cost 2·T·d_attn each
 * (full T, the PaLM/Chinchilla convention, not halved for the causal mask);
 * short convs count their elementwise work as in the DSC paper (method.md
 * §1.8); norms, RoPE, softmax and activations are not counted. Training
 * FLOPs = 3 × forward (backward ≈ 2 × forward).
 */

export const linearParams = (inFeatures: number, outFeatures: number, bias = false): number =>
  inFeatures * outFeatures + (bias ? outFeatures : 0);

/** Parameters of a short conv over `channels` reading a `generatorDim`-wide generator input. */
export function shortConvParams(spec: ShortConvSpec, channels: number, generatorDim: number): number {
  const w = spec.width;
  if (spec.kind === 'static') return w * channels + (spec.bias ? channels : 0);
  const staticW = spec.staticFilter === false ? 0 : w * channels;
  if (spec.kind === 'low-rank') return generatorDim * spec.rank + spec.rank * w * channels + staticW;
  return generatorDim * (channels / spec.headSize) * w + staticW;
}

/**
 * Forward FLOPs per token of a short conv: generator projection (2·d_g·R or
 * 2·d_g·H·W), tap generation (2·R·W·D, low-rank), static-tap add (W·D),
 * the conv multiply-adds (2·W·D) and the residual (D).
 */
export function shortConvFlops(spec: ShortConvSpec, channels: number, generatorDim: number): number {
  const w = spec.width;
  const residual = spec.residual === false ? 0 : channels;
  const conv = 2 * w * channels;
  if (spec.kind === 'static') return conv + residual + (spec.bias ? channels : 0);
  const staticAdd = spec.staticFilter === false ? 0 : w * channels;
  if (spec.kind === 'low-rank')
    return 2 * generatorDim * spec.rank + 2 * spec.rank * w * channels + staticAdd + conv + residual;
  return 2 * generatorDim * (channels / spec.headSize) * w + staticAdd + conv + residual;
}
