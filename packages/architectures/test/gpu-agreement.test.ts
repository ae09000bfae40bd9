import type { Tensor } from '@dynconv/tensor';
import { describe, expect } from 'vitest';
import { type ModelV1, transformer } from '../src/index.js';
import { decodeInChunks, gpuTest, maxRelDiff } from './gpu-fixture.js';
import { cpu, lmLoss, randomIds, randomizeParameters, tinyConfig } from './helpers.js';

/** Logits and every parameter gradient of one loss. */
async function run(
  model: ModelV1,
  ids: Tensor,
): Promise<{ logits: ArrayLike<number>; loss: number; grads: Map<string, ArrayLike<number>> }> {
  const logits = model.forward({ ids });
  const data = await logits.data();
  logits.dispose();
  const loss = lmLoss(model, ids);
  loss.backward();
  const grads = new Map<string, ArrayLike<number>>();
  for (const [name, p] of model.parameters) grads.set(name, await p.grad!.data());
  for (const p of model.parameters.values()) p.zeroGrad();
  const value = await loss.item();
  loss.dispose();
  return { logits: data, loss: value, grads };
}

describe('CPU vs WebGPU agreement (tiny configs)', () => {
  gpuTest.for([
    // No convs: the packed q/k/v head split + RoPE and the packed SwiGLU kernels (layers/src/fused).
    ['plain + GQA + partial rotary', { nKvHeads: 2, rotaryFraction: 0.5 }],
    [
      'dynamic-qkv low-rank + QK-norm + GQA',
      { conv: 'dynamic-qkv', qkNorm: true, nKvHeads: 2, dsc: { rank: 3 } },
    ],
    [
      'dynamic-all-linear head-wise + pre-projection + skip',
      { conv: 'dynamic-all-linear', preProjection: 'on+skip', dsc: { variant: 'head-wise', headSize: 4 } },
    ],
  ] as const)(
    '%s: same init from the seed, same logits and gradients, same decode',
    async ([, overrides], { backend }) => {
      const config = tinyConfig(overrides);
      const onCpu = transformer.build(config, { backend: cpu, seed: 5 });
      const onGpu = transformer.build(config, { backend, seed: 5 });
      // Identical initial weights on both backends (Philox streams; normal draws to float rounding).
      const w = 'model.layers.0.self_attn.q_proj.weight';
      expect(
        maxRelDiff(await onGpu.parameters.get(w)!.data(), await onCpu.parameters.get(w)!.data()),
      ).toBeLessThan(1e-6);
      const convW = 'model.layers.0.self_attn.q_conv.static_w';
      if (onGpu.parameters.has(convW))
        expect(Array.from(await onGpu.parameters.get(convW)!.data())).toEqual(
          Array.from(await onCpu.parameters.get(convW)!.data()),
        );
      randomizeParameters(onCpu, 6);
      randomizeParameters(onGpu, 6);
      const a = await run(onCpu, randomIds(2, 9, config.vocabSize, 7, cpu));
      const ids = randomIds(2, 9, config.vocabSize, 7, backend);
      const b = await run(onGpu, ids);
      // A second identical step allocates nothing that outlives it (the first may fill backend caches).
      await backend.sync();
      const before = backend.liveBuffers();
      expect((await run(onGpu, ids)).loss).toBe(b.loss);
      await backend.sync();
      expect(backend.liveBuffers()).toBe(before);
      expect(maxRelDiff(b.logits, a.logits)).toBeLessThan(1e-4);
      expect(Math.abs(b.loss - a.loss)).toBeLessThan(1e-4);
      for (const [name, g] of a.grads) expect(maxRelDiff(b.grads.get(name)!, g), name).toBeLessThan(2e-3);
      // Decoding on the GPU: prefill 4, then one token at a time, equals the GPU forward.
      const decoded = await decodeInChunks(onGpu, ids, [
        [0, 4],
        [4, 1],
        [5, 1],
        [6, 1],
        [7, 1],
        [8, 1],
      ]);
      expect(maxRelDiff(decoded, b.logits)).toBeLessThan(1e-4);
      ids.dispose();
      await backend.sync();
      expect(backend.liveBuffers()).toBe(before - 1); // the ids are gone
      onGpu.dispose();
      onCpu.dispose();
    },
  );
});
