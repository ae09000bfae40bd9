import { stack, type Tensor, tidy, zeros } from '@dynconv/tensor';
import { pick } from '../linear-scan/chunks.js';
import { type GatedDeltaOptions, type GatedDeltaResult, withResets } from './gated-delta.js';
import { gatedDeltaStepUnchecked } from './gated-delta-step.js';

/**
 * Recurrent gated delta rule (the plain reference, any backend, port of fla's
 * `recurrent_gated_delta_rule_ref`): {@link gatedDeltaStepUnchecked} token by
 * token. Same arguments and result as the chunked `gatedDeltaRule`
 * (chunkSize is ignored); shapes are validated by the caller.
 */
export function gatedDeltaRecurrentRef(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  g: Tensor,
  beta: Tensor,
  options: GatedDeltaOptions = {},
): GatedDeltaResult {
  return tidy(() => {
    const [batch, T, H, K] = q.shape as [number, number, number, number];
    const V = v.shape[3]!;
    const scale = options.scale ?? 1 / Math.sqrt(K);
    // T >= 1 (validated), so the state returned is always fresh, never the caller's initialState.
    let state = options.initialState ?? zeros([batch, H, K, V], { dtype: q.dtype, backend: q.backend });
    const gates = withResets(g, options.docStart);
    const os: Tensor[] = [];
    for (let t = 0; t < T; t++) {
      const step = gatedDeltaStepUnchecked(
        pick(q, 1, t),
        pick(k, 1, t),
        pick(v, 1, t),
        pick(gates, 1, t),
        pick(beta, 1, t),
        state,
        scale,
      );
      os.push(step.o);
      state = step.state;
    }
    return { o: stack(os, 1), finalState: state };
  });
}
