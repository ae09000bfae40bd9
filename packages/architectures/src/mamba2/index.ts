import { buildStack, stackFlopsPerToken, stackParameterCount, stackStateShapes } from '../blocks/stack.js';
import { registry } from '../registry.js';
import type { ArchitectureV1 } from '../spec/v1.js';
import { Mamba2Config, mamba2Stack } from './config.js';

export { Mamba2Config, mamba2Entry, mamba2Stack } from './config.js';

/**
 * `mamba2`: a stack of Mamba-2 (SSD) blocks (`x += mixer(RMSNorm(x))`, no MLP
 * by default), with the xBC short conv static (`conv: 'static'`) or a DSC
 * replacing it (`conv: 'dynamic'`, settings in `dsc`).
 */
export const mamba2: ArchitectureV1<Mamba2Config> = {
  specificationVersion: 'v1',
  name: 'mamba2',
  description: 'Mamba-2 (SSD) language model with a static or dynamic (DSC) short conv',
  configSchema: Mamba2Config,
  build: (config, options) => buildStack(mamba2Stack(config), options),
  parameterCount: (config) => stackParameterCount(mamba2Stack(config)),
  flopsPerToken: (config, seqLen) => stackFlopsPerToken(mamba2Stack(config), seqLen),
  decodeStateShapes: (config, batch, maxLength) => stackStateShapes(mamba2Stack(config), batch, maxLength),
};

registry.register(mamba2);
