import type { Backend } from '@dynconv/tensor';
import { createNodeWebGPUBackend } from '@dynconv/tensor/node';
import { test as base } from 'vitest';

/** A worker-scoped WebGPU backend (Dawn: Vulkan on NVIDIA, llvmpipe elsewhere). */
export const gpuTest = base.extend('backend', { scope: 'worker' }, async ({}, { onCleanup }) => {
  const backend = await createNodeWebGPUBackend();
  onCleanup(() => backend.destroy());
  return backend as Backend;
});

/** Largest absolute difference over the largest magnitude of `b` (Infinity when the lengths differ). */
export const maxRelDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < b.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]!));
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
  }
  return a.length === b.length ? diff / Math.max(scale, 1e-12) : Number.POSITIVE_INFINITY;
};
