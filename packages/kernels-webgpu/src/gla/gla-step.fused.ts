import { narrow, reshape, type Tensor, tidy } from '@dynconv/tensor';
import { type KernelRuntime, output } from '../common/gpu.js';
import { bindStep, dispatchStep, rawStep } from '../linear-scan/step-launch.js';
import type { GlaStepResult } from './gla-step.js';
import { glaStepKey, glaStepWgsl } from './gla-step.wgsl.js';

/** The fused WebGPU decode step of GLA (forward only; validated by `glaStep`). */
export function glaStepFused(
  rt: KernelRuntime,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  gk: Tensor,
  state: Tensor,
  scale: number,
): GlaStepResult {
  return tidy(() => {
    const [B, H, K] = q.shape as [number, number, number];
    const V = v.shape[2]!;
    const total = B * H * V;
    const ou = output(q.backend, [total + B * H * K * V], 'f32');
    const operands = [q, k, v, gk, state].map((t) => bindStep(rawStep(t)));
    dispatchStep(
      rt,
      { key: glaStepKey(K), code: () => glaStepWgsl(K), bindings: [...operands, bindStep(ou, true)] },
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
