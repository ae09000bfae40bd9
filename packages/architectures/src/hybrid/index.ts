import { buildStack, stackFlopsPerToken, stackParameterCount, stackStateShapes } from '../blocks/stack.js';
import { makeMoeFeedForward } from '../moe/feed-forward.js';
import { withMoeAuxLoss } from '../moe/model.js';
import { registry } from '../registry.js';
import type { ArchitectureV1 } from '../spec/v1.js';
import { type HybridConfig, hybridConfigSchema, hybridStack } from './config.js';

export {
  type HybridConfig,
  type HybridLayer,
  hybridConfigSchema,
  hybridStack,
  MOE_LAYER,
  validateHybrid,
} from './config.js';
export { HybridMlp, HybridMoeMlp } from './mlp.js';
export { HybridMoeLayer, moeLayerAttention } from './moe-layer.js';

/**
 * `hybrid`: a pre-norm stack whose config lists a mixer per layer
 * (`{ mixer: 'attention', nHeads: 8 }`, and whatever mixers are registered),
 * each followed by the config's MLP or the layer's own (`mlp`: dense, none, or
 * `{ kind: 'moe', numExperts, topK, ... }`), plus `moe` layers (attention with
 * optional short convs on q, k, v and a mixture-of-experts MLP, as in the
 * `moe` plugin). With MoE MLPs the built model's `auxLoss()` returns their
 * weighted load-balancing + z-losses. Errors name the offending layer index.
 */
export const hybrid: ArchitectureV1<HybridConfig> = {
  specificationVersion: 'v1',
  name: 'hybrid',
  description:
    'per-layer choice of token mixer (registered mixers: see mixers.list(), or a moe layer), each followed by a dense or mixture-of-experts MLP',
  get configSchema() {
    return hybridConfigSchema();
  },
  build(config, options) {
    const { sublayer, recorders } = makeMoeFeedForward();
    const model = buildStack(hybridStack(config, sublayer), options);
    // Recorders exist once a MoE MLP was initialised; a dense hybrid stays a plain model.
    return recorders.length > 0 ? withMoeAuxLoss(model, recorders) : model;
  },
  parameterCount: (config) => stackParameterCount(hybridStack(config)),
  flopsPerToken: (config, seqLen) => stackFlopsPerToken(hybridStack(config), seqLen),
  decodeStateShapes: (config, batch, maxLength) => stackStateShapes(hybridStack(config), batch, maxLength),
};

registry.register(hybrid);
