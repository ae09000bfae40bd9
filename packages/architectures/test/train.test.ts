import { describe, expect, it } from 'vitest';
import { transformer } from '../src/index.js';
import { cpu, randomIds, sgdStep, tinyConfig } from './helpers.js';

describe('training a tiny transformer', () => {
  it.each([
    ['baseline', {}],
    [
      'dynamic-all-linear + pre-projection + skip',
      { conv: 'dynamic-all-linear', preProjection: 'on+skip', dsc: { rank: 4 } },
    ],
  ])('%s: SGD steps reduce the loss and leak no buffer', async (_name, overrides) => {
    const model = transformer.build(tinyConfig(overrides), { backend: cpu, seed: 7 });
    // One fixed random batch: the model can only lower the loss by memorising it.
    const ids = randomIds(4, 12, 19, 8);
    const losses: number[] = [];
    losses.push(await sgdStep(model, ids, 0.5));
    const live = cpu.liveBuffers();
    for (let i = 0; i < 7; i++) {
      losses.push(await sgdStep(model, ids, 0.5));
      // After a step's scope closes only the parameters (and the batch) remain.
      expect(cpu.liveBuffers()).toBe(live);
    }
    expect(losses[0]).toBeGreaterThan(Math.log(19) - 0.2);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! - 0.3);
    model.dispose();
    ids.dispose();
  });

  it('disposing the model and its decode state frees every buffer', () => {
    const before = cpu.liveBuffers();
    const model = transformer.build(tinyConfig({ conv: 'dynamic-qkv' }), { backend: cpu });
    const state = model.initState(2, 8);
    expect(cpu.liveBuffers()).toBeGreaterThan(before);
    model.disposeState(state);
    model.dispose();
    expect(cpu.liveBuffers()).toBe(before);
  });
});
