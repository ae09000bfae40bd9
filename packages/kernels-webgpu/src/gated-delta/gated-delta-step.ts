import { add, exp, matmul, mul, reshape, sub, type Tensor, tidy } from '@dynconv/tensor';
import { fusedStepRuntime } from '../linear-scan/step-launch.js';
import { checkSameFloat, checkShape } from '../linear-scan/validate.js';
import { gatedDeltaStepFused } from './gated-delta-step.fused.js';

const OP = 'gatedDeltaStep';

/** Output of one recurrent step. */
export interface GatedDeltaStepResult {
  /** `[B, H, V]` */
  o: Tensor;
  /** `[B, H, K, V]` */
  state: Tensor;
}

/**
 * One token of the gated delta rule (decode; also the body of the recurrent
 * reference). Per head, with state `S ∈ R^{K×V}` (fla orientation):
 * `S ← exp(g)·S`, `u = β·(v − Sᵀk)`, `S ← S + k uᵀ`, `o = Sᵀ(q·scale)`.
 * q and k are used as given (normalise them before, e.g. L2 per head).
 * On WebGPU without gradients (decoding) it runs as one fused kernel.
 *
 * @param q `[B, H, K]`
 * @param k `[B, H, K]`
 * @param v `[B, H, V]`
 * @param g `[B, H]` log-decay (≤ 0)
 * @param beta `[B, H]` write strength in (0, 1)
 * @param state `[B, H, K, V]`
 * @param scale query scale (default 1/√K)
 */
export function gatedDeltaStep(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  g: Tensor,
  beta: Tensor,
  state: Tensor,
  scale?: number,
): GatedDeltaStepResult {
  checkSameFloat(OP, { q, k, v, g, beta, state });
  const [batch, H, K] = checkShape(OP, 'q', q, [null, null, null], 'B, H, K') as [number, number, number];
  checkShape(OP, 'k', k, [batch, H, K], 'B, H, K');
  const [V] = checkShape(OP, 'v', v, [batch, H, null], 'B, H, V') as [number];
  checkShape(OP, 'g', g, [batch, H], 'B, H');
  checkShape(OP, 'beta', beta, [batch, H], 'B, H');
  checkShape(OP, 'state', state, [batch, H, K, V], 'B, H, K, V');
  const s = scale ?? 1 / Math.sqrt(K);
  const rt = fusedStepRuntime([q, k, v, g, beta, state]);
  return rt
    ? gatedDeltaStepFused(rt, q, k, v, g, beta, state, s)
    : gatedDeltaStepUnchecked(q, k, v, g, beta, state, s);
}

/** {@link gatedDeltaStep} without argument checks (the recurrent reference calls it T times). */
export function gatedDeltaStepUnchecked(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  g: Tensor,
  beta: Tensor,
  state: Tensor,
  scale: number,
): GatedDeltaStepResult {
  return tidy(() => {
    const [batch, H, K] = q.shape as [number, number, number];
    const V = v.shape[2]!;
    const decayed = mul(state, reshape(exp(g), [batch, H, 1, 1]));
    const row = (t: Tensor, n: number) => reshape(t, [batch, H, 1, n]);
    const predicted = matmul(row(k, K), decayed); // (Sᵀk)ᵀ: [B, H, 1, V]
    const u = mul(sub(row(v, V), predicted), reshape(beta, [batch, H, 1, 1]));
    const next = add(decayed, mul(reshape(k, [batch, H, K, 1]), u));
    const o = reshape(matmul(row(mul(q, scale), K), next), [batch, H, V]);
    return { o, state: next };
  });
}
