import { buildStack, stackFlopsPerToken, stackParameterCount, stackStateShapes } from '../blocks/stack.js';
import { registry } from '../registry.js';
import type { ArchitectureV1 } from '../spec/v1.js';
import { GlaConfig, glaStack } from './config.js';

export { GlaConfig, glaEntry, glaStack } from './config.js';

/**
 * `gla`: gated-linear-attention blocks, each followed by a SwiGLU MLP (fla
 * layout), with static short convs on q, k, v (`conv: 'static'`), DSC
 * (`conv: 'dynamic'`) or none (`conv: 'none'`, fla's default).
 */
export const glaArchitecture: ArchitectureV1<GlaConfig> = {
  specificationVersion: 'v1',
  name: 'gla',
  description: 'gated linear attention language model with static or dynamic (DSC) short convs on q, k, v',
  configSchema: GlaConfig,
  build: (config, options) => buildStack(glaStack(config), options),
  parameterCount: (config) => stackParameterCount(glaStack(config)),
  flopsPerToken: (config, seqLen) => stackFlopsPerToken(glaStack(config), seqLen),
  decodeStateShapes: (config, batch, maxLength) => stackStateShapes(glaStack(config), batch, maxLength),
};

registry.register(glaArchitecture);
