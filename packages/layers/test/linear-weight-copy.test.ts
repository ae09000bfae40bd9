import { Generator, mul, sum, type Tensor, tidy, WebGPUBackend } from '@dynconv/tensor';
import { expect } from 'vitest';
import { disposeParameters, initLinear, linear } from '../src/index.js';
import { dispatchedKeys, gpuTest } from './gpu-fixture.js';
import { randomTensor } from './helpers.js';

gpuTest(
  'with reduced precision the forward multiplies by a contiguous Wᵀ copy: same values and gradients',
  async ({ backend }) => {
    if (!(backend instanceof WebGPUBackend)) throw new Error('the GPU fixture gives a WebGPU backend');
    const p = initLinear({
      inFeatures: 13,
      outFeatures: 21,
      bias: true,
      backend,
      generator: new Generator(3),
    });
    const x = randomTensor([2, 5, 13], 4, backend).requireGrad();
    const w = randomTensor([2, 5, 21], 5, backend);
    const run = async (reduced: boolean) => {
      backend.tuning.matmul = reduced ? { reducedPrecision: true } : {};
      let keys: string[] = [];
      const out = tidy(() => {
        let y: Tensor | null = null;
        keys = dispatchedKeys(backend, () => {
          y = linear(p, x);
          sum(mul(y, w)).backward();
        });
        return y!;
      });
      backend.tuning.matmul = {};
      const values = [Float32Array.from(await out.data())];
      out.dispose();
      for (const t of [x, p.weight, p.bias!]) {
        values.push(Float32Array.from(await t.grad!.data()));
        t.zeroGrad();
      }
      return { values, copies: keys.filter((k) => k.startsWith('ew|copy') || k.startsWith('copy.')).length };
    };
    const plain = await run(false);
    const copied = await run(true);
    // This adapter has no subgroup matrices: the matmul kernel is the same, only the copy is added.
    expect(copied.copies).toBe(plain.copies + 1);
    for (const [i, v] of copied.values.entries()) expect(v).toEqual(plain.values[i]);
    for (const t of [x, w]) t.dispose();
    disposeParameters(p);
  },
);
