import { buildStack, stackFlopsPerToken, stackParameterCount, stackStateShapes } from '../../blocks/stack.js';
import { mixers } from '../../mixers/registry.js';
import { registry } from '../../registry.js';
import type { ArchitectureV1 } from '../../spec/v1.js';
import { ConvLMConfig, convLMStack } from './config.js';
import { gatedConvMixer } from './mixer.js';

export { ConvLMConfig, convLMStack } from './config.js';
export { GatedConvConfig, type GatedConvParams, gatedConvMixer } from './mixer.js';

/**
 * Step 4: the plugin object (the `ArchitectureV1` contract of `spec/v1.ts`),
 * registered on import. Importing this folder also registers its mixer, so
 * `hybrid` configs can use `{ mixer: 'gated-conv' }` next to attention.
 */
export const convLM: ArchitectureV1<ConvLMConfig> = {
  specificationVersion: 'v1',
  name: 'conv-lm',
  description: 'attention-free LM of gated short-conv blocks (worked example of a plugin)',
  configSchema: ConvLMConfig,
  build: (config, options) => buildStack(convLMStack(config), options),
  parameterCount: (config) => stackParameterCount(convLMStack(config)),
  flopsPerToken: (config, seqLen) => stackFlopsPerToken(convLMStack(config), seqLen),
  decodeStateShapes: (config, batch, maxLength) => stackStateShapes(convLMStack(config), batch, maxLength),
};

mixers.register(gatedConvMixer);
registry.register(convLM);
