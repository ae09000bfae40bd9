import { silu, type Tensor, tidy } from '@dynconv/tensor';
import type { InitOptions } from './init.js';
import { initLinear, type Linear, linear } from './linear.js';

/**
 * Pre-projection (Shinde, arXiv 2604.10791): a residual MLP applied to the
 * normed attention input before the q/k/v projections,
 * `e = h + W_down · SiLU(W_up · h)`, `W_up [⌊αd⌋, d]`, `W_down [d, ⌊αd⌋]`, no biases.
 */
export type PreProjection = { up_proj: Linear; down_proj: Linear };

/**
 * Content skip: `W_skip · e` added to the block output, bypassing attention
 * and RoPE. `skip_proj.weight [d, d]`, no bias.
 */
export type ContentSkip = { skip_proj: Linear };

export interface PreProjectionOptions extends InitOptions {
  readonly dModel: number;
  /** Hidden width factor α (default 1.25, the paper's setting). */
  readonly expansion?: number;
  /** Init std of both projections (default 0.01: near-identity through the residual). */
  readonly std?: number;
}

/** Hidden width of the pre-projection: `⌊α·d⌋`. */
export const preProjectionHidden = (dModel: number, expansion = 1.25): number =>
  Math.floor(expansion * dModel);

export function initPreProjection(o: PreProjectionOptions): PreProjection {
  const hidden = preProjectionHidden(o.dModel, o.expansion);
  const std = o.std ?? 0.01;
  return {
    up_proj: initLinear({ ...o, inFeatures: o.dModel, outFeatures: hidden, init: std }),
    down_proj: initLinear({ ...o, inFeatures: hidden, outFeatures: o.dModel, init: std }),
  };
}

/** `h [B, T, d] → e [B, T, d]`. Position-agnostic (per token), so it needs no decode cache. */
export const preProjection = (p: PreProjection, h: Tensor): Tensor =>
  tidy(() => h.add(linear(p.down_proj, silu(linear(p.up_proj, h)))));

/** Default init N(0, (1e-4)²): the skip starts as a near-no-op. */
export const initContentSkip = (
  o: InitOptions & { readonly dModel: number; readonly std?: number },
): ContentSkip => ({
  skip_proj: initLinear({ ...o, inFeatures: o.dModel, outFeatures: o.dModel, init: o.std ?? 1e-4 }),
});

/** `e [B, T, d] → W_skip e [B, T, d]` (to add to the block output). */
export const contentSkip = (p: ContentSkip, e: Tensor): Tensor => linear(p.skip_proj, e);
