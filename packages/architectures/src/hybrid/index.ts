import { buildStack, stackFlopsPerToken, stackParameterCount, stackStateShapes } from '../blocks/stack.js';
import { registry } from '../registry.js';
import type { ArchitectureV1 } from '../spec/v1.js';
import { type HybridConfig, hybridConfigSchema, hybridStack } from './config.js';

export {
  type HybridConfig,
  type HybridLayer,
  hybridConfigSchema,
  hybridStack,
  validateHybrid,
} from './config.js';

/**
 * `hybrid`: a pre-norm stack whose config lists a mixer per layer
 * (`{ mixer: 'attention', nHeads: 8 }`, and whatever mixers are registered),
 * each followed by the same MLP. Errors name the offending layer index.
 */
export const hybrid: ArchitectureV1<HybridConfig> = {
  specificationVersion: 'v1',
  name: 'hybrid',
  description:
    'per-layer choice of token mixer (registered mixers: see mixers.list()), each followed by an MLP',
  get configSchema() {
    return hybridConfigSchema();
  },
  build: (config, options) => buildStack(hybridStack(config), options),
  parameterCount: (config) => stackParameterCount(hybridStack(config)),
  flopsPerToken: (config, seqLen) => stackFlopsPerToken(hybridStack(config), seqLen),
  decodeStateShapes: (config, batch, maxLength) => stackStateShapes(hybridStack(config), batch, maxLength),
};

registry.register(hybrid);
