import { buildStack, stackFlopsPerToken, stackParameterCount, stackStateShapes } from '../blocks/stack.js';
import { registry } from '../registry.js';
import type { ArchitectureV1 } from '../spec/v1.js';
import { GatedDeltaNetConfig, gatedDeltaNetStack } from './config.js';

export { GatedDeltaNetConfig, gatedDeltaNetEntry, gatedDeltaNetStack } from './config.js';

/**
 * `gated-deltanet`: Gated DeltaNet blocks, each followed by a SwiGLU MLP (fla
 * layout), with static short convs on q, k, v (`conv: 'static'`) or DSC
 * replacing them (`conv: 'dynamic'`, settings in `dsc`).
 */
export const gatedDeltaNet: ArchitectureV1<GatedDeltaNetConfig> = {
  specificationVersion: 'v1',
  name: 'gated-deltanet',
  description: 'Gated DeltaNet language model with static or dynamic (DSC) short convs on q, k, v',
  configSchema: GatedDeltaNetConfig,
  build: (config, options) => buildStack(gatedDeltaNetStack(config), options),
  parameterCount: (config) => stackParameterCount(gatedDeltaNetStack(config)),
  flopsPerToken: (config, seqLen) => stackFlopsPerToken(gatedDeltaNetStack(config), seqLen),
  decodeStateShapes: (config, batch, maxLength) =>
    stackStateShapes(gatedDeltaNetStack(config), batch, maxLength),
};

registry.register(gatedDeltaNet);
