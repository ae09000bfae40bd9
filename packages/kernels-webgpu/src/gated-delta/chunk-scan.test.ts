import { concat, mul, reshape, type Tensor } from '@dynconv/tensor';
import { checkOp, type InputSpec } from '@dynconv/tensor/testing';
import { describe, expect } from 'vitest';
import { gpuTest } from '../../test/gpu-fixture.js';
import { dispatchCount, randomTensor } from '../../test/helpers.js';
import { lowerMask } from '../linear-scan/chunks.js';
import { type DeltaChunkScanInputs, deltaChunkScan } from './chunk-scan.js';

/** U, W, qDecayed, intra (masked lower-triangular below), kToEnd, chunkDecay, initial. */
const specs = (B: number, H: number, nC: number, Q: number, K: number, V: number): InputSpec[] => [
  { shape: [B, H, nC, Q, V] },
  { shape: [B, H, nC, Q, K] },
  { shape: [B, H, nC, Q, K] },
  { shape: [B, H, nC, Q, Q] },
  { shape: [B, H, nC, Q, K] },
  { shape: [B, H, nC], init: 'positive' },
  { shape: [B, H, K, V] },
];

const inputs = (t: Tensor[]): DeltaChunkScanInputs => {
  const Q = t[0]!.shape[3]!;
  return {
    U: t[0]!,
    W: t[1]!,
    qDecayed: t[2]!,
    intra: mul(t[3]!, lowerMask(Q, false, t[3]!)),
    kToEnd: t[4]!,
    chunkDecay: t[5]!,
    initial: t[6]!,
  };
};

/** Both outputs in one tensor, so checkOp differentiates through the final state too. */
const both = (r: { o: Tensor; finalState: Tensor }): Tensor =>
  concat([reshape(r.o, [r.o.size]), reshape(r.finalState, [r.finalState.size])], 0);

describe('deltaChunkScan (fused WGSL on WebGPU)', () => {
  gpuTest(
    'matches the composed f64 reference in both outputs and all seven gradients',
    async ({ backend }) => {
      for (const [B, H, nC, Q, K, V] of [
        [1, 2, 3, 4, 3, 5],
        [2, 1, 2, 8, 4, 2],
      ] as const)
        await checkOp(
          `deltaChunkScan B=${B} H=${H} nC=${nC} Q=${Q} K=${K} V=${V}`,
          specs(B, H, nC, Q, K, V),
          (t) => both(deltaChunkScan(inputs(t))),
          {
            backend,
            fd: false,
            atol: 1e-4,
            rtol: 1e-4,
          },
        );
    },
  );

  gpuTest('runs as one kernel forward, not a loop of ops per chunk', async ({ backend }) => {
    const [B, H, nC, Q, K, V] = [1, 2, 16, 4, 3, 5];
    const t = specs(B, H, nC, Q, K, V).map((s, i) => randomTensor(s.shape, i + 1, backend));
    const x = inputs(t);
    const before = dispatchCount(backend);
    const r = deltaChunkScan(x);
    // The kernel, the packing of g ‖ S0, and output poison fills: far below the ~5 ops × 16 chunks of the loop.
    expect(dispatchCount(backend) - before).toBeLessThanOrEqual(10);
    for (const v of [r.o, r.finalState, ...t, x.intra]) v.dispose();
  });
});
