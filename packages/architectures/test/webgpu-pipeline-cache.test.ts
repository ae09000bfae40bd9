import type { Tensor } from '@dynconv/tensor';
import { createNodeWebGPUBackend, type WebGPUBackend } from '@dynconv/tensor/node';
import { test as base, describe, expect } from 'vitest';
import { transformer } from '../src/index.js';
import { randomIds, sgdStep, tinyConfig } from './helpers.js';

/**
 * A training step compiles every pipeline it needs the first time; the second
 * step must compile none (pipeline keys name compile-time parameters only,
 * never sizes or step-dependent values). Also records dispatches per step,
 * the number the fusion work drives down.
 */
const gpuTest = base.extend('backend', { scope: 'worker' }, async ({}, { onCleanup }) => {
  const backend = await createNodeWebGPUBackend({ poison: false }); // poison fills would add dispatches
  onCleanup(() => backend.destroy());
  return backend as WebGPUBackend;
});

describe('WebGPU pipeline cache across training steps', () => {
  gpuTest.for([
    ['plain', {}],
    ['dynamic-qkv (DSC on Q/K/V)', { conv: 'dynamic-qkv', dsc: { rank: 4 } }],
  ] as const)('%s: step 2 compiles no pipeline', async ([, overrides], { backend }) => {
    const rt = backend.runtime;
    const model = transformer.build(tinyConfig(overrides), { backend, seed: 3 });
    const ids: Tensor = randomIds(2, 9, 19, 4, backend);
    const step = async (): Promise<{ loss: number; compiles: number; dispatches: number }> => {
      const before = rt.stats();
      const loss = await sgdStep(model, ids, 0.1);
      await backend.sync();
      const after = rt.stats();
      return {
        loss,
        compiles: after.pipelineCompiles - before.pipelineCompiles,
        dispatches: after.dispatches - before.dispatches,
      };
    };
    const first = await step();
    const second = await step();
    const third = await step();
    console.log(
      `pipeline cache [${JSON.stringify(overrides)}]: step 1 compiled ${first.compiles} pipelines; ` +
        `dispatches per step ${first.dispatches}, ${second.dispatches}, ${third.dispatches}`,
    );
    expect(first.compiles).toBeGreaterThan(0);
    expect(second.compiles).toBe(0);
    expect(third.compiles).toBe(0);
    // The same work each step: the dispatch count is a property of the model, not of the step.
    expect(third.dispatches).toBe(second.dispatches);
    expect(Number.isFinite(second.loss)).toBe(true);
    model.dispose();
    ids.dispose();
  });
});
