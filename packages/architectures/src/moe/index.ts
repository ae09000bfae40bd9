import { buildStack, stackFlopsPerToken, stackParameterCount, stackStateShapes } from '../blocks/stack.js';
import { registry } from '../registry.js';
import type { ArchitectureV1 } from '../spec/v1.js';
import { MoeConfig, moeStack } from './config.js';
import { makeMoeFeedForward, moeCounting } from './feed-forward.js';
import { type MoeModel, withMoeAuxLoss } from './model.js';

export { MoeConfig, MoeConvPlacement, moeEntry, moeStack, validateMoe } from './config.js';
export {
  MoeFeedForwardConfig,
  type MoeFeedForwardParams,
  type MoeLayerStats,
  MoeRecorder,
  makeMoeFeedForward,
  moeCounting,
  validateMoeFeedForward,
} from './feed-forward.js';
export {
  type MoeOptionsConfig,
  moeFeedForwardEntry,
  moeFields,
  validateMoeOptions,
} from './fields.js';
export { type MoeModel, withMoeAuxLoss } from './model.js';

/**
 * `moe`: a Llama-style transformer whose MLPs are mixtures of SwiGLU experts
 * (top-k router, optional top-k renormalisation, Switch load-balancing loss,
 * router z-loss, dropless or capacity-factor dispatch), with optional static
 * or dynamic (DSC) short convs on q, k, v.
 */
export const moeTransformer: ArchitectureV1<MoeConfig> = {
  specificationVersion: 'v1',
  name: 'moe',
  description: 'transformer with mixture-of-experts MLPs and optional static/dynamic short convs on q, k, v',
  configSchema: MoeConfig,

  build(config, options): MoeModel {
    const { sublayer, recorders } = makeMoeFeedForward();
    return withMoeAuxLoss(buildStack(moeStack(config, sublayer), options), recorders);
  },

  parameterCount: (config) => stackParameterCount(moeStack(config, moeCounting)),
  flopsPerToken: (config, seqLen) => stackFlopsPerToken(moeStack(config, moeCounting), seqLen),
  decodeStateShapes: (config, batch, maxLength) =>
    stackStateShapes(moeStack(config, moeCounting), batch, maxLength),
};

registry.register(moeTransformer);
