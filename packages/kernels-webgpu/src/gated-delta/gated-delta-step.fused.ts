import { narrow, reshape, type Tensor, tidy } from '@dynconv/tensor';
import { type KernelRuntime, output } from '../common/gpu.js';
import { bindStep, dispatchStep, rawStep } from '../linear-scan/step-launch.js';
import type { GatedDeltaStepResult } from './gated-delta-step.js';
import { gatedDeltaStepKey, gatedDeltaStepWgsl } from './gated-delta-step.wgsl.js';

/** The fused WebGPU decode step of the gated delta rule (forward only; validated by `gatedDeltaStep`). */
export function gatedDeltaStepFused(
  rt: KernelRuntime,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  g: Tensor,
  beta: Tensor,
  state: Tensor,
  scale: number,
): GatedDeltaStepResult {
  return tidy(() => {
    const [B, H, K] = q.shape as [number, number, number];
    const V = v.shape[2]!;
    const total = B * H * V;
    const ou = output(q.backend, [total + B * H * K * V], 'f32');
    const operands = [q, k, v, g, beta, state].map((t) => bindStep(rawStep(t)));
    dispatchStep(
      rt,
      {
        key: gatedDeltaStepKey(K),
        code: () => gatedDeltaStepWgsl(K),
        bindings: [...operands, bindStep(ou, true)],
      },
      {
        total,
        inner: V,
        scale,
      },
    );
    return {
      o: reshape(narrow(ou, 0, 0, total), [B, H, V]),
      state: reshape(narrow(ou, 0, total, B * H * K * V), [B, H, K, V]),
    };
  });
}
