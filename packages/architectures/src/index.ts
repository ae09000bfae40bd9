/**
 * @dynconv/architectures — the architecture plugin registry, the built-in
 * plugins (`transformer`, `hybrid`), the mixer registry (`attention`, …),
 * decoding and sampling utilities, and safetensors checkpoints.
 * Browser-safe: file-system helpers live in `@dynconv/architectures/node`.
 */

export { linearParams, shortConvFlops, shortConvParams } from './blocks/counts.js';
export { convSpec, DscConfig, defaultDsc } from './blocks/dsc-config.js';
export { defaultMlpHidden, type MlpSpec, mlpForwardFlops, mlpParams } from './blocks/mlp-spec.js';
export {
  buildStack,
  type StackLayer,
  type StackSpec,
  stackFlopsPerToken,
  stackParameterCount,
  stackStateShapes,
} from './blocks/stack.js';
export {
  decodeSafetensors,
  encodeSafetensors,
  type SafetensorsDType,
  type SafetensorsEntry,
  SafetensorsError,
  type SafetensorsFile,
  type SafetensorsValues,
} from './checkpoint/safetensors.js';
export { loadParameters, toSafetensorsEntries } from './checkpoint/state-dict.js';
export {
  type ConfigIssue,
  crossFieldCheck,
  decodeConfig,
  Fraction,
  PositiveInt,
  PositiveNumber,
} from './config.js';
export { type GenerateOptions, generate } from './generate.js';
export {
  type HybridConfig,
  type HybridLayer,
  HybridMlp,
  HybridMoeLayer,
  HybridMoeMlp,
  hybrid,
  hybridConfigSchema,
  hybridStack,
  MOE_LAYER,
  moeLayerAttention,
  validateHybrid,
} from './hybrid/index.js';
export * from './linear-mixers.js';
export {
  type AttentionConvPlacement,
  AttentionMixerConfig,
  type AttentionMixerParams,
  attentionDims,
  attentionFields,
  attentionMixer,
  validateAttention,
} from './mixers/attention/index.js';
// Mixers first: the hybrid schema is built from whatever is registered.
export { mixers } from './mixers/registry.js';
export type { AnyMixer, MixerContext, MixerInitContext, MixerV1 } from './mixers/types.js';
export { Registry, registry } from './registry.js';
export {
  type SamplingOptions,
  SamplingRng,
  sampleNext,
  sampleRow,
  samplingDistribution,
} from './sampling.js';
export type { ArchitectureV1, BuildOptions, DecodeState, ModelInput, ModelV1 } from './spec/v1.js';
export {
  ConvPlacement,
  TransformerConfig,
  transformer,
  transformerMlp,
  transformerStack,
  validateTransformer,
} from './transformer/index.js';
