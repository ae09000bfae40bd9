import { fmtShape, matmul, mul, silu, type Tensor, TensorError, tidy, zeros } from '@dynconv/tensor';
import { routerZLoss, switchLoadBalancingLoss } from './aux-losses.js';
import { planCapacityGroups } from './capacity-plan.js';
import { combineTokens, dispatchTokens, expertCapacity, planDispatch } from './dispatch.js';
import { combineGroups, type GroupPlan, gatherTokens, planGroups } from './group-plan.js';
import { type GroupedMatmulOptions, groupedMatmul, groupedMatmulSupported } from './grouped-matmul.js';
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
  /** Most rows an expert may take: N when dropless, else the capacity cut. */
  capacity: number;
  /**
   * Rows the experts' SwiGLUs ran on, all experts together: N·k when
   * dropless; with a capacity factor at most min(N·k, E·capacity) (the kept
   * assignments: the dropped ones are not multiplied). E·capacity on the
   * padded fallback (no grouped kernel).
   */
  expertRows: number;
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

/** SwiGLU of every expert on its own rows of a padded buffer: `[E, C, D]` → `[E, C, D]` (batched matmuls). */
export function expertsSwiGLU(tokens: Tensor, experts: ExpertWeights): Tensor {
  return tidy(() =>
    matmul(mul(silu(matmul(tokens, experts.gate)), matmul(tokens, experts.up)), experts.down),
  );
}

/**
 * SwiGLU of each expert on its segment of the expert-sorted rows:
 * `[R, D]` → `[R, D]`, three grouped matmuls (offsets[E]·D·F multiply-adds
 * each); with `tail`, rows past `offsets[E]` come out zero (see `groupedMatmul`).
 *
 * @param offsets i32 `[E + 1]` segment bounds (see `planGroups`, `planCapacityGroups`)
 */
export function groupedSwiGLU(
  rows: Tensor,
  experts: ExpertWeights,
  offsets: Tensor,
  options: GroupedMatmulOptions = {},
): Tensor {
  return tidy(() => {
    const gm = (a: Tensor, w: Tensor) => groupedMatmul(a, w, offsets, options);
    // silu(0)·0 = 0 keeps the zero tail rows zero through the down projection.
    return gm(mul(silu(gm(rows, experts.gate)), gm(rows, experts.up)), experts.down);
  });
}

/**
 * A mixture-of-experts SwiGLU layer, differentiable on every backend: top-k
 * routing (`moeRoute`), then the N·k assignments are sorted by expert (a
 * counting sort on the device), the routed token rows gathered into one
 * `[N·k, D]` buffer, each expert's SwiGLU run on its segment only
 * (`groupedSwiGLU`), and the outputs combined per token with the routing
 * weights (`combineGroups`).
 *
 * - dropless (no `capacityFactor`): `planGroups`. Work: N·k expert rows.
 * - with a capacity factor c: `planCapacityGroups` keeps each expert's first
 *   C = ⌈c·N·k/E⌉ assignments (first choices first, then tokens in order)
 *   and parks the rest after the segments, where they get zero output and
 *   zero gradient and are counted in `dropped`. Work: the kept rows,
 *   ≤ min(N·k, E·C).
 *
 * Where no grouped kernel exists (f16 on a device without `shader-f16`),
 * both fall back to padded per-expert buffers (`planDispatch`), of C rows
 * per expert (C = N when dropless: E·N rows).
 * Also returns the auxiliary losses and the routing counts.
 *
 * @param x `[N, D]` tokens
 * @param router `[D, E]` router projection
 */
export function moe(x: Tensor, router: Tensor, experts: ExpertWeights, options: MoeOptions): MoeResult {
  const { N, E } = checkMoeArgs('moe', x, router, experts, options);
  const k = options.topK;
  const capacity = expertCapacity(N, k, E, options.capacityFactor);
  const dropless = options.capacityFactor === undefined;
  const grouped = groupedMatmulSupported(x.backend, x.dtype);
  return tidy(() => {
    const logits = matmul(x, router);
    const routing = moeRoute(logits, options);
    const losses = {
      routing,
      loadBalancingLoss: switchLoadBalancingLoss(routing.probs, routing.indices),
      zLoss: routerZLoss(logits),
      capacity,
    };
    if (grouped) {
      const plan: GroupPlan & { dropped?: Tensor } = dropless
        ? planGroups(routing.indices, E)
        : planCapacityGroups(routing.indices, E, capacity);
      const out = groupedSwiGLU(gatherTokens(x, plan), experts, plan.offsets, { tail: !dropless });
      return {
        ...losses,
        y: combineGroups(out, routing.weights, plan),
        tokensPerExpert: plan.tokensPerExpert,
        dropped: plan.dropped ?? zeros([], { backend: x.backend }),
        expertRows: dropless ? N * k : Math.min(N * k, E * capacity),
      };
    }
    const plan = planDispatch(routing.indices, E, capacity);
    return {
      ...losses,
      y: combineTokens(expertsSwiGLU(dispatchTokens(x, plan), experts), routing.weights, plan),
      tokensPerExpert: plan.tokensPerExpert,
      dropped: plan.dropped,
      expertRows: E * capacity,
    };
  });
}
