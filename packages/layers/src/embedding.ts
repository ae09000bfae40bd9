import { embedding as embeddingOp, type Tensor } from '@dynconv/tensor';
import { type InitOptions, normalParameter } from './init.js';
import { type Linear, linear } from './linear.js';

/** A token embedding table `weight [vocab, dim]` (HF `embed_tokens`). */
export type Embedding = { weight: Tensor };

export interface EmbeddingOptions extends InitOptions {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  /** Standard deviation of the N(0, std²) init. Default 0.02. */
  readonly std?: number;
}

export const initEmbedding = (o: EmbeddingOptions): Embedding => ({
  weight: normalParameter([o.numEmbeddings, o.embeddingDim], o.std ?? 0.02, o),
});

/** Rows of the table for i32 `ids [...]` → `[..., dim]`. */
export const embed = (p: Embedding, ids: Tensor): Tensor => embeddingOp(p.weight, ids);

/**
 * Output head: `h [..., dim] → logits [..., vocab]`. With `head` omitted the
 * embedding table is reused (tied weights, `logits = h Eᵀ`).
 */
export const outputLogits = (p: Embedding, h: Tensor, head?: Linear): Tensor =>
  linear(head ?? { weight: p.weight }, h);
