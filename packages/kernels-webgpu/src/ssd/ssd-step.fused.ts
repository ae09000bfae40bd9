import { narrow, reshape, type Tensor, tidy, zeros } from '@dynconv/tensor';
import { foldGrid, type KernelRuntime, output } from '../common/gpu.js';
import { bindStep, rawStep, STEP_WORKGROUP } from '../linear-scan/step-launch.js';
import type { SsdStepResult } from './ssd-step.js';
import { ssdStepKey, ssdStepUniforms, ssdStepWgsl } from './ssd-step.wgsl.js';

/** The fused WebGPU decode step of SSD (forward only; validated by `ssdStep`). */
export function ssdStepFused(
  rt: KernelRuntime,
  x: Tensor,
  dt: Tensor,
  A: Tensor,
  Bm: Tensor,
  Cm: Tensor,
  state: Tensor,
  D: Tensor | undefined,
): SsdStepResult {
  return tidy(() => {
    const [B, H, P] = x.shape as [number, number, number];
    const [G, N] = Bm.shape.slice(1) as [number, number];
    const total = B * H * P;
    const skip = D ?? zeros([H], { backend: x.backend });
    const ou = output(x.backend, [total + total * N], 'f32');
    const operands = [x, dt, A, Bm, Cm, skip, state].map((t) => bindStep(rawStep(t)));
    const folded = foldGrid(Math.ceil(total / STEP_WORKGROUP), rt.maxWorkgroupsPerDimension);
    rt.dispatch({
      pipelineKey: ssdStepKey(N),
      makeCode: () => ssdStepWgsl(N),
      bindings: [...operands, bindStep(ou, true)],
      uniforms: ssdStepUniforms.pack({ total, gridX: folded.gridX, H, P, G }),
      workgroups: folded.grid,
    });
    return {
      y: reshape(narrow(ou, 0, 0, total), [B, H, P]),
      state: reshape(narrow(ou, 0, total, total * N), [B, H, P, N]),
    };
  });
}
