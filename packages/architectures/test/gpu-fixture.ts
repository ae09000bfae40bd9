import { type Backend, concat, narrow, type Tensor, tidy } from '@dynconv/tensor';
import { createNodeWebGPUBackend } from '@dynconv/tensor/node';
import { test as base } from 'vitest';
import type { ModelV1 } from '../src/index.js';

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

/**
 * Decodes `ids` `[B, T]` step by step on `model`, in the given (start, length)
 * chunks (a prefill chunk, then single tokens, ...), and returns the
 * concatenated logits `[B, T, V]` as data; disposes what it made.
 */
export async function decodeInChunks(
  model: ModelV1,
  ids: Tensor,
  chunks: readonly (readonly [number, number])[],
): Promise<Float32Array> {
  let state = model.initState(ids.shape[0]!, ids.shape[1]!);
  const parts: Tensor[] = [];
  for (const [start, length] of chunks) {
    const chunk = tidy(() => narrow(ids, 1, start, length).contiguous());
    const r = model.step(chunk, state);
    chunk.dispose();
    state = r.state;
    parts.push(r.logits);
  }
  const logits = concat(parts, 1);
  const data = (await logits.data()) as Float32Array;
  model.disposeState(state);
  for (const t of [...parts, logits]) t.dispose();
  return data;
}
