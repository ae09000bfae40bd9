import { buildStack, stackFlopsPerToken, stackParameterCount, stackStateShapes } from '../blocks/stack.js';
import { registry } from '../registry.js';
import type { ArchitectureV1 } from '../spec/v1.js';
import { TransformerConfig, transformerStack } from './config.js';

export {
  ConvPlacement,
  TransformerConfig,
  transformerMlp,
  transformerStack,
  validateTransformer,
} from './config.js';

/**
 * `transformer`: Llama-style pre-norm decoder (RMSNorm, RoPE, SwiGLU or GELU,
 * tied or untied embeddings, GQA, QK-norm) with dynamic short convolutions
 * (`conv`, `dsc`) and pre-projection + content skip (`preProjection`).
 */
export const transformer: ArchitectureV1<TransformerConfig> = {
  specificationVersion: 'v1',
  name: 'transformer',
  description:
    'Llama-style transformer with optional static/dynamic short convolutions and pre-projection + content skip',
  configSchema: TransformerConfig,
  build: (config, options) => buildStack(transformerStack(config), options),
  parameterCount: (config) => stackParameterCount(transformerStack(config)),
  flopsPerToken: (config, seqLen) => stackFlopsPerToken(transformerStack(config), seqLen),
  decodeStateShapes: (config, batch, maxLength) =>
    stackStateShapes(transformerStack(config), batch, maxLength),
};

registry.register(transformer);
