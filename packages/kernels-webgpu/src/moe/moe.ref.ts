import { add, arange, cast, eq, matmul, mul, reshape, silu, sum, type Tensor, tidy } from '@dynconv/tensor';
import type { ExpertWeights } from './moe.js';

/**
 * Dense MoE reference (any backend, differentiable): every expert runs on
 * every token and `y_t = Σ_e c[t, e] · expert_e(x_t)`, with the combine matrix
 * `c[t, e]` = the routing weight of e for t (0 when not chosen). E/k times the
 * work of a dispatch — for tests; equals dropless `moe` exactly.
 *
 * @param x `[N, D]`
 * @param weights `[N, k]` combine weights
 * @param indices `[N, k]` i32 chosen experts
 * @returns `[N, D]`
 */
export function moeDenseRef(x: Tensor, weights: Tensor, indices: Tensor, experts: ExpertWeights): Tensor {
  return tidy(() => {
    const [N, k] = weights.shape as [number, number];
    const E = experts.gate.shape[0]!;
    const ids = reshape(arange(0, E, 1, { dtype: 'i32', backend: x.backend }), [1, 1, E]);
    const chosen = cast(eq(reshape(indices, [N, k, 1]), ids), x.dtype); // [N, k, E]
    const combine = sum(mul(chosen, reshape(weights, [N, k, 1])), 1); // [N, E]
    let y: Tensor | null = null;
    for (let e = 0; e < E; e++) {
      const pickE = (w: Tensor) => reshape(w.narrow(0, e, 1), w.shape.slice(1));
      const out = matmul(
        mul(silu(matmul(x, pickE(experts.gate))), matmul(x, pickE(experts.up))),
        pickE(experts.down),
      );
      const term = mul(out, combine.narrow(1, e, 1));
      y = y ? add(y, term) : term;
    }
    return y!;
  });
}
