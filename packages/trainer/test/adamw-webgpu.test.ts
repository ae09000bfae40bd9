import { CpuBackend, Generator, randn, type Tensor, tensor } from '@dynconv/tensor';
import { createNodeWebGPUBackend, type WebGPUBackend } from '@dynconv/tensor/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdamW, composedAdamWUpdate } from '../src/optim/adamw.js';
import { makeFusedAdamWUpdate } from '../src/optim/adamw-webgpu.js';
import { paramGroups } from '../src/optim/param-groups.js';

let gpu: WebGPUBackend;
beforeAll(async () => {
  gpu = await createNodeWebGPUBackend();
});
afterAll(() => gpu?.destroy());

/** Runs 4 AdamW steps on a [37, 19] weight and a [19] bias, returning the final values. */
async function run(backend: CpuBackend | WebGPUBackend, fused: boolean): Promise<number[][]> {
  const gen = new Generator(3);
  const host = (shape: number[]) => randn(shape, { generator: gen, backend: new CpuBackend() });
  const initial = [host([37, 19]), host([19])];
  const place = async (t: Tensor) => tensor(await t.data(), { shape: t.shape, backend }).requireGrad();
  const w = await place(initial[0]!);
  const b = await place(initial[1]!);
  const params = new Map([
    ['w', w],
    ['b', b],
  ]);
  const update = fused ? makeFusedAdamWUpdate((backend as WebGPUBackend).runtime) : composedAdamWUpdate;
  const opt = new AdamW(
    params,
    paramGroups(params, new Set(), 0.1),
    { beta1: 0.9, beta2: 0.95, eps: 1e-8 },
    update,
  );
  for (let step = 0; step < 4; step++) {
    for (const p of [w, b]) {
      p.grad?.dispose();
      p.grad = tensor(await host([...p.shape]).data(), { shape: p.shape, backend });
    }
    opt.step(0.01 * (step + 1), step === 2 ? 0.5 : 1);
  }
  const out = [await w.toArray(), await b.toArray(), await opt.state().expAvgSq.get('w')!.toArray()];
  opt.dispose();
  for (const p of [w, b]) p.dispose();
  return out;
}

describe('fused WGSL AdamW', () => {
  it('matches the composed reference (CPU backend), including decay groups and clipping scale', async () => {
    const reference = await run(new CpuBackend(), false);
    const dispatches = () => gpu.runtime.stats().dispatches;
    const d0 = dispatches();
    const fused = await run(gpu, true);
    const d1 = dispatches();
    const composedOnGpu = await run(gpu, false);
    const d2 = dispatches();
    for (const [i, values] of fused.entries()) {
      const ref = reference[i]!;
      for (let j = 0; j < values.length; j++) {
        expect(values[j]).toBeCloseTo(ref[j]!, 5);
        expect(composedOnGpu[i]![j]).toBeCloseTo(ref[j]!, 5);
      }
    }
    // One kernel per parameter and step instead of the composed chain (8 updates: ~10 dispatches fewer each).
    expect(d2 - d1 - (d1 - d0)).toBeGreaterThanOrEqual(8 * 8);
  });
});
