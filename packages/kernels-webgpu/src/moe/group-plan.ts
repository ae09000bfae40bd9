import {
  add,
  arange,
  cast,
  concat,
  cumsum,
  eq,
  indexSelect,
  mul,
  record,
  reshape,
  sub,
  sum,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from '@dynconv/tensor';
import { invertPermutation } from './permutation.js';

/**
 * The dropless grouping of the N·k (token, slot) assignments by expert, as a
 * deterministic counting sort built on the device from the router's indices
 * (static shapes, no read-back, so a training step stays one graph).
 *
 * Assignment a = t·k + s is token t's s-th choice. Sorted rows hold expert
 * 0's assignments, then expert 1's, …; within an expert, in assignment
 * order (so tokens ascend: an expert gets each token at most once).
 */
export interface GroupPlan {
  readonly numExperts: number;
  readonly topK: number;
  /** N */
  readonly tokens: number;
  /** `[N·k]` i32: assignment → its row in the expert-sorted buffer. */
  readonly rows: Tensor;
  /** `[N·k]` i32: sorted row → its assignment (the inverse permutation of `rows`). */
  readonly order: Tensor;
  /** `[N·k]` i32: sorted row → its token. */
  readonly tokenOfRow: Tensor;
  /**
   * `[E + 1]` i32: expert e owns sorted rows `[offsets[e], offsets[e + 1])`.
   * `offsets[E]` is N·k here; a capacity plan (`planCapacityGroups`) ends
   * the segments earlier and parks its dropped rows after them.
   */
  readonly offsets: Tensor;
  /** `[E]` f32: assignments each expert received. */
  readonly tokensPerExpert: Tensor;
}

/** Groups `indices [N, k]` (i32, distinct experts per token) by expert. */
export function planGroups(indices: Tensor, numExperts: number): GroupPlan {
  return tidy(() => {
    const [N, k] = indices.shape as [number, number];
    const A = N * k;
    const E = numExperts;
    const backend = indices.backend;
    const expertOf = reshape(indices, [A]);
    const ids = reshape(arange(0, E, 1, { dtype: 'i32', backend }), [E, 1]);
    const hit = cast(eq(ids, reshape(expertOf, [1, A])), 'i32'); // [E, A]
    // Counting sort: an assignment's rank among its expert's arrivals, plus the expert's start row.
    const rank = sub(sum(mul(cumsum(hit, -1), hit), 0), 1); // [A]
    const counts = sum(hit, -1); // [E]
    const ends = cumsum(counts, 0);
    const rows = add(indexSelect(sub(ends, counts), 0, expertOf), rank);
    return groupPlanFromRows(rows, ends, counts, N, k);
  });
}

/**
 * Completes a plan from the assignment → row permutation `rows` `[N·k]`, the
 * segment ends `[E]` and the per-expert arrival counts `[E]` (all i32):
 * derives the inverse order, each row's token and the offsets. Call inside
 * a `tidy`.
 */
export function groupPlanFromRows(
  rows: Tensor,
  ends: Tensor,
  counts: Tensor,
  N: number,
  k: number,
): GroupPlan {
  const backend = rows.backend;
  const order = invertPermutation(rows);
  const tokenOfAssignment = tensor(
    Int32Array.from({ length: N * k }, (_, a) => Math.floor(a / k)),
    { shape: [N * k], dtype: 'i32', backend },
  );
  return {
    numExperts: counts.shape[0]!,
    topK: k,
    tokens: N,
    rows,
    order,
    tokenOfRow: indexSelect(tokenOfAssignment, 0, order),
    offsets: concat([zeros([1], { dtype: 'i32', backend }), ends], 0),
    tokensPerExpert: cast(counts, 'f32'),
  };
}

/**
 * Copies each token row into the expert-sorted buffer: `[N, D]` →
 * `[N·k, D]` (row r holds token `tokenOfRow[r]`). Backward: each token sums
 * the gradients of its k rows, in slot order (a gather, no scatter); a
 * dropped row's gradient is the zero the grouped matmul gives rows past
 * `offsets[E]`.
 */
export function gatherTokens(x: Tensor, plan: GroupPlan): Tensor {
  const { tokens: N, topK: k } = plan;
  const D = x.shape[1]!;
  return tidy(() => {
    const out = indexSelect(x.detach(), 0, plan.tokenOfRow);
    record('moeGatherTokens', [x], [out], [plan.rows], ([g], [rows]) => [
      sum(reshape(indexSelect(g!, 0, rows!), [N, k, D]), 1),
    ]);
    return out;
  });
}

/** `src[index[i]]` for a permutation `index`; the backward gathers through `inverse`. */
function permuteRows(src: Tensor, index: Tensor, inverse: Tensor): Tensor {
  return tidy(() => {
    const out = indexSelect(src.detach(), 0, index);
    record('moePermuteRows', [src], [out], [inverse], ([g], [inv]) => [indexSelect(g!, 0, inv!)]);
    return out;
  });
}

/**
 * Combines the expert outputs of the sorted rows back into tokens:
 * `y_t = Σ_s w[t, s] · out[rows[t·k + s]]`, summed in slot order. A dropped
 * assignment reads its zero row past `offsets[E]`, so it adds nothing and
 * its weight gets zero gradient. Differentiable w.r.t. the outputs and the
 * weights.
 *
 * @param expertOut `[N·k, D]` in sorted-row order
 * @param weights `[N, k]` combine weights
 * @returns `[N, D]`
 */
export function combineGroups(expertOut: Tensor, weights: Tensor, plan: GroupPlan): Tensor {
  const { tokens: N, topK: k } = plan;
  const D = expertOut.shape[1]!;
  return tidy(() => {
    const perAssignment = reshape(permuteRows(expertOut, plan.rows, plan.order), [N, k, D]);
    return sum(mul(perAssignment, reshape(weights, [N, k, 1])), 1);
  });
}
