import {
  arange,
  cast,
  eq,
  fmtShape,
  logsumexp,
  mean,
  mul,
  reshape,
  sum,
  type Tensor,
  TensorError,
  tidy,
} from '@dynconv/tensor';

/**
 * One-hot of the chosen experts summed over the k slots: `[N, E]` with
 * `counts[t, e] = 1` when token t routes to e (non-differentiable).
 */
export function routedMask(indices: Tensor, numExperts: number, dtype: Tensor['dtype']): Tensor {
  return tidy(() => {
    const [N, k] = indices.shape as [number, number];
    const experts = arange(0, numExperts, 1, { dtype: 'i32', backend: indices.backend });
    const hits = cast(eq(reshape(indices, [N, k, 1]), reshape(experts, [1, 1, numExperts])), dtype);
    return sum(hits, 1);
  });
}

/**
 * Switch-Transformer load-balancing loss, as HF Mixtral's
 * `load_balancing_loss_func`: `E · Σ_e f_e · P_e` with `f_e` the fraction of
 * tokens routed to expert e (summed over the k slots, so Σ_e f_e = k) and
 * `P_e` the mean router probability of e. Equals k under perfectly uniform
 * routing; multiply by a coefficient (≈1e-2) before adding it to the loss.
 * Differentiable through `probs` only.
 *
 * @param probs `[N, E]` router softmax
 * @param indices `[N, k]` i32 chosen experts
 * @returns scalar
 */
export function switchLoadBalancingLoss(probs: Tensor, indices: Tensor): Tensor {
  if (
    probs.rank !== 2 ||
    indices.rank !== 2 ||
    indices.shape[0] !== probs.shape[0] ||
    indices.dtype !== 'i32'
  )
    throw new TensorError(
      'switchLoadBalancingLoss',
      `probs must be [N, E] and indices i32 [N, k], got ${fmtShape(probs.shape)} and ${indices.dtype}${fmtShape(indices.shape)}`,
    );
  const E = probs.shape[1]!;
  return tidy(() => {
    const fraction = mean(routedMask(indices, E, probs.dtype), 0); // f_e
    const meanProb = mean(probs, 0); // P_e
    return mul(sum(mul(fraction, meanProb)), E);
  });
}

/**
 * Router z-loss (ST-MoE): `mean_t logsumexp(logits_t)²`, which keeps router
 * logits small. Multiply by a coefficient (≈1e-3).
 *
 * @param logits `[N, E]`
 * @returns scalar
 */
export function routerZLoss(logits: Tensor): Tensor {
  if (logits.rank !== 2)
    throw new TensorError('routerZLoss', `logits must be [N, E], got ${fmtShape(logits.shape)}`);
  return tidy(() => {
    const lse = logsumexp(logits, -1);
    return mean(mul(lse, lse));
  });
}
