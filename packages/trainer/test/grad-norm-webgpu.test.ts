import { CpuBackend, narrow, type Tensor, tensor } from '@dynconv/tensor';
import { createNodeWebGPUBackend, type WebGPUBackend } from '@dynconv/tensor/node';
import { testRng } from '@dynconv/tensor/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { globalGradNorm } from '../src/optim/clip.js';
import { fusedGradNorm, fusedSumOfSquares } from '../src/optim/grad-norm-webgpu.js';

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
  it('equals the float64 norm and the composed form, in one dispatch per gradient plus the reduction', async () => {
    const live = gpu.liveBuffers();
    const ps = params(gpu);
    const exact = await exactNorm(ps);
    const keys: string[] = [];
    const dispatch = gpu.runtime.dispatch;
    gpu.runtime.dispatch = function (this: WebGPUBackend['runtime'], spec) {
      if (!spec.pipelineKey.startsWith('runtime.')) keys.push(spec.pipelineKey); // not the NaN-poisoning fills
      return dispatch.call(this, spec);
    };
    const fused = globalGradNorm(ps);
    gpu.runtime.dispatch = dispatch;
    fusedGradNorm.enabled = false;
    const composed = globalGradNorm(ps);
    fusedGradNorm.enabled = true;
    expect(Math.abs((await fused.item()) - exact) / exact).toBeLessThan(1e-5);
    expect(Math.abs((await composed.item()) - exact) / exact).toBeLessThan(1e-5);
    // One dispatch per gradient, the sum over the partials (one or two passes) and the sqrt.
    expect(keys.filter((k) => k === 'trainer.sumsq|f32').length).toBe(ps.length);
    expect(keys.length).toBeLessThanOrEqual(ps.length + 3);
    for (const t of [fused, composed]) t.dispose();
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
