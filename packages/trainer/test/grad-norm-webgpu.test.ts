import { CpuBackend, narrow, type Tensor, tensor } from '@dynconv/tensor';
import { createNodeWebGPUBackend, type WebGPUBackend } from '@dynconv/tensor/node';
import { dispatchedKeys, testRng } from '@dynconv/tensor/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { globalGradNorm } from '../src/optim/clip.js';
import { fusedGradNorm, fusedSumOfSquares } from '../src/optim/grad-norm-webgpu.js';
import { multiTensor, slotsFor } from '../src/optim/multi-tensor.js';

let gpu: WebGPUBackend;
beforeAll(async () => {
  gpu = await createNodeWebGPUBackend();
});
afterAll(() => gpu?.destroy());

/** Odd sizes: one element, below one workgroup, several workgroups, more than MAX_GROUPS · 8 · 256 elements. */
const SHAPES = [[1], [37, 19], [5], [1031], [3, 2100001]];

const values = (n: number, seed: number): Float32Array => {
  const rng = testRng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
};

/** Gradients as parameters carry them, on `backend`; the last is a slice (a dense view at an offset). */
function params(backend: CpuBackend | WebGPUBackend): Tensor[] {
  const ps = SHAPES.map((shape, i) => {
    const p = tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), { shape, backend }).requireGrad();
    p.grad = tensor(values(p.size, i + 1), { shape, backend });
    return p;
  });
  const packed = tensor(values(3 * 101, 9), { shape: [3, 101], backend });
  const p = tensor(new Float32Array(101), { shape: [1, 101], backend }).requireGrad();
  p.grad = narrow(packed, 0, 1, 1);
  packed.dispose();
  return [...ps, p];
}

/** The norm in float64 from the host values. */
const exactNorm = async (ps: readonly Tensor[]): Promise<number> => {
  let s = 0;
  for (const p of ps) for (const v of await p.grad!.data()) s += v * v;
  return Math.sqrt(s);
};

describe('globalGradNorm on WebGPU (fused sum of squares)', () => {
  it('equals the float64 norm and the composed form, in one multi-tensor dispatch plus the reduction', async () => {
    const live = gpu.liveBuffers();
    const ps = params(gpu);
    const exact = await exactNorm(ps);
    let fused!: Tensor;
    const keys = dispatchedKeys(gpu, () => {
      fused = globalGradNorm(ps);
    });
    fusedGradNorm.enabled = false;
    const composed = globalGradNorm(ps);
    fusedGradNorm.enabled = true;
    expect(Math.abs((await fused.item()) - exact) / exact).toBeLessThan(1e-5);
    expect(Math.abs((await composed.item()) - exact) / exact).toBeLessThan(1e-5);
    // The 6 gradients fit one dispatch (K = 15 on llvmpipe), then the sum over the partials (one or two passes) and the sqrt.
    expect(slotsFor(gpu.runtime, 1, 1)).toBeGreaterThanOrEqual(ps.length);
    expect(keys.filter((k) => k.startsWith('trainer.sumsq|')).length).toBe(1);
    expect(keys.length).toBeLessThanOrEqual(4);
    for (const t of [fused, composed]) t.dispose();
    for (const p of ps) {
      p.grad?.dispose();
      p.dispose();
    }
    expect(gpu.liveBuffers()).toBe(live);
  });

  it('gives the same bits for any number of tensors per dispatch, one included (many gradients, K not dividing them)', async () => {
    const live = gpu.liveBuffers();
    // 23 gradients of odd sizes, two of them slices of one packed buffer (read twice in one dispatch).
    const ps = Array.from({ length: 21 }, (_, i) => {
      const shape = [1 + ((i * 37) % 11), 3 + ((i * 53) % 301)];
      const p = tensor(new Float32Array(shape[0]! * shape[1]!), { shape, backend: gpu }).requireGrad();
      p.grad = tensor(values(p.size, 100 + i), { shape, backend: gpu });
      return p;
    });
    const packed = tensor(values(2 * 777, 7), { shape: [2, 777], backend: gpu });
    for (const row of [0, 1]) {
      const p = tensor(new Float32Array(777), { shape: [1, 777], backend: gpu }).requireGrad();
      p.grad = narrow(packed, 0, row, 1);
      ps.push(p);
    }
    packed.dispose();
    const exact = await exactNorm(ps);
    const maxSlots = multiTensor.maxSlots;
    const norms: number[] = [];
    const dispatches: number[] = [];
    try {
      for (const k of [1, 4, 15]) {
        multiTensor.maxSlots = k;
        let count = 0;
        const dispatch = gpu.runtime.dispatch;
        gpu.runtime.dispatch = function (this: WebGPUBackend['runtime'], spec) {
          if (spec.pipelineKey.startsWith('trainer.sumsq|')) count++;
          return dispatch.call(this, spec);
        };
        const norm = globalGradNorm(ps);
        gpu.runtime.dispatch = dispatch;
        norms.push(await norm.item());
        dispatches.push(count);
        norm.dispose();
      }
    } finally {
      multiTensor.maxSlots = maxSlots;
    }
    expect(dispatches).toEqual([23, 6, 2]);
    expect(norms[1]).toBe(norms[0]);
    expect(norms[2]).toBe(norms[0]);
    expect(Math.abs(norms[0]! - exact) / exact).toBeLessThan(1e-5);
    for (const p of ps) {
      p.grad?.dispose();
      p.dispose();
    }
    expect(gpu.liveBuffers()).toBe(live);
  });

  it('declines what it cannot read whole: another backend, a strided view', async () => {
    const cpu = new CpuBackend();
    expect(fusedSumOfSquares([tensor([1, 2], { backend: cpu })])).toBeNull();
    const m = tensor(values(12, 3), { shape: [3, 4], backend: gpu });
    expect(fusedSumOfSquares([m.T])).toBeNull();
    const ps = params(cpu);
    const cpuNorm = globalGradNorm(ps);
    const exact = await exactNorm(ps);
    expect(Math.abs((await cpuNorm.item()) - exact) / exact).toBeLessThan(1e-5);
    m.dispose();
  });
});
