import { describe, expect } from 'vitest';
import { GpuError } from '../src/errors.js';
import { gpuBufferOf } from '../src/webgpu/buffer.js';
import { BufferPool } from '../src/webgpu/buffer-pool.js';
import { UniformStruct } from '../src/webgpu/uniforms.js';
import { linearWorkgroupIndex, mainParams } from '../src/webgpu/wgsl.js';
import { expectClose, randomArray, test, tracker, view } from './gpu-fixture.js';

/**
 * The runtime's contracts: poisoning, buffer accounting, the pipeline cache,
 * batching and submission order, grid folding, uniform packing, and GPU
 * errors surfacing as exceptions.
 */
describe('GpuRuntime', () => {
  test('poisoning: a fresh buffer reads as NaN, and a kernel reading it produces NaN', async ({
    backend,
  }) => {
    expect(backend.runtime.poison).toBe(true);
    const t = tracker(backend);
    const fresh = t.alloc(9);
    expect((await t.read(fresh)).every(Number.isNaN)).toBe(true);
    const out = t.alloc(9);
    backend.unary('exp', view(fresh, [9]), out);
    expect((await t.read(out)).every(Number.isNaN)).toBe(true);
    const half = backend.supportsF16 ? t.alloc(5, 'f16') : null;
    if (half) expect((await t.read(half)).every(Number.isNaN)).toBe(true);
    t.done();
  });

  test('buffers return to the pool: live counts go back and a second round allocates nothing new', async ({
    backend,
  }) => {
    const rt = backend.runtime;
    const before = { buffers: backend.liveBuffers(), bytes: backend.liveBytes(), rt: rt.liveBuffers() };
    const round = () => {
      const bufs = [backend.alloc(1000, 'f32'), backend.alloc(7, 'i32'), backend.alloc(0, 'f32')];
      expect(backend.liveBuffers()).toBe(before.buffers + 3);
      expect(backend.liveBytes()).toBe(before.bytes + 4028);
      for (const b of bufs) backend.free(b);
    };
    round();
    const pooled = rt.pooledBytes();
    round();
    expect(rt.pooledBytes()).toBe(pooled);
    expect(backend.liveBuffers()).toBe(before.buffers);
    expect(backend.liveBytes()).toBe(before.bytes);
    expect(rt.liveBuffers()).toBe(before.rt);
    const x = backend.alloc(3, 'f32');
    backend.free(x);
    expect(() => backend.free(x)).toThrow(GpuError);
    rt.trim();
    expect(rt.pooledBytes()).toBe(0);
  });

  test('size classes: at least 256 bytes, at most 12.5% waste', () => {
    expect(BufferPool.sizeClass(1)).toBe(256);
    for (const bytes of [257, 1000, 4096, 4097, 123_457, 10_000_001]) {
      const size = BufferPool.sizeClass(bytes);
      expect(size).toBeGreaterThanOrEqual(bytes);
      expect(size / bytes).toBeLessThanOrEqual(1.125 + 256 / bytes);
    }
  });

  test('a second run of the same ops compiles no new pipeline', async ({ backend }) => {
    const step = async (seed: number, n: number) => {
      const t = tracker(backend);
      const x = t.upload(randomArray(n, seed));
      const y = t.alloc(n);
      const s = t.alloc(1);
      backend.unary('silu', view(x, [n]), y);
      const z = t.alloc(n);
      backend.binary('mul', view(y, [n]), view(x, [n]), z);
      backend.reduce('sum', view(z, [n]), 1, s);
      await t.read(s);
      t.done();
    };
    await step(1, 1000);
    const compiled = backend.runtime.pipelineCompiles;
    await step(2, 1000);
    await step(3, 1004); // sizes travel in uniforms (same vec4 variant): still no compile
    expect(backend.runtime.pipelineCompiles).toBe(compiled);
  });

  test('batching: thousands of dependent dispatches, one read, exact result', async ({ backend }) => {
    const t = tracker(backend);
    const a = t.upload([0, 1, 2, 3, 4, 5, 6]);
    const b = t.alloc(7);
    const submitsBefore = backend.runtime.stats().submits;
    // 5000 dispatches span several batches: the automatic flushes must keep order.
    for (let i = 0; i < 2500; i++) {
      backend.unary('affine', view(a, [7]), b, 1, 1);
      backend.unary('affine', view(b, [7]), a, 1, 1);
    }
    expect(await t.read(a)).toEqual([5000, 5001, 5002, 5003, 5004, 5005, 5006]);
    const submits = backend.runtime.stats().submits - submitsBefore;
    const batches = Math.ceil(5000 / backend.runtime.maxBatchDispatches);
    expect(submits).toBeGreaterThanOrEqual(batches);
    expect(submits).toBeLessThanOrEqual(batches + 1);
    t.done();
  });

  test('uploads land after earlier recorded work on a reused pooled buffer', async ({ backend }) => {
    const t = tracker(backend);
    const src = t.upload([1, 2, 3, 4]);
    const dst = t.alloc(4);
    const scratch = backend.upload([10, 20, 30, 40], 'f32');
    backend.binary('add', view(src, [4]), view(scratch, [4]), dst); // recorded, not submitted
    backend.free(scratch);
    const reused = t.upload([100, 200, 300, 400]); // likely the same pooled GPUBuffer
    expect(await t.read(dst)).toEqual([11, 22, 33, 44]);
    expect(await t.read(reused)).toEqual([100, 200, 300, 400]);
    t.done();
  });

  test('dispatch is usable directly: uniforms struct, folded 1D grid beyond 65535 workgroups', async ({
    backend,
  }) => {
    const rt = backend.runtime;
    const params = new UniformStruct([
      { name: 'n', type: 'u32' },
      { name: 'scale', type: 'f32' },
      { name: 'table', type: 'u32x8' },
    ]);
    const n = 70_001; // one invocation per workgroup: 70001 workgroups
    const t = tracker(backend);
    const out = t.alloc(n, 'f32');
    rt.dispatch({
      pipelineKey: 'test.fold',
      makeCode: () => `${params.wgsl}
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(1)
fn main(${mainParams}) {
  let i = ${linearWorkgroupIndex};
  if (i < u.n) { out[i] = f32(i) * u.scale + f32(u.table[1][3]); }
}`,
      bindings: [{ buffer: gpuBufferOf(out), write: true }],
      uniforms: params.pack({ n, scale: 0.5, table: [0, 0, 0, 0, 0, 0, 0, 9] }),
      workgroups: n,
    });
    expect(rt.grid(n)).toEqual([35001, 2, 1]);
    const got = await t.read(out);
    expectClose(
      got,
      got.map((_, i) => i * 0.5 + 9),
      { atol: 0, rtol: 0 },
    );
    t.done();
  });

  test('an invalid shader surfaces as GpuError naming the pipeline, and the runtime recovers', async ({
    backend,
  }) => {
    const t = tracker(backend);
    const out = t.alloc(4);
    backend.runtime.dispatch({
      pipelineKey: 'test.broken-shader',
      makeCode: () => '@compute @workgroup_size(1) fn main() { let x: f32 = undefined_symbol; }',
      bindings: [{ buffer: gpuBufferOf(out), write: true }],
      uniforms: new Uint32Array(4),
      workgroups: 1,
    });
    const failure = await backend.sync().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(GpuError);
    expect((failure as Error).message).toContain('test.broken-shader');
    backend.fill(out, 4, 2);
    expect(await t.read(out)).toEqual([2, 2, 2, 2]);
    t.done();
  });

  test('binding one buffer as input and output of a dispatch throws at once', ({ backend }) => {
    const t = tracker(backend);
    const x = t.alloc(4);
    const gpu = gpuBufferOf(x);
    expect(() =>
      backend.runtime.dispatch({
        pipelineKey: 'test.alias',
        makeCode: () => '',
        bindings: [{ buffer: gpu }, { buffer: gpu, write: true }],
        uniforms: new Uint32Array(4),
        workgroups: 1,
      }),
    ).toThrow(GpuError);
    t.done();
  });

  test('timeGpu returns a duration with timestamp queries, null without', async ({ backend }) => {
    const t = tracker(backend);
    const x = t.alloc(1024);
    const ms = await backend.runtime.timeGpu(() => backend.fill(x, 1024, 1));
    if (backend.runtime.hasTimestamps) expect(ms).toBeGreaterThanOrEqual(0);
    else expect(ms).toBeNull();
    expect(await t.read(x, 3)).toEqual([1, 1, 1]);
    t.done();
  });
});
