import { add, exp, matmul, mul, reshape, type Tensor, tidy } from '@dynconv/tensor';
import { expandGroups } from '../linear-scan/groups.js';
import { fusedStepRuntime } from '../linear-scan/step-launch.js';
import { checkGroups, checkSameFloat, checkShape } from '../linear-scan/validate.js';
import { ssdStepFused } from './ssd-step.fused.js';

const OP = 'ssdStep';

/** Output of one recurrent step. */
export interface SsdStepResult {
  /** `[B, H, P]` */
  y: Tensor;
  /** `[B, H, P, N]` */
  state: Tensor;
}

/**
 * One token of the Mamba-2 SSD recurrence (decode; also the body of the
 * recurrent reference). Per head h, with state `S ∈ R^{P×N}`:
 * `S ← exp(dt·A[h]) · S + (dt·x) ⊗ B`, `y = S·C + D[h]·x`. On WebGPU without
 * gradients (decoding) it runs as one fused kernel.
 *
 * @param x `[B, H, P]`
 * @param dt `[B, H]` step sizes (after softplus)
 * @param A `[H]` decay rates (negative)
 * @param Bm `[B, G, N]` input projection, G groups dividing H
 * @param Cm `[B, G, N]` output projection
 * @param state `[B, H, P, N]`
 * @param D `[H]` optional skip
 */
export function ssdStep(
  x: Tensor,
  dt: Tensor,
  A: Tensor,
  Bm: Tensor,
  Cm: Tensor,
  state: Tensor,
  D?: Tensor,
): SsdStepResult {
  checkSameFloat(OP, { x, dt, A, B: Bm, C: Cm, state, D });
  const [batch, H, P] = checkShape(OP, 'x', x, [null, null, null], 'B, H, P') as [number, number, number];
  checkShape(OP, 'dt', dt, [batch, H], 'B, H');
  checkShape(OP, 'A', A, [H], 'H');
  const [G, N] = checkShape(OP, 'B', Bm, [batch, null, null], 'B, G, N') as [number, number];
  checkGroups(OP, 'B', G, H, Bm.shape);
  checkShape(OP, 'C', Cm, [batch, G, N], 'B, G, N');
  checkShape(OP, 'state', state, [batch, H, P, N], 'B, H, P, N');
  if (D) checkShape(OP, 'D', D, [H], 'H');
  const rt = fusedStepRuntime([x, dt, A, Bm, Cm, state, ...(D ? [D] : [])]);
  return rt ? ssdStepFused(rt, x, dt, A, Bm, Cm, state, D) : ssdStepUnchecked(x, dt, A, Bm, Cm, state, D);
}

/**
 * {@link ssdStep} without argument checks (the recurrent reference calls it T
 * times). `logDecayOffset [B, H]` is added to `dt·A` (document resets).
 */
export function ssdStepUnchecked(
  x: Tensor,
  dt: Tensor,
  A: Tensor,
  Bm: Tensor,
  Cm: Tensor,
  state: Tensor,
  D?: Tensor,
  logDecayOffset?: Tensor,
): SsdStepResult {
  return tidy(() => {
    const [batch, H, P] = x.shape as [number, number, number];
    const N = Bm.shape[2]!;
    const logDecay = logDecayOffset ? add(mul(dt, A), logDecayOffset) : mul(dt, A);
    const decay = reshape(exp(logDecay), [batch, H, 1, 1]);
    const xdt = mul(x, reshape(dt, [batch, H, 1]));
    const b = expandGroups(Bm, H);
    const c = expandGroups(Cm, H);
    const next = add(mul(state, decay), mul(reshape(xdt, [batch, H, P, 1]), reshape(b, [batch, H, 1, N])));
    let y = reshape(matmul(next, reshape(c, [batch, H, N, 1])), [batch, H, P]);
    if (D) y = add(y, mul(x, reshape(D, [H, 1])));
    return { y, state: next };
  });
}
