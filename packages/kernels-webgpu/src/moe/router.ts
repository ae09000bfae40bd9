import { div, fmtShape, softmax, sum, type Tensor, TensorError, tidy, topk } from '@dynconv/tensor';

export interface RouterOptions {
  /** Experts per token (1..E). */
  topK: number;
  /** Renormalise the chosen experts' probabilities to sum to 1 (Mixtral); default false (Switch). */
  normalizeTopK?: boolean;
}

/** A routing decision for N tokens over E experts. */
export interface Routing {
  /** `[N, E]` softmax of the logits. */
  probs: Tensor;
  /** `[N, k]` combine weights of the chosen experts (differentiable). */
  weights: Tensor;
  /** `[N, k]` i32 chosen experts, best first. */
  indices: Tensor;
}

/**
 * Top-k softmax router: `probs = softmax(logits)`, the k most probable
 * experts per token, and their probabilities as combine weights
 * (renormalised over the k chosen when `normalizeTopK`). Gradients reach the
 * logits through the chosen weights (the choice itself is not differentiable).
 *
 * @param logits `[N, E]`
 */
export function moeRoute(logits: Tensor, options: RouterOptions): Routing {
  if (logits.rank !== 2)
    throw new TensorError('moeRoute', `logits must be [N, E], got ${fmtShape(logits.shape)}`);
  const E = logits.shape[1]!;
  const k = options.topK;
  if (!Number.isInteger(k) || k < 1 || k > E)
    throw new TensorError(
      'moeRoute',
      `topK must be an integer in 1..E=${E} (logits ${fmtShape(logits.shape)}), got ${k}`,
    );
  return tidy(() => {
    const probs = softmax(logits, -1);
    const { values, indices } = topk(probs, k, -1);
    const weights = options.normalizeTopK ? div(values, sum(values, -1, true)) : values;
    return { probs, weights, indices };
  });
}
