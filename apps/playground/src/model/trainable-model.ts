import type { Tensor } from '@dynconv/tensor';

/**
 * The part of `@dynconv/architectures`' `ModelV1` the playground trains:
 * named parameters and a differentiable forward pass. Declared structurally
 * so models from the plugins and the page's own control model both fit.
 */
export interface TrainableModel {
  readonly parameters: ReadonlyMap<string, Tensor>;
  /** Parameters that get no weight decay (norms, biases, conv filters). */
  readonly noDecay: ReadonlySet<string>;
  /** Logits `[batch, seqLen, vocab]` from i32 ids `[batch, seqLen]`. */
  forward(input: { readonly ids: Tensor }, options?: { readonly training?: boolean }): Tensor;
  dispose(): void;
}
