import {
  add,
  arange,
  cast,
  cumsum,
  eq,
  indexSelect,
  lt,
  minimum,
  mul,
  reshape,
  sub,
  sum,
  type Tensor,
  tidy,
  transpose,
  where,
} from '@dynconv/tensor';
import { type GroupPlan, groupPlanFromRows } from './group-plan.js';

/**
 * A `GroupPlan` under a capacity limit of C rows per expert: expert e's
 * segment holds only its first min(n_e, C) assignments in priority order,
 * and the dropped assignments are parked after the last segment
 * (`offsets[E]` = kept total ≤ N·k), where no expert processes them.
 *
 * The priority is slot-major, as in GShard/Switch and the padded
 * `planDispatch`: every token's first choice before any second choice,
 * tokens in order within a slot. Kept rows sit in that order inside their
 * segment; dropped rows follow in assignment order.
 */
export interface CapacityGroupPlan extends GroupPlan {
  /** Rows per expert (C). */
  readonly capacity: number;
  /** Scalar f32: assignments dropped by the capacity limit (they fall back to the residual path). */
  readonly dropped: Tensor;
}

/**
 * Groups `indices [N, k]` (i32, distinct experts per token) by expert with at
 * most `capacity` rows per expert — a counting sort on the device, like
 * `planGroups`, with static shapes and no read-back.
 */
export function planCapacityGroups(indices: Tensor, numExperts: number, capacity: number): CapacityGroupPlan {
  return tidy(() => {
    const [N, k] = indices.shape as [number, number];
    const A = N * k;
    const E = numExperts;
    const backend = indices.backend;
    const expertOf = reshape(indices, [A]); // assignment a = t·k + s
    const ids = reshape(arange(0, E, 1, { dtype: 'i32', backend }), [E, 1]);
    // Arrival rank at the expert in priority (slot-major) order, then back to assignment order.
    const hit = cast(eq(ids, reshape(transpose(indices), [1, A])), 'i32'); // [E, A] slot-major
    const rankBySlot = sub(sum(mul(cumsum(hit, -1), hit), 0), 1);
    const rank = reshape(transpose(reshape(rankBySlot, [k, N])), [A]);
    const counts = sum(hit, -1); // [E]
    const keptCounts = minimum(counts, capacity);
    const ends = cumsum(keptCounts, 0);
    const keptTotal = ends.narrow(0, E - 1, 1); // [1]
    const kept = lt(rank, capacity); // i32 1/0
    const keptRow = add(indexSelect(sub(ends, keptCounts), 0, expertOf), rank);
    // Dropped assignments fill rows keptTotal.. in assignment order (a permutation overall).
    const droppedRow = add(keptTotal, sub(cumsum(sub(1, kept), 0), 1));
    const rows = where(kept, keptRow, droppedRow);
    return {
      ...groupPlanFromRows(rows, ends, counts, N, k),
      capacity,
      dropped: reshape(cast(sub(A, keptTotal), 'f32'), []),
    };
  });
}
