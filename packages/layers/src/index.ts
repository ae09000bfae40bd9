/**
 * @dynconv/layers — layer primitives as data + pure apply functions.
 *
 * A layer is a plain object whose tensor fields are its parameters, named like
 * their PyTorch / Hugging Face counterparts (`q_proj.weight`, `static_w`), and
 * whose other fields are static hyperparameters. `init*` functions take a
 * required random `generator`; parameters they return require gradients and
 * belong to no scope (free them with `disposeParameters`). Apply functions
 * document their shapes and free their intermediates (they run in `tidy`).
 */
export {
  type Attention,
  type AttentionApplyOptions,
  type AttentionOptions,
  attention,
  attentionCacheShapes,
  attentionSublayer,
  initAttention,
  initAttentionCache,
} from './attention.js';
export { type Embedding, type EmbeddingOptions, embed, initEmbedding, outputLogits } from './embedding.js';
export { layerFusion } from './fused/gpu.js';
export { normFused } from './fused/norm.js';
export { type HeadSegment, type RoPETables, splitHeadsRoPE, splitHeadsRoPERef } from './fused/rope-heads.js';
export { swiglu, swigluPacked, swigluRef } from './fused/swiglu.js';
export {
  asParameter,
  constantParameter,
  type InitOptions,
  normalParameter,
  uniformParameter,
} from './init.js';
export {
  fusedLinear,
  fusedLinearPacked,
  initLinear,
  type Linear,
  type LinearOptions,
  linear,
  linearShape,
} from './linear.js';
export {
  type GeluMLP,
  initMLP,
  initMLPCache,
  type MLP,
  type MLPOptions,
  mlp,
  mlpCacheShapes,
  mlpSublayer,
  type SwiGLU,
} from './mlp.js';
export {
  addRmsNorm,
  initLayerNorm,
  initRMSNorm,
  type LayerNorm,
  layerNorm,
  type NormOptions,
  type RMSNorm,
  rmsNorm,
} from './norm.js';
export { countParameters, disposeParameters, namedParameters } from './params.js';
export {
  type ContentSkip,
  contentSkip,
  initContentSkip,
  initPreProjection,
  type PreProjection,
  type PreProjectionOptions,
  preProjection,
  preProjectionHidden,
} from './pre-projection.js';
export { applyRoPE, initRoPE, type RoPE, type RoPEOptions, ropeTables } from './rope.js';
export {
  convChannels,
  convGenerator,
  type DynamicShortConv,
  generatorWidth,
  type HeadwiseShortConv,
  initShortConv,
  initShortConvCache,
  type LowRankShortConv,
  type ShortConv,
  type ShortConvApplyOptions,
  type ShortConvOptions,
  type ShortConvSpec,
  type StaticShortConv,
  shortConv,
  shortConvStep,
} from './short-conv.js';
export { convStream, type SequenceMode, setCache } from './stream.js';
