import { contiguous, isGradEnabled, type Tensor } from '@dynconv/tensor';
import { type Binding, foldGrid, gpuBuffer, type KernelRuntime, runtimeOf } from '../common/gpu.js';
import { Uniforms } from '../common/uniforms.js';

/**
 * Shared launch code of the fused single-token decode kernels (forward only):
 * one thread per output element, 64 per workgroup, the 1-D grid folded into
 * 2-D past the per-dimension limit.
 */

export const STEP_WORKGROUP = 64;

export const stepUniforms = new Uniforms([
  ['total', 'u32'],
  ['gridX', 'u32'],
  ['inner', 'u32'],
  ['scale', 'f32'],
]);

/** WGSL prologue: `idx` (the thread's element) and an early return past `u.total`. */
export const stepThreadIndex = `let idx = (wid.x + wid.y * u.gridX) * ${STEP_WORKGROUP}u + lid;
  if (idx >= u.total) { return; }`;

export const stepMain = '@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32';

/**
 * The runtime when a decode step can run fused: WebGPU, f32, and no input
 * needing a gradient (decoding runs under `noGrad`; training never calls the steps).
 */
export function fusedStepRuntime(inputs: readonly Tensor[]): KernelRuntime | null {
  const rt = runtimeOf(inputs[0]!.backend);
  if (!rt || inputs.some((t) => t.dtype !== 'f32')) return null;
  if (isGradEnabled() && inputs.some((t) => t.requiresGrad)) return null;
  return rt;
}

/** A contiguous, offset-0 handle (the kernels index raw buffers). */
export const rawStep = (t: Tensor): Tensor => contiguous(t.detach());

export const bindStep = (t: Tensor, write = false): Binding => ({
  buffer: gpuBuffer(t),
  ...(write ? { write } : {}),
});

export function dispatchStep(
  rt: KernelRuntime,
  spec: { key: string; code: () => string; bindings: readonly Binding[] },
  dims: { total: number; inner: number; scale?: number },
): void {
  const folded = foldGrid(Math.ceil(dims.total / STEP_WORKGROUP), rt.maxWorkgroupsPerDimension);
  rt.dispatch({
    pipelineKey: spec.key,
    makeCode: spec.code,
    bindings: spec.bindings,
    uniforms: stepUniforms.pack({
      total: dims.total,
      gridX: folded.gridX,
      inner: dims.inner,
      scale: dims.scale ?? 1,
    }),
    workgroups: folded.grid,
  });
}

export const stepStorage = (binding: number, name: string, write = false): string =>
  `@group(0) @binding(${binding}) var<storage, ${write ? 'read_write' : 'read'}> ${name}: array<f32>;`;
