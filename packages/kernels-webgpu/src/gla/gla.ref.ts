import { stack, type Tensor, tidy, zeros } from '@dynconv/tensor';
import { pick } from '../linear-scan/chunks.js';
import { type GlaOptions, type GlaResult, withChannelResets } from './gla.js';
import { glaStepUnchecked } from './gla-step.js';

/**
 * Recurrent gated linear attention (the plain reference, any backend, like
 * fla's `naive_recurrent_gla`): {@link glaStepUnchecked} token by token.
 * Same arguments and result as the chunked `gla` (chunkSize is ignored);
 * shapes are validated by the caller.
 */
export function glaRecurrentRef(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  gk: Tensor,
  options: GlaOptions = {},
): GlaResult {
  return tidy(() => {
    const [batch, T, H, K] = q.shape as [number, number, number, number];
    const V = v.shape[3]!;
    const scale = options.scale ?? 1 / Math.sqrt(K);
    // T >= 1 (validated), so the state returned is always fresh, never the caller's initialState.
    let state = options.initialState ?? zeros([batch, H, K, V], { dtype: q.dtype, backend: q.backend });
    const gates = withChannelResets(gk, options.docStart);
    const os: Tensor[] = [];
    for (let t = 0; t < T; t++) {
      const step = glaStepUnchecked(
        pick(q, 1, t),
        pick(k, 1, t),
        pick(v, 1, t),
        pick(gates, 1, t),
        state,
        scale,
      );
      os.push(step.o);
      state = step.state;
    }
    return { o: stack(os, 1), finalState: state };
  });
}
