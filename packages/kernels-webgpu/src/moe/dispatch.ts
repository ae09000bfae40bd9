import {
  add,
  arange,
  cast,
  concat,
  cumsum,
  eq,
  indexSelect,
  lt,
  mul,
  narrow,
  reshape,
  scatterAdd,
  sub,
  sum,
  type Tensor,
  tensor,
  tidy,
  transpose,
  where,
  zeros,
} from '@dynconv/tensor';

/**
 * Where each (token, slot) assignment goes in the padded expert buffer
 * `[E, C, D]` (the fallback of `moe` where no grouped kernel exists; the
 * grouped path sorts the assignments instead, see `planGroups` and
 * `planCapacityGroups`, which keeps the same capacity priority).
 * Built on the device from the router's indices with static shapes only
 * (no read-back), so a training step stays one synchronous graph.
 *
 * Assignments are ordered slot-major (every token's first choice before any
 * second choice, tokens in order within a slot), so under a capacity limit
 * first choices win, as in GShard/Switch.
 */
export interface DispatchPlan {
  readonly numExperts: number;
  /** Rows per expert (C). */
  readonly capacity: number;
  /** `[k·N]` i32: assignment a (slot ⌊a/N⌋, token a mod N) → buffer row `e·C + position`, or `E·C` if dropped. */
  readonly rows: Tensor;
  /** `[k·N]` i32: the token of each assignment (a mod N). */
  readonly tokens: Tensor;
  /** `[E]` assignments each expert received before the capacity cut. */
  readonly tokensPerExpert: Tensor;
  /** Scalar: assignments dropped by the capacity limit (they fall back to the residual path). */
  readonly dropped: Tensor;
}

/**
 * Rows per expert: `⌈capacityFactor · N · k / E⌉`, clamped to 1..N; without a
 * capacity factor N — an expert can receive each token at most once — so
 * nothing is ever dropped (the padded dropless fallback of `moe`).
 */
export function expertCapacity(
  tokens: number,
  topK: number,
  numExperts: number,
  capacityFactor?: number,
): number {
  if (capacityFactor === undefined) return Math.max(1, tokens);
  return Math.min(Math.max(1, tokens), Math.max(1, Math.ceil((capacityFactor * tokens * topK) / numExperts)));
}

/** Plans the dispatch of `indices [N, k]` (i32) into `numExperts` experts of `capacity` rows. */
export function planDispatch(indices: Tensor, numExperts: number, capacity: number): DispatchPlan {
  return tidy(() => {
    const [N, k] = indices.shape as [number, number];
    const backend = indices.backend;
    const expertOf = reshape(transpose(indices), [k * N]); // slot-major
    const experts = reshape(arange(0, numExperts, 1, { dtype: 'i32', backend }), [1, numExperts]);
    const oneHot = cast(eq(reshape(expertOf, [k * N, 1]), experts), 'f32'); // [kN, E]
    // 0-based arrival position of each assignment at its expert (counts are exact in f32 below 2^24).
    const position = sub(sum(mul(cumsum(oneHot, 0), oneHot), -1), 1);
    const kept = lt(position, capacity);
    const row = add(mul(cast(expertOf, 'f32'), capacity), position);
    const rows = cast(where(kept, row, numExperts * capacity), 'i32');
    const tokenIds = Int32Array.from({ length: k * N }, (_, a) => a % N);
    return {
      numExperts,
      capacity,
      rows,
      tokens: tensor(tokenIds, { shape: [k * N], dtype: 'i32', backend }),
      tokensPerExpert: sum(oneHot, 0),
      dropped: sub(k * N, sum(kept)),
    };
  });
}

/**
 * Gathers each assignment's token into the expert buffer: `[E, C, D]`, rows
 * past an expert's arrivals are zero. Differentiable w.r.t. x.
 *
 * @param x `[N, D]`
 */
export function dispatchTokens(x: Tensor, plan: DispatchPlan): Tensor {
  return tidy(() => {
    const D = x.shape[1]!;
    const { numExperts: E, capacity: C } = plan;
    // One spare row (E·C) absorbs every dropped assignment; it is cut off below.
    const empty = zeros([E * C + 1, D], { dtype: x.dtype, backend: x.backend });
    const buffer = scatterAdd(empty, 0, plan.rows, indexSelect(x, 0, plan.tokens));
    return reshape(narrow(buffer, 0, 0, E * C), [E, C, D]);
  });
}

/**
 * Combines expert outputs `[E, C, D]` back into tokens: `y_t = Σ_s w[t, s] ·
 * out[row(t, s)]`, dropped assignments contributing 0. Differentiable w.r.t.
 * the outputs and the weights.
 *
 * @param weights `[N, k]` combine weights
 * @returns `[N, D]`
 */
export function combineTokens(expertOut: Tensor, weights: Tensor, plan: DispatchPlan): Tensor {
  return tidy(() => {
    const [N, k] = weights.shape as [number, number];
    const [E, C, D] = expertOut.shape as [number, number, number];
    const zeroRow = zeros([1, D], { dtype: expertOut.dtype, backend: expertOut.backend });
    const rows = concat([reshape(expertOut, [E * C, D]), zeroRow], 0); // row E·C reads 0 for dropped
    const perAssignment = indexSelect(rows, 0, plan.rows); // [kN, D]
    const weighted = mul(perAssignment, reshape(transpose(weights), [k * N, 1]));
    return sum(reshape(weighted, [k, N, D]), 0);
  });
}
