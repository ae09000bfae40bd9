import { fmtShape, matmul, mul, silu, type Tensor, TensorError, tidy } from '@dynconv/tensor';
import { routerZLoss, switchLoadBalancingLoss } from './aux-losses.js';
import { combineTokens, dispatchTokens, expertCapacity, planDispatch } from './dispatch.js';
import { moeRoute, type RouterOptions, type Routing } from './router.js';

/** Stacked SwiGLU experts: `down(silu(x·gate) ⊙ (x·up))`. */
export interface ExpertWeights {
  /** `[E, D, F]` */
  gate: Tensor;
  /** `[E, D, F]` */
  up: Tensor;
  /** `[E, F, D]` */
  down: Tensor;
}

export interface MoeOptions extends RouterOptions {
  /**
   * Rows per expert = ⌈capacityFactor · N · k / E⌉; overflow assignments are
   * dropped (the token keeps only the residual path). Omit for dropless routing.
   */
  capacityFactor?: number;
}

export interface MoeResult {
  /** `[N, D]` combined expert outputs (add the residual outside). */
  y: Tensor;
  routing: Routing;
  /** Scalar Switch load-balancing loss (unweighted; see `switchLoadBalancingLoss`). */
  loadBalancingLoss: Tensor;
  /** Scalar router z-loss (unweighted). */
  zLoss: Tensor;
  /** `[E]` assignments per expert before the capacity cut. */
  tokensPerExpert: Tensor;
  /** Scalar count of dropped (token, slot) assignments; 0 when dropless. */
  dropped: Tensor;
  /** Rows reserved per expert. */
  capacity: number;
}

/** Validates the arguments of `moe`; returns the sizes. */
export function checkMoeArgs(
  op: string,
  x: Tensor,
  router: Tensor,
  experts: ExpertWeights,
  options: MoeOptions,
) {
  if (x.rank !== 2)
    throw new TensorError(op, `x must be [N, D] (flatten batch and time), got ${fmtShape(x.shape)}`);
  const [N, D] = x.shape as [number, number];
  if (router.rank !== 2 || router.shape[0] !== D)
    throw new TensorError(op, `router must be [D, E] with D=${D}, got ${fmtShape(router.shape)}`);
  const E = router.shape[1]!;
  const { gate, up, down } = experts;
  if (gate.rank !== 3 || gate.shape[0] !== E || gate.shape[1] !== D)
    throw new TensorError(
      op,
      `experts.gate must be [E, D, F] with E=${E}, D=${D}, got ${fmtShape(gate.shape)}`,
    );
  const F = gate.shape[2]!;
  for (const [name, t, want] of [
    ['up', up, [E, D, F]],
    ['down', down, [E, F, D]],
  ] as const)
    if (t.rank !== 3 || t.shape.some((d, i) => d !== want[i]))
      throw new TensorError(op, `experts.${name} must be [${want.join(', ')}], got ${fmtShape(t.shape)}`);
  for (const [name, t] of Object.entries({ router, gate, up, down }))
    if (t.backend !== x.backend || t.dtype !== x.dtype)
      throw new TensorError(
        op,
        `${name} must be ${x.dtype} on ${x.backend.name} like x, got ${t.dtype} on ${t.backend.name}`,
      );
  if (!Number.isInteger(options.topK) || options.topK < 1 || options.topK > E)
    throw new TensorError(op, `topK must be an integer in 1..E=${E}, got ${options.topK}`);
  if (options.capacityFactor !== undefined && !(options.capacityFactor > 0))
    throw new TensorError(op, `capacityFactor must be > 0, got ${options.capacityFactor}`);
  return { N, D, E, F };
}

/** SwiGLU of every expert on its own rows: `[E, C, D]` → `[E, C, D]` (batched matmuls). */
export function expertsSwiGLU(tokens: Tensor, experts: ExpertWeights): Tensor {
  return tidy(() =>
    matmul(mul(silu(matmul(tokens, experts.gate)), matmul(tokens, experts.up)), experts.down),
  );
}

/**
 * A mixture-of-experts SwiGLU layer, differentiable on every backend: top-k
 * routing (`moeRoute`), dispatch of each (token, slot) to its expert's rows
 * (`planDispatch`/`dispatchTokens`, dropless or with a capacity factor),
 * every expert's SwiGLU as one batched matmul over `[E, C, ·]`, and the
 * weighted combine (`combineTokens`). Also returns the auxiliary losses.
 *
 * Dropless reserves N rows per expert (cost E·N rows instead of k·N); with a
 * capacity factor c the cost is ≈ c·k·N rows.
 *
 * @param x `[N, D]` tokens
 * @param router `[D, E]` router projection
 */
export function moe(x: Tensor, router: Tensor, experts: ExpertWeights, options: MoeOptions): MoeResult {
  const { N, E } = checkMoeArgs('moe', x, router, experts, options);
  const capacity = expertCapacity(N, options.topK, E, options.capacityFactor);
  return tidy(() => {
    const logits = matmul(x, router);
    const routing = moeRoute(logits, options);
    const plan = planDispatch(routing.indices, E, capacity);
    const y = combineTokens(expertsSwiGLU(dispatchTokens(x, plan), experts), routing.weights, plan);
    return {
      y,
      routing,
      loadBalancingLoss: switchLoadBalancingLoss(routing.probs, routing.indices),
      zLoss: routerZLoss(logits),
      tokensPerExpert: plan.tokensPerExpert,
      dropped: plan.dropped,
      capacity,
    };
  });
}
