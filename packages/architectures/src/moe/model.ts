import { add, mul, type Tensor } from '@dynconv/tensor';
import type { ModelV1 } from '../spec/v1.js';
import type { MoeLayerStats, MoeRecorder } from './feed-forward.js';

/** A built model with MoE layers: `auxLoss()` returns the weighted load-balancing + z-losses of the last forward. */
export interface MoeModel extends ModelV1 {
  /** Per MoE layer, in layer order: dropped assignments and tokens per expert of the last forward. */
  routingStats(): Promise<(MoeLayerStats | null)[]>;
}

/**
 * Adds `auxLoss()` and `routingStats()` over the recorders of a model's MoE
 * layers (`makeMoeFeedForward`). `auxLoss()` sums the layers' weighted
 * losses in layer order and hands them over once (null before a forward).
 */
export function withMoeAuxLoss(model: ModelV1, recorders: readonly MoeRecorder[]): MoeModel {
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
}
