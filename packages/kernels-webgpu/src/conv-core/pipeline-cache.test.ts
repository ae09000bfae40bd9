import { type Tensor, tensor } from '@dynconv/tensor';
import { expect } from 'vitest';
import { gpuTest } from '../../test/gpu-fixture.js';
import { docStartValues, forwardBackward, randomTensor } from '../../test/helpers.js';
import { causalAttention } from '../causal-attention/causal-attention.js';
import { dynamicConvHeadwise } from '../dynamic-conv-headwise/dynamic-conv-headwise.js';
import { dynamicConvLowRank } from '../dynamic-conv-lowrank/dynamic-conv-lowrank.js';
import { shortConv } from '../short-conv/short-conv.js';

/** Pipelines of this package's kernels (the loss in `forwardBackward` uses the tensor package's own). */
const ownPipelines = (backend: Tensor['backend']): string[] =>
  (backend as unknown as { runtime: { pipelineKeys(): string[] } }).runtime
    .pipelineKeys()
    .filter((k) => /^(shortConv|dynamicConvHeadwise|dynamicConvLowRank|causalAttention|kernels)\./.test(k));

/** One training-like step of every fused op at batch B, length T, width D (sizes are uniforms). */
async function step(backend: Tensor['backend'], B: number, T: number, D: number): Promise<void> {
  const r = (shape: number[], seed: number) => randomTensor(shape, seed, backend);
  const docStart = tensor(docStartValues(B, T, [[2]]), { shape: [B, T], dtype: 'i32', backend });
  await forwardBackward([r([B, T, D], 1), r([4, D], 2), r([D], 3)], ([x, w, b]) =>
    shortConv(x!, w!, { bias: b!, activation: 'silu', docStart }),
  );
  await forwardBackward([r([B, T, D], 1), r([B, T, D / 4, 4], 2), r([4, D], 3)], ([x, k, s]) =>
    dynamicConvHeadwise(x!, k!, { static: s!, residual: true, docStart }),
  );
  await forwardBackward([r([B, T, D], 1), r([B, T, 8], 2), r([8, 4 * D], 3)], ([x, z, u]) =>
    dynamicConvLowRank(x!, z!, u!, { residual: true, docStart }),
  );
  await forwardBackward([r([B, 2, T, 8], 1), r([B, 1, T, 8], 2), r([B, 1, T, 8], 3)], ([q, k, v]) =>
    causalAttention(q!, k!, v!, { docStart }),
  );
  docStart.dispose();
}

gpuTest('pipeline keys name compile-time parameters only: new sizes compile nothing', async ({ backend }) => {
  await step(backend, 1, 9, 8);
  const before = ownPipelines(backend);
  expect(before.length).toBeGreaterThanOrEqual(10);
  await step(backend, 2, 23, 20);
  expect(ownPipelines(backend)).toEqual(before);
});
