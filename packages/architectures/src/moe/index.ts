import { add, mul, type Tensor } from '@dynconv/tensor';
import { buildStack, stackFlopsPerToken, stackParameterCount, stackStateShapes } from '../blocks/stack.js';
import { registry } from '../registry.js';
import type { ArchitectureV1, ModelV1 } from '../spec/v1.js';
import { MoeConfig, moeStack } from './config.js';
import { type MoeLayerStats, makeMoeFeedForward } from './feed-forward.js';

export { MoeConfig, MoeConvPlacement, moeEntry, moeStack, validateMoe } from './config.js';
export {
  MoeFeedForwardConfig,
  type MoeFeedForwardParams,
  type MoeLayerStats,
  MoeRecorder,
  makeMoeFeedForward,
  validateMoeFeedForward,
} from './feed-forward.js';

/** A built MoE model: `auxLoss()` returns the weighted load-balancing + z-losses of the last forward. */
export interface MoeModel extends ModelV1 {
  /** Per layer: dropped assignments and tokens per expert of the last forward. */
  routingStats(): Promise<(MoeLayerStats | null)[]>;
}

/** Counting needs no recorders: one shared sublayer. */
const counting = makeMoeFeedForward().sublayer;

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
    const model = buildStack(moeStack(config, sublayer), options);
    return {
      ...model,
      auxLoss() {
        let total: Tensor | null = null;
        for (const r of recorders) {
          const aux = r.takeAux();
          if (!aux) continue;
          // A fresh handle in the caller's scope, still on the graph; the recorder's goes.
          const next: Tensor = total ? add(total, aux) : mul(aux, 1);
          total?.dispose();
          aux.dispose();
          total = next;
        }
        return total;
      },
      routingStats: () => Promise.all(recorders.map((r) => r.stats())),
      dispose() {
        for (const r of recorders) r.clear();
        model.dispose();
      },
    };
  },

  parameterCount: (config) => stackParameterCount(moeStack(config, counting)),
  flopsPerToken: (config, seqLen) => stackFlopsPerToken(moeStack(config, counting), seqLen),
  decodeStateShapes: (config, batch, maxLength) =>
    stackStateShapes(moeStack(config, counting), batch, maxLength),
};

registry.register(moeTransformer);
