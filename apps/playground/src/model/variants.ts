import { type ConvPlacement, decodeConfig, transformer } from '@dynconv/architectures';
import type { Backend } from '@dynconv/tensor';
import type { TrainableModel } from './trainable-model.js';

/** Model sizes shared by every variant; the vocabulary comes from the task. */
export interface ModelSizes {
  readonly dModel: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly mlpHidden: number;
  /** Rank R of the DSC filter generator (the paper uses 16 at d = 1024). */
  readonly dscRank: number;
}

export interface Variant {
  readonly id: string;
  readonly label: string;
  readonly description: string;
  build(sizes: ModelSizes, vocabSize: number, backend: Backend, seed: number): TrainableModel;
}

/**
 * The three architectures the page compares: one `transformer` plugin config
 * each, differing only in where short convolutions sit.
 */
const transformerVariant = (
  id: string,
  conv: ConvPlacement,
  label: string,
  description: string,
): Variant => ({
  id,
  label,
  description,
  build: (sizes, vocabSize, backend, seed) => {
    const config = decodeConfig(transformer.configSchema, {
      vocabSize,
      dModel: sizes.dModel,
      nLayers: sizes.numLayers,
      nHeads: sizes.numHeads,
      mlpHidden: sizes.mlpHidden,
      conv,
      dsc: { variant: 'low-rank', rank: sizes.dscRank, width: 4 },
    });
    return transformer.build(config, { backend, seed });
  },
});

/** What the variant picker offers, in order; the first is the default. */
export const VARIANTS: readonly Variant[] = [
  transformerVariant(
    'baseline',
    'none',
    'Transformer (baseline)',
    'Llama-style attention + SwiGLU. With one layer, attention alone cannot tie a key to the value after it.',
  ),
  transformerVariant(
    'static-qkv',
    'static-qkv',
    'Static short conv on Q/K/V',
    'A learned causal depthwise conv (width 4, residual) on queries, keys and values: each key also sees its neighbours.',
  ),
  transformerVariant(
    'dynamic-qkv',
    'dynamic-qkv',
    'DSC on Q/K/V',
    'Dynamic short convolution: the 4 taps are generated per token (low rank) from the input, plus a static filter.',
  ),
];

export function variantById(id: string): Variant {
  const variant = VARIANTS.find((v) => v.id === id);
  if (!variant) throw new Error(`unknown variant "${id}" (known: ${VARIANTS.map((v) => v.id).join(', ')})`);
  return variant;
}
