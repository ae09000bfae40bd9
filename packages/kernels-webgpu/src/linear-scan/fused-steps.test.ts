import { type Backend, noGrad, type Tensor, tensor } from '@dynconv/tensor';
import { describe, expect } from 'vitest';
import { gpuTest } from '../../test/gpu-fixture.js';
import { dispatchCount } from '../../test/helpers.js';
import {
  cpuF64,
  drawValues,
  expectAllClose,
  logSigmoid,
  sigmoid,
  softplus,
  type ValueSpec,
} from '../../test/linear-scan-helpers.js';
import { gatedDeltaStep } from '../gated-delta/gated-delta-step.js';
import { glaStep } from '../gla/gla-step.js';
import { ssdStep } from '../ssd/ssd-step.js';

/** Runs `step` on the f64 CPU (composed) and on WebGPU (fused, no gradients) with the same inputs; compares every output. */
async function expectFusedStep(
  backend: Backend,
  specs: ValueSpec[],
  step: (t: Tensor[]) => object,
  maxDispatches: number,
): Promise<void> {
  const values = drawValues(specs, 17);
  const make = (b: Backend) => specs.map((s, i) => tensor(values[i]!, { shape: s.shape, backend: b }));
  const expected = step(make(cpuF64)) as Record<string, Tensor>;
  const inputs = make(backend);
  const before = dispatchCount(backend);
  const got = noGrad(() => step(inputs)) as Record<string, Tensor>;
  // The kernel plus poison fills and the copies of non-contiguous inputs: the composed step takes many more.
  expect(dispatchCount(backend) - before).toBeLessThanOrEqual(maxDispatches);
  for (const [name, t] of Object.entries(expected))
    expectAllClose(await got[name]!.data(), await t.data(), 2e-5, name);
  for (const t of [...inputs, ...Object.values(got)]) t.dispose();
}

describe('fused decode steps (WebGPU)', () => {
  gpuTest('gatedDeltaStep, glaStep and ssdStep equal the composed steps', async ({ backend }) => {
    const [B, H, K, V] = [2, 3, 5, 4];
    await expectFusedStep(
      backend,
      [
        { shape: [B, H, K], scale: 0.5 },
        { shape: [B, H, K], scale: 0.5 },
        { shape: [B, H, V] },
        { shape: [B, H], map: (x) => logSigmoid(x + 2) },
        { shape: [B, H], map: sigmoid },
        { shape: [B, H, K, V] },
      ],
      ([q, k, v, g, beta, s]) => gatedDeltaStep(q!, k!, v!, g!, beta!, s!),
      4,
    );
    await expectFusedStep(
      backend,
      [
        { shape: [B, H, K] },
        { shape: [B, H, K] },
        { shape: [B, H, V] },
        { shape: [B, H, K], map: logSigmoid },
        { shape: [B, H, K, V] },
      ],
      ([q, k, v, gk, s]) => glaStep(q!, k!, v!, gk!, s!, 0.3),
      4,
    );
    const [P, G, N] = [3, 1, 6];
    for (const groups of [G, H])
      await expectFusedStep(
        backend,
        [
          { shape: [B, H, P] },
          { shape: [B, H], map: softplus },
          { shape: [H], map: (x) => -Math.exp(x) },
          { shape: [B, groups, N] },
          { shape: [B, groups, N] },
          { shape: [B, H, P, N] },
          { shape: [H] },
        ],
        ([x, dt, A, Bm, Cm, s, D]) => ssdStep(x!, dt!, A!, Bm!, Cm!, s!, D!),
        4,
      );
  });
});
