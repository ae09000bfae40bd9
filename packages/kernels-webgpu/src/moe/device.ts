import { contiguous, type Tensor } from '@dynconv/tensor';
import { type Binding, gpuBuffer } from '../common/gpu.js';

/**
 * A contiguous, offset-0 handle with no graph (the kernels index raw
 * buffers). The intermediate detached handle is freed here, so callers
 * outside a scope leak nothing.
 */
export function raw(t: Tensor): Tensor {
  const d = t.detach();
  const c = contiguous(d);
  d.dispose();
  return c;
}

/** Storage binding of a raw tensor. */
export const bind = (t: Tensor, write = false): Binding => ({
  buffer: gpuBuffer(t),
  ...(write ? { write } : {}),
});
