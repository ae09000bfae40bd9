import { add, exp, matmul, mul, reshape, type Tensor, tidy } from '@dynconv/tensor';
import { fusedStepRuntime } from '../linear-scan/step-launch.js';
import { checkSameFloat, checkShape } from '../linear-scan/validate.js';
import { glaStepFused } from './gla-step.fused.js';

const OP = 'glaStep';

/** Output of one recurrent step. */
export interface GlaStepResult {
  /** `[B, H, V]` */
  o: Tensor;
  /** `[B, H, K, V]` */
  state: Tensor;
}

/**
 * One token of gated linear attention (decode; also the body of the recurrent
 * reference). Per head, with state `S ∈ R^{K×V}` and a decay per key channel:
 * `S ← diag(exp(gk))·S + k vᵀ`, `o = Sᵀ(q·scale)`. On WebGPU without gradients
 * (decoding) it runs as one fused kernel.
 *
 * @param q `[B, H, K]`
 * @param k `[B, H, K]`
 * @param v `[B, H, V]`
 * @param gk `[B, H, K]` log-decay per key channel (≤ 0)
 * @param state `[B, H, K, V]`
 * @param scale query scale (default 1/√K)
 */
export function glaStep(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  gk: Tensor,
  state: Tensor,
  scale?: number,
): GlaStepResult {
  checkSameFloat(OP, { q, k, v, gk, state });
  const [batch, H, K] = checkShape(OP, 'q', q, [null, null, null], 'B, H, K') as [number, number, number];
  checkShape(OP, 'k', k, [batch, H, K], 'B, H, K');
  const [V] = checkShape(OP, 'v', v, [batch, H, null], 'B, H, V') as [number];
  checkShape(OP, 'gk', gk, [batch, H, K], 'B, H, K');
  checkShape(OP, 'state', state, [batch, H, K, V], 'B, H, K, V');
  const s = scale ?? 1 / Math.sqrt(K);
  const rt = fusedStepRuntime([q, k, v, gk, state]);
  return rt ? glaStepFused(rt, q, k, v, gk, state, s) : glaStepUnchecked(q, k, v, gk, state, s);
}

/** {@link glaStep} without argument checks (the recurrent reference calls it T times). */
export function glaStepUnchecked(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  gk: Tensor,
  state: Tensor,
  scale: number,
): GlaStepResult {
  return tidy(() => {
    const [batch, H, K] = q.shape as [number, number, number];
    const V = v.shape[2]!;
    const column = (t: Tensor) => reshape(t, [batch, H, K, 1]);
    const next = add(mul(state, column(exp(gk))), mul(column(k), reshape(v, [batch, H, 1, V])));
    const o = reshape(matmul(reshape(mul(q, scale), [batch, H, 1, K]), next), [batch, H, V]);
    return { o, state: next };
  });
}
