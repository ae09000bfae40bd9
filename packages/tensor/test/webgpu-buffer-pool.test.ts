import { describe, expect } from 'vitest';
import { gpuBufferOf } from '../src/webgpu/buffer.js';
import { BufferPool } from '../src/webgpu/buffer-pool.js';
import { test, tracker, view } from './gpu-fixture.js';

const STORAGE = 0x80 | 0x4 | 0x8; // STORAGE | COPY_SRC | COPY_DST

/**
 * The pool's hand-out order is a function of which buffers are free, not of
 * the order they were freed in: that is what lets a repeated training step
 * get the same buffers (and so the same cached bind groups) step after step.
 * Reuse must not weaken poisoning or the ordering of uploads.
 */
describe('BufferPool', () => {
  test('hands out the oldest free buffer of a class, whatever order they were released in', ({ backend }) => {
    const pool = new BufferPool(backend.runtime.device, STORAGE, 1 << 20, 'test-pool');
    const made = [pool.acquire(1000), pool.acquire(1000), pool.acquire(1000), pool.acquire(1000)];
    const round = (releaseOrder: readonly number[]): GPUBuffer[] => {
      for (const i of releaseOrder) pool.release(made[i]!);
      return [pool.acquire(1000), pool.acquire(1000), pool.acquire(1000), pool.acquire(1000)];
    };
    expect(round([0, 1, 2, 3])).toEqual(made);
    expect(round([3, 1, 0, 2])).toEqual(made); // a LIFO free list would give 2, 0, 1, 3
    expect(round([2, 3, 1, 0])).toEqual(made);
    // Only free buffers are candidates: with 0 and 2 held, 1 comes before 3.
    pool.release(made[1]!);
    pool.release(made[3]!);
    expect(pool.acquire(1000)).toBe(made[1]);
    expect(pool.acquire(1000)).toBe(made[3]);
    expect(pool.liveBuffers()).toBe(4);
    const foreign = backend.runtime.device.createBuffer({ size: 1024, usage: STORAGE });
    expect(() => pool.release(foreign)).toThrow(RangeError);
    foreign.destroy();
    for (const b of made) pool.release(b);
    expect(pool.pooledBytes()).toBe(4 * BufferPool.sizeClass(1000));
    pool.trim();
    expect(pool.pooledBytes()).toBe(0);
  });

  test('a reused pooled buffer is NaN-poisoned again when handed out', async ({ backend }) => {
    const rt = backend.runtime;
    expect(rt.poison).toBe(true);
    const n = 3001;
    const first = Array.from({ length: 6 }, (_, i) => backend.upload(new Array(n).fill(i + 1), 'f32'));
    for (const b of first) backend.free(b);
    const pooled = rt.pooledBytes();
    const t = tracker(backend);
    const again = Array.from({ length: 6 }, () => t.alloc(n));
    // Every one came from the pool (no new buffer), and every one reads as NaN.
    expect(rt.pooledBytes()).toBe(pooled - 6 * BufferPool.sizeClass(4 * n));
    for (const b of again) expect((await t.read(b)).every(Number.isNaN)).toBe(true);
    t.done();
  });

  test('an upload into a reused buffer lands after recorded work that used it', async ({ backend }) => {
    const t = tracker(backend);
    // An odd size class, so the released buffer is the only free one of its class and comes back.
    const n = 1_234_567;
    const ones = t.upload(new Array(n).fill(1));
    const dst = t.alloc(n);
    const scratch = backend.upload(new Array(n).fill(10), 'f32');
    const scratchGpu = gpuBufferOf(scratch);
    backend.binary('add', view(ones, [n]), view(scratch, [n]), dst); // recorded, not submitted
    backend.free(scratch);
    const reused = t.upload(new Array(n).fill(100));
    expect(gpuBufferOf(reused)).toBe(scratchGpu);
    const [sum, back] = [await t.read(dst), await t.read(reused)];
    expect(sum.every((v) => v === 11)).toBe(true);
    expect(back.every((v) => v === 100)).toBe(true);
    t.done();
  });
});
