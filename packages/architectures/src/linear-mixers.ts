/**
 * The linear-recurrent mixers (`mamba2`, `gated-deltanet`, `gla`, registered
 * in the mixer registry, hence usable in `hybrid` layers) and their
 * single-mixer architecture plugins, plus the `moe` transformer.
 */

export { type UniformStackConfig, uniformStack, uniformStackFields } from './blocks/uniform-stack.js';
export {
  GatedDeltaNetConfig,
  gatedDeltaNet,
  gatedDeltaNetEntry,
  gatedDeltaNetStack,
} from './gated-deltanet/index.js';
export { GlaConfig, glaArchitecture, glaEntry, glaStack } from './gla/index.js';
export { Mamba2Config, mamba2, mamba2Entry, mamba2Stack } from './mamba2/index.js';
export {
  type GatedDeltaNetDims,
  GatedDeltaNetMixerConfig,
  type GatedDeltaNetMixerParams,
  gatedDeltaNetDims,
  gatedDeltaNetMixer,
  validateGatedDeltaNet,
} from './mixers/gated-deltanet/index.js';
export {
  type GlaDims,
  GlaMixerConfig,
  type GlaMixerParams,
  glaDims,
  glaMixer,
  validateGla,
} from './mixers/gla/index.js';
export { gatedRmsNorm, l2Normalize } from './mixers/linear-common/norms.js';
export {
  gatedDeltaFlopsPerToken,
  glaFlopsPerToken,
  ssdFlopsPerToken,
} from './mixers/linear-common/scan-flops.js';
export {
  type Mamba2Dims,
  Mamba2MixerConfig,
  type Mamba2MixerParams,
  mamba2Dims,
  mamba2Mixer,
  validateMamba2,
} from './mixers/mamba2/index.js';
export {
  MoeConfig,
  MoeConvPlacement,
  MoeFeedForwardConfig,
  type MoeFeedForwardParams,
  type MoeLayerStats,
  type MoeModel,
  type MoeOptionsConfig,
  MoeRecorder,
  makeMoeFeedForward,
  moeCounting,
  moeEntry,
  moeFeedForwardEntry,
  moeFields,
  moeStack,
  moeTransformer,
  validateMoe,
  validateMoeFeedForward,
  validateMoeOptions,
  withMoeAuxLoss,
} from './moe/index.js';
