import { type GpuRuntime, gpuBufferOf, type Tensor, WebGPUBackend } from '@dynconv/tensor';

/**
 * The layers' fused elementwise kernels (RoPE + head split, SwiGLU) and the
 * contiguous weight gradient of `linear`. `enabled: false` (or the env
 * `DYNCONV_LAYER_FUSION=0` at load) runs the composed ops instead: the
 * reference path, and the baseline of the e2e measurement.
 */
export const layerFusion = {
  enabled:
    (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env
      ?.DYNCONV_LAYER_FUSION !== '0',
};

/** The WebGPU runtime that runs a fused kernel on `t` (f32 storage), or null: use the composed reference. */
export function fusedRuntime(t: Tensor): GpuRuntime | null {
  if (!layerFusion.enabled || t.dtype !== 'f32') return null;
  return t.backend instanceof WebGPUBackend ? t.backend.runtime : null;
}

/** The `GPUBuffer` behind a tensor's storage (bind with the tensor's element offset). */
export const bufferOf = (t: Tensor): GPUBuffer => gpuBufferOf(t.storage.buffer);

/** Workgroup size of the elementwise kernels here (one thread per element). */
export const WORKGROUP = 256;

/**
 * A `[..., n]` view as rows of `n` unit-stride elements, `rowStride` apart,
 * starting at `offset`; null when the leading dims do not collapse to one
 * stride (the caller makes it contiguous first).
 */
export function rowsOf(t: Tensor): { rows: number; rowStride: number; offset: number } | null {
  const r = t.rank;
  const n = t.shape[r - 1]!;
  if (r === 0 || (t.strides[r - 1] !== 1 && n > 1)) return null;
  let rows = 1;
  let rowStride = n;
  let expect = -1;
  for (let i = r - 2; i >= 0; i--) {
    const d = t.shape[i]!;
    if (d === 1) continue;
    if (expect === -1) rowStride = t.strides[i]!;
    else if (t.strides[i] !== expect) return null;
    expect = t.strides[i]! * d;
    rows *= d;
  }
  return { rows, rowStride, offset: t.offset };
}
