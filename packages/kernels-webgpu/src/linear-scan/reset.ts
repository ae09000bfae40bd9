import { arange, cast, eq, gt, mul, reshape, type Tensor, tidy } from '@dynconv/tensor';

/**
 * Log-decay that wipes a recurrent state: `exp(−200)` underflows to 0 in f32
 * (and is < 1e-86 in f64), yet stays small enough that cumulative sums of
 * log-decays within a chunk lose only ~1e-5 to cancellation.
 */
export const RESET_LOG_DECAY = -200;

/**
 * `[B, T]` log-decay offsets for packed documents: `RESET_LOG_DECAY` at every
 * token that starts a document after position 0 (`docStart[b, t] == t > 0`),
 * else 0. Added to a mixer's log-decay, it makes that token start from a zero
 * state, so no document sees another's tokens. Position 0 never resets: the
 * state before it is the caller's `initialState`.
 *
 * @param docStart i32 `[B, T]`
 */
export function documentResets(docStart: Tensor, dtype: Tensor['dtype']): Tensor {
  return tidy(() => {
    const T = docStart.shape[1]!;
    const positions = reshape(arange(0, T, 1, { dtype: 'i32', backend: docStart.backend }), [1, T]);
    const starts = mul(cast(eq(docStart, positions), dtype), cast(gt(positions, 0), dtype));
    return mul(starts, RESET_LOG_DECAY);
  });
}
