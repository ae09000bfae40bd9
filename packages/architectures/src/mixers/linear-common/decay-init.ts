import { asParameter, type InitOptions } from '@dynconv/layers';
import { add, exp, log, maximum, mul, neg, rand, sub, type Tensor, tidy } from '@dynconv/tensor';

/**
 * Initialisations of the decay parameters (Mamba-2 `mamba2_simple`, fla Gated
 * DeltaNet), drawn from the generator on the target backend.
 */

/**
 * `dt_bias` such that `softplus(dt_bias) = dt` with
 * `dt = exp(U(log dtMin, log dtMax))` clamped to ≥ `floor`:
 * `dt_bias = dt + log(1 − exp(−dt))` (the inverse of softplus).
 */
export function initDtBias(
  heads: number,
  dtMin: number,
  dtMax: number,
  o: InitOptions,
  floor = 1e-4,
): Tensor {
  return asParameter(
    tidy(() => {
      const u = rand([heads], { generator: o.generator, ...(o.backend ? { backend: o.backend } : {}) });
      const dt = maximum(exp(add(mul(u, Math.log(dtMax) - Math.log(dtMin)), Math.log(dtMin))), floor);
      return add(dt, log(sub(1, exp(neg(dt)))));
    }),
  );
}

/** `A_log = log(U(lo, hi))` (Mamba-2: A ∈ [1, 16]; fla GDN: A ∈ (0, 16]). */
export function initALog(heads: number, lo: number, hi: number, o: InitOptions): Tensor {
  return asParameter(
    tidy(() => {
      const u = rand([heads], { generator: o.generator, ...(o.backend ? { backend: o.backend } : {}) });
      // A_log = log(lo + (hi − lo)·u), with u ∈ [0, 1): lo > 0 keeps the log finite (fla's U(0,16) is open at 0).
      return log(u.mul(hi - lo).add(lo));
    }),
  );
}
