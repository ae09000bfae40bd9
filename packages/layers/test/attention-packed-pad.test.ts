import { Generator, mul, sum, type Tensor, tidy, WebGPUBackend } from '@dynconv/tensor';
import { expect } from 'vitest';
import { type AttentionOptions, attention, disposeParameters, initAttention } from '../src/index.js';
import { dispatchedKeys, gpuTest } from './gpu-fixture.js';
import { randomTensor } from './helpers.js';

/** Low-rank DSC on q, k, v: packed width 3·12 + 5 + 2 + 3 = 46, padded to 256 with reduced precision. */
const dscAttention: Omit<AttentionOptions, 'generator' | 'backend'> = {
  dModel: 12,
  nHeads: 3,
  nKvHeads: 3,
  headDim: 4,
  convs: {
    q: { kind: 'low-rank', width: 3, rank: 5 },
    k: { kind: 'low-rank', width: 4, rank: 2, staticFilter: false },
    v: { kind: 'low-rank', width: 2, rank: 3, residual: false },
  },
};

gpuTest(
  'the zero-padded packed q|k|v|z projection (reduced precision) gives the unpadded values and gradients',
  async ({ backend }) => {
    const p = initAttention({ ...dscAttention, backend, generator: new Generator(5) });
    // DSC init has U = 0: random U so that the generators' columns matter.
    for (const name of ['q_conv', 'k_conv', 'v_conv'] as const) {
      const conv = p[name] as unknown as { U: Tensor };
      conv.U.dispose();
      conv.U = randomTensor(conv.U.shape, 11, backend, 0.5).requireGrad();
    }
    const x = randomTensor([2, 9, 12], 3, backend).requireGrad();
    const w = randomTensor([2, 9, 12], 4, backend);
    const trainable = [x, ...[p.q_proj, p.k_proj, p.v_proj].map((l) => l.weight)];
    if (!(backend instanceof WebGPUBackend)) throw new Error('the GPU fixture gives a WebGPU backend');
    const run = async (reduced: boolean) => {
      backend.tuning.matmul = reduced ? { reducedPrecision: true } : {};
      let dispatched: string[] = [];
      const out = tidy(() => {
        let y: Tensor | null = null;
        dispatched = dispatchedKeys(backend, () => {
          y = attention(p, x);
          sum(mul(y, w)).backward();
        });
        return y!;
      });
      backend.tuning.matmul = {};
      const values = [Float32Array.from(await out.data())];
      out.dispose();
      for (const t of trainable) {
        values.push(Float32Array.from(await t.grad!.data()));
        t.zeroGrad();
      }
      return { values, keys: dispatched };
    };
    const plain = await run(false);
    const padded = await run(true);
    // Same pipelines either way on this adapter (no subgroup matrices): the padding is the only difference.
    expect(padded.keys.filter((k) => k.startsWith('fill')).length).toBeGreaterThan(
      plain.keys.filter((k) => k.startsWith('fill')).length,
    );
    for (const [i, v] of padded.values.entries()) expect(v).toEqual(plain.values[i]);
    for (const t of [x, w]) t.dispose();
    disposeParameters(p);
  },
);
