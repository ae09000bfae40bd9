import type { Backend } from '@dynconv/tensor';
import { createNodeWebGPUBackend } from '@dynconv/tensor/node';
import { test as base } from 'vitest';

/** vitest `test` with a worker-scoped WebGPU `backend` (Dawn: Vulkan on NVIDIA, llvmpipe elsewhere). */
export const gpuTest = base.extend('backend', { scope: 'worker' }, async ({}, { onCleanup }) => {
  const backend = await createNodeWebGPUBackend();
  onCleanup(() => backend.destroy());
  return backend as Backend;
});

/**
 * The pipeline keys `fn` dispatches on a WebGPU backend, in order, without the
 * runtime's own buffer fills (tests poison every new buffer with NaN).
 */
export function dispatchedKeys(backend: Backend, fn: () => void): string[] {
  const rt = (backend as unknown as { runtime: { dispatch(spec: { pipelineKey: string }): void } }).runtime;
  const keys: string[] = [];
  const dispatch = rt.dispatch;
  rt.dispatch = function (this: unknown, spec) {
    if (!spec.pipelineKey.startsWith('runtime.')) keys.push(spec.pipelineKey);
    return dispatch.call(this, spec);
  };
  try {
    fn();
  } finally {
    rt.dispatch = dispatch;
  }
  return keys;
}
