import type { Backend } from '@dynconv/tensor';
import { createNodeWebGPUBackend } from '@dynconv/tensor/node';
import { test as base } from 'vitest';

/** vitest `test` with a worker-scoped WebGPU `backend` (Dawn: Vulkan on NVIDIA, llvmpipe elsewhere). */
export const gpuTest = base.extend('backend', { scope: 'worker' }, async ({}, { onCleanup }) => {
  const backend = await createNodeWebGPUBackend();
  onCleanup(() => backend.destroy());
  return backend as Backend;
});

/** The pipeline keys `fn` dispatches (see `@dynconv/tensor/testing`). */
export { dispatchedKeys } from '@dynconv/tensor/testing';
