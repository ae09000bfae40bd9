import { CpuBackend, Generator, matmul, randn, type Tensor, tidy } from '@dynconv/tensor';
import { describe, expect, test } from 'vitest';
import { LoraAdapters } from '../src/studies/preproj/lora.js';

const backend = new CpuBackend();
const close = async (a: Tensor, b: Tensor) => {
  const [x, y] = [await a.data(), await b.data()];
  expect(x.length).toBe(y.length);
  for (let i = 0; i < x.length; i++) expect(x[i]!).toBeCloseTo(y[i]!, 5);
};

describe('LoRA by gradient mapping', () => {
  test('adapter gradients equal autograd through W0 + s·B·A', async () => {
    const g = new Generator(1);
    const weight = randn([5, 4], { backend, generator: g });
    const x = randn([3, 4], { backend, generator: g });
    const lora = new LoraAdapters(new Map([['w', weight]]), 2, { backend, seed: 2, alpha: 4 });
    const { a: A, b: B } = Object.fromEntries(
      [...lora.parameters()].map(([name, t]) => [name.endsWith('lora_A') ? 'a' : 'b', t]),
    ) as { a: Tensor; b: Tensor };
    // Make B non-zero so both gradients are informative.
    backend.copy(randn([5, 2], { backend, generator: g }).view(), B.view());
    const w0 = weight.detach().mul(1);

    // Reference: differentiate the explicit composition.
    tidy(() => {
      const effective = w0.add(matmul(B, A).mul(lora.scale));
      matmul(x, effective.T).square().sum().backward();
    });
    const [refA, refB] = [A.grad!.mul(1), B.grad!.mul(1)];
    A.zeroGrad();
    B.zeroGrad();

    // Mapped: forward through the merged weight, then map its gradient.
    lora.merge();
    await close(weight, w0.add(matmul(B, A).mul(2)));
    tidy(() => matmul(x, weight.T).square().sum().backward());
    lora.mapGradients();
    expect(weight.grad).toBeNull();
    await close(A.grad!, refA);
    await close(B.grad!, refB);
    expect(lora.parameterCount()).toBe(2 * 4 + 5 * 2);
  });
});
