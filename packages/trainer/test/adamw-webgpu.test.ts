import { CpuBackend, Generator, narrow, randn, type Tensor, tensor } from '@dynconv/tensor';
import { createNodeWebGPUBackend, type WebGPUBackend } from '@dynconv/tensor/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdamW, type AdamWUpdate, composedAdamWUpdate } from '../src/optim/adamw.js';
import { makeFusedAdamWUpdate } from '../src/optim/adamw-webgpu.js';
import { multiTensor, slotsFor } from '../src/optim/multi-tensor.js';
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

/** Odd sizes: one element, below one workgroup, several workgroups; rank-1 ones land in the no-decay group. */
const SHAPES = [[37, 19], [19], [1], [300, 7], [255], [2, 257], [513], [3, 5, 7], [1031], [6, 6], [129, 3]];

/**
 * 3 AdamW steps over {@link SHAPES} on `backend` with `update`; the gradient of
 * parameter 4 is a slice of a larger tensor (a view: the composed fallback).
 * Returns every parameter and both moments, and the optimizer dispatches per step by pipeline key.
 */
async function runMany(
  backend: CpuBackend | WebGPUBackend,
  update: AdamWUpdate,
): Promise<{ values: Float32Array[]; keys: Map<string, number> }> {
  const gen = new Generator(11);
  const host = (shape: number[]) => randn(shape, { generator: gen, backend: new CpuBackend() });
  const params = new Map<string, Tensor>();
  for (const [i, shape] of SHAPES.entries())
    params.set(`p${i}`, tensor(await host(shape).data(), { shape, backend }).requireGrad());
  const opt = new AdamW(
    params,
    paramGroups(params, new Set(), 0.1),
    { beta1: 0.9, beta2: 0.95, eps: 1e-8 },
    update,
  );
  const keys = new Map<string, number>();
  const gpuRuntime = backend instanceof CpuBackend ? null : backend.runtime;
  const dispatch = gpuRuntime?.dispatch;
  for (let step = 0; step < 3; step++) {
    for (const [i, p] of [...params.values()].entries()) {
      p.grad?.dispose();
      if (i !== 4) p.grad = tensor(await host([...p.shape]).data(), { shape: p.shape, backend });
      else {
        const packed = tensor(await host([2, p.size]).data(), { shape: [2, p.size], backend });
        const row = narrow(packed, 0, 1, 1);
        p.grad = row.reshape([...p.shape]);
        for (const t of [packed, row]) t.dispose();
      }
    }
    if (gpuRuntime && step === 2)
      gpuRuntime.dispatch = function (this: typeof gpuRuntime, spec) {
        if (spec.pipelineKey.startsWith('trainer.adamw'))
          keys.set(spec.pipelineKey, (keys.get(spec.pipelineKey) ?? 0) + 1);
        return dispatch!.call(this, spec);
      };
    opt.step(0.01 * (step + 1), step === 1 ? 0.5 : 1);
    if (gpuRuntime) gpuRuntime.dispatch = dispatch!;
  }
  const values: Float32Array[] = [];
  for (const [name, p] of params)
    for (const t of [p, opt.state().expAvg.get(name)!, opt.state().expAvgSq.get(name)!])
      values.push(Float32Array.from(await t.data()));
  opt.dispose();
  for (const p of params.values()) {
    p.grad?.dispose();
    p.dispose();
  }
  return { values, keys };
}

describe('multi-tensor WGSL AdamW (several parameters per dispatch)', () => {
  it('gives the bits of one dispatch per parameter, matches the composed reference, in fewer dispatches', async () => {
    const live = gpu.liveBuffers();
    const fused = makeFusedAdamWUpdate(gpu.runtime);
    // The same kernel without `batch`: AdamW calls it once per parameter.
    const perParameter: AdamWUpdate = (a) => fused(a);
    const single = await runMany(gpu, perParameter);
    const reference = await runMany(new CpuBackend(), composedAdamWUpdate);
    const maxSlots = multiTensor.maxSlots;
    try {
      // The device's own K (4 on llvmpipe: 16 storage bindings), then 3: 11 parameters are no multiple of either.
      for (const k of [maxSlots, 3]) {
        multiTensor.maxSlots = k;
        const slots = slotsFor(gpu.runtime, 4);
        expect(slots).toBeGreaterThan(1);
        const batched = await runMany(gpu, fused);
        for (const [i, values] of batched.values.entries()) {
          expect(values).toEqual(single.values[i]);
          const ref = reference.values[i]!;
          for (let j = 0; j < values.length; j++) expect(values[j]).toBeCloseTo(ref[j]!, 5);
        }
        // 10 parameters with whole buffers in ceil(10 / K) dispatches; the view's gradient composes.
        expect([...batched.keys.values()].reduce((n, c) => n + c, 0)).toBe(Math.ceil(10 / slots));
        expect(batched.keys.get(`trainer.adamw|f32|k=${slots}|host`)).toBe(Math.floor(10 / slots));
      }
    } finally {
      multiTensor.maxSlots = maxSlots;
    }
    expect(single.keys.get('trainer.adamw|f32|k=1|host')).toBe(10);
    expect(gpu.liveBuffers()).toBe(live);
  });

  it('puts at most as many parameters in a dispatch as the storage-binding limit allows', () => {
    const limit = gpu.runtime.device.limits.maxStorageBuffersPerShaderStage;
    expect(slotsFor(gpu.runtime, 4)).toBe(Math.max(1, Math.min(multiTensor.maxSlots, Math.floor(limit / 4))));
    const maxSlots = multiTensor.maxSlots;
    multiTensor.maxSlots = 1;
    expect(slotsFor(gpu.runtime, 4)).toBe(1);
    multiTensor.maxSlots = maxSlots;
  });
});
