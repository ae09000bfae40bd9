import { test as base } from 'vitest';
import type { Backend, BackendBuffer, View } from '../src/backend.js';
import type { DType } from '../src/dtype.js';
import { createNodeWebGPUBackend } from '../src/node.js';

/**
 * vitest `test` with a `backend` fixture: one WebGPU backend (Dawn: Vulkan on
 * an NVIDIA machine, llvmpipe elsewhere) per worker, shared by every file the
 * worker runs (the package runs forks with `isolate: false`). Poisoning is on
 * (DYNCONV_TEST=1 in the vitest env), so kernels reading unwritten memory see NaN.
 *
 *   test('x * 2', async ({ backend }) => { ... })
 */
export const test = base
  .extend('backend', { scope: 'worker' }, async ({}, { onCleanup }) => {
    const backend = await createNodeWebGPUBackend();
    onCleanup(() => backend.destroy());
    return backend;
  })
  // Every test must leave the backend's live-buffer count where it found it.
  .extend('assertNoLeaks', { auto: true }, async ({ backend }, { onCleanup }) => {
    const before = backend.liveBuffers();
    onCleanup(async () => {
      await backend.sync();
      const leaked = backend.liveBuffers() - before;
      if (leaked !== 0) throw new Error(`${leaked} GPU buffer(s) leaked by this test`);
    });
    return true;
  });

// ------------------------------------------------------------ test helpers

/** Row-major strides of `shape`. */
export const rowMajor = (shape: readonly number[]): number[] => {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
};

/** A view of `buffer` (row-major unless strides are given). */
export const view = (
  buffer: BackendBuffer,
  shape: readonly number[],
  strides: readonly number[] = rowMajor(shape),
  offset = 0,
): View => ({ buffer, dtype: buffer.dtype, shape, strides, offset });

/** Deterministic pseudo-random numbers in [lo, hi) (mulberry32). */
export function randomArray(n: number, seed: number, lo = -3, hi = 3): number[] {
  let s = seed >>> 0;
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = lo + (((t ^ (t >>> 14)) >>> 0) / 4294967296) * (hi - lo);
  }
  return out;
}

/** Rounds to f32 like an upload does. */
export const f32 = (values: readonly number[]): number[] => values.map((v) => Math.fround(v));

/**
 * Asserts |actual - expected| <= atol + rtol |expected| elementwise (NaN
 * matches NaN, infinities match exactly), reporting the first mismatch.
 */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { atol = 1e-6, rtol = 1e-5 }: { atol?: number; rtol?: number } = {},
): void {
  if (actual.length !== expected.length)
    throw new Error(`length ${actual.length}, expected ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (!Number.isFinite(e) && a === e) continue;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e)))
      throw new Error(
        `element ${i}: got ${a}, expected ${e} (atol ${atol}, rtol ${rtol}; ${expected.length} elements)`,
      );
  }
}

/**
 * Allocation helper that frees everything it made and checks the backend's
 * live buffer count returned to where it started.
 */
export function tracker(backend: Backend) {
  const start = backend.liveBuffers();
  const made: BackendBuffer[] = [];
  return {
    upload(data: ArrayLike<number>, dtype: DType = 'f32'): BackendBuffer {
      const b = backend.upload(data, dtype);
      made.push(b);
      return b;
    },
    alloc(length: number, dtype: DType = 'f32'): BackendBuffer {
      const b = backend.alloc(length, dtype);
      made.push(b);
      return b;
    },
    async read(buffer: BackendBuffer, length = buffer.length): Promise<number[]> {
      return Array.from(await backend.read(view(buffer, [length])));
    },
    /** Frees the buffers made here and asserts no other buffer leaked. */
    done(): void {
      for (const b of made.splice(0)) backend.free(b);
      const live = backend.liveBuffers();
      if (live !== start) throw new Error(`buffer leak: ${live - start} live buffers`);
    },
  };
}
