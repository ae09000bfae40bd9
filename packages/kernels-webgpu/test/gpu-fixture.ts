import type { Backend } from '@dynconv/tensor';
import { createNodeWebGPUBackend } from '@dynconv/tensor/node';
import { test as base } from 'vitest';

/**
 * vitest `test` with a worker-scoped WebGPU `backend` (Dawn: Vulkan on an
 * NVIDIA machine, llvmpipe elsewhere), shared by the files a worker runs.
 * DYNCONV_TEST=1 (vitest env) turns buffer poisoning on: unwritten reads show as NaN.
 */
export const gpuTest = base.extend('backend', { scope: 'worker' }, async ({}, { onCleanup }) => {
  const backend = await createNodeWebGPUBackend();
  onCleanup(() => backend.destroy());
  return backend as Backend;
});
