import type { Tensor } from '@dynconv/tensor';
import { describe, expect } from 'vitest';
import {
  type ArchitectureV1,
  decodeConfig,
  gatedDeltaNet,
  glaArchitecture,
  type ModelV1,
  mamba2,
  moeTransformer,
} from '../src/index.js';
import { decodeInChunks, gpuTest, maxRelDiff } from './gpu-fixture.js';
import { cpu, lmLoss, randomIds, randomizeParameters } from './helpers.js';

/** Logits, loss and every parameter gradient of one next-token loss. */
async function run(model: ModelV1, ids: Tensor) {
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

type Plugin = ArchitectureV1<unknown>;
const base16 = { vocabSize: 13, dModel: 16, nLayers: 2 };

describe('linear mixers and MoE: CPU vs WebGPU agreement (tiny configs)', () => {
  gpuTest.for([
    [
      'mamba2 + DSC low-rank',
      mamba2 as Plugin,
      { dState: 4, headDim: 8, chunkSize: 4, conv: 'dynamic', dsc: { rank: 2 } },
    ],
    [
      'gated-deltanet + static convs (fused chunk scan)',
      gatedDeltaNet as Plugin,
      { nHeads: 2, expandV: 1, chunkSize: 4, mlpHidden: 16 },
    ],
    [
      'gla + DSC head-wise',
      glaArchitecture as Plugin,
      { nHeads: 2, chunkSize: 4, mlpHidden: 16, conv: 'dynamic', dsc: { variant: 'head-wise', headSize: 4 } },
    ],
    [
      'moe + DSC q/k/v',
      moeTransformer as Plugin,
      { nHeads: 2, numExperts: 4, topK: 2, expertHidden: 8, conv: 'dynamic-qkv', dsc: { rank: 2 } },
    ],
  ] as const)(
    '%s: same logits and gradients, and GPU decode equals the GPU forward',
    async ([, plugin, fields], { backend }) => {
      const config = decodeConfig(plugin.configSchema, { ...base16, ...fields });
      const onCpu = plugin.build(config, { backend: cpu, seed: 5 });
      const onGpu = plugin.build(config, { backend, seed: 5 });
      randomizeParameters(onCpu, 6, 0.2);
      randomizeParameters(onGpu, 6, 0.2);
      const a = await run(onCpu, randomIds(2, 9, 13, 7, cpu));
      const ids = randomIds(2, 9, 13, 7, backend);
      const b = await run(onGpu, ids);
      expect(maxRelDiff(b.logits, a.logits)).toBeLessThan(1e-4);
      expect(Math.abs(b.loss - a.loss)).toBeLessThan(1e-4);
      for (const [name, g] of a.grads) expect(maxRelDiff(b.grads.get(name)!, g), name).toBeLessThan(2e-3);
      const decoded = await decodeInChunks(onGpu, ids, [
        [0, 4],
        [4, 1],
        [5, 1],
        [6, 3],
      ]);
      expect(maxRelDiff(decoded, b.logits)).toBeLessThan(1e-4);
      ids.dispose();
      onCpu.dispose();
      onGpu.dispose();
    },
  );
});
