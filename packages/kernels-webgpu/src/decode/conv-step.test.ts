import { concat, narrow, reshape, type Tensor, tensorScope, zeros } from '@dynconv/tensor';
import { describe, expect, it } from 'vitest';
import { gpuTest } from '../../test/gpu-fixture.js';
import { cpuF32, maxAbsDiff, randomTensor } from '../../test/helpers.js';
import { dynamicConvHeadwise } from '../dynamic-conv-headwise/dynamic-conv-headwise.js';
import { dynamicConvLowRank } from '../dynamic-conv-lowrank/dynamic-conv-lowrank.js';
import { shortConv } from '../short-conv/short-conv.js';
import {
  type ConvStepResult,
  dynamicConvHeadwiseStep,
  dynamicConvLowRankStep,
  shortConvStep,
} from './conv-step.js';

/** Per-token argument of token t (`[B, T, ...]` -> `[B, ...]`) and of a chunk. */
const at = (t: Tensor, i: number): Tensor => reshape(narrow(t, 1, i, 1), [t.shape[0]!, ...t.shape.slice(2)]);
const span = (t: Tensor, s: number, n: number): Tensor => narrow(t, 1, s, n);

/**
 * Decodes token by token after a prefill chunk of `prefill` tokens, starting
 * from a zero cache; returns all outputs `[B, T, D]` concatenated.
 */
function decode(
  x: Tensor,
  W: number,
  prefill: number,
  step: (x: Tensor, cache: Tensor, s: number, n: number | null) => ConvStepResult,
  backend = x.backend,
): Tensor {
  const [B, T, D] = x.shape as [number, number, number];
  let cache = zeros([B, W - 1, D], { backend });
  const ys: Tensor[] = [];
  if (prefill > 0) {
    const r = step(span(x, 0, prefill), cache, 0, prefill);
    ys.push(r.y);
    cache = r.cache;
  }
  for (let t = prefill; t < T; t++) {
    const r = step(at(x, t), cache, t, null);
    ys.push(reshape(r.y, [B, 1, D]));
    cache = r.cache;
  }
  return concat(ys, 1);
}

/** Runs the decode-equals-full-forward check over a few widths and prefill lengths. */
async function expectDecodeMatchesForward(backend: Tensor['backend'], tol: number): Promise<void> {
  const [B, T, D, H, R] = [2, 7, 6, 3, 5];
  for (const W of [1, 2, 4, 8])
    for (const prefill of [0, 3]) {
      const x = randomTensor([B, T, D], 1, backend);
      const weight = randomTensor([W, D], 2, backend);
      const bias = randomTensor([D], 3, backend);
      const taps = randomTensor([B, T, H, W], 4, backend);
      const stat = randomTensor([W, D], 5, backend);
      const z = randomTensor([B, T, R], 6, backend);
      const u = randomTensor([R, W * D], 7, backend);
      const so = { bias, activation: 'silu', residual: true } as const;
      const dyn = { static: stat, residual: true };
      const pairs: [string, Tensor, Tensor][] = [
        [
          'shortConv',
          shortConv(x, weight, so),
          decode(x, W, prefill, (xt, c) => shortConvStep(xt, weight, c, so)),
        ],
        [
          'dynamicConvHeadwise',
          dynamicConvHeadwise(x, taps, dyn),
          decode(x, W, prefill, (xt, c, s, n) =>
            dynamicConvHeadwiseStep(xt, n === null ? at(taps, s) : span(taps, s, n), c, dyn),
          ),
        ],
        [
          'dynamicConvLowRank',
          dynamicConvLowRank(x, z, u, dyn),
          decode(x, W, prefill, (xt, c, s, n) =>
            dynamicConvLowRankStep(xt, n === null ? at(z, s) : span(z, s, n), u, c, dyn),
          ),
        ],
      ];
      for (const [name, full, stepped] of pairs) {
        const err = maxAbsDiff(await full.toArray(), await stepped.toArray());
        expect(err, `${name} W=${W} prefill=${prefill}`).toBeLessThanOrEqual(tol);
      }
    }
}

/** Runs async work in a tensor scope closed afterwards (tidy is synchronous only). */
async function tidyAsync(work: () => Promise<void>): Promise<void> {
  const scope = tensorScope();
  try {
    await work();
  } finally {
    scope.close();
  }
}

describe('decode steps (composed, CPU)', () => {
  it('step-by-step decode (after an optional prefill chunk) equals the full forward', async () => {
    await expectDecodeMatchesForward(cpuF32, 1e-6);
  });

  it('keeps the last W-1 inputs newest first', async () => {
    const x = randomTensor([1, 3, 2], 1);
    const w = randomTensor([3, 2], 2);
    const { cache } = shortConvStep(x, w, zeros([1, 2, 2], { backend: cpuF32 }));
    const expected = await concat([narrow(x, 1, 2, 1), narrow(x, 1, 1, 1)], 1).toArray();
    expect(await cache.toArray()).toEqual(expected);
  });

  it('rejects a cache of the wrong shape, naming the op and the shapes', () => {
    const x = randomTensor([2, 6], 1);
    const w = randomTensor([4, 6], 2);
    expect(() => shortConvStep(x, w, zeros([2, 4, 6], { backend: cpuF32 }))).toThrow(
      /shortConvStep: cache must be \[B, W-1, D\] = \[2, 3, 6\] \(x \[2, 6\], W=4\), got \[2, 4, 6\]/,
    );
    expect(() =>
      dynamicConvHeadwiseStep(x, randomTensor([2, 1, 3, 4], 3), zeros([2, 3, 6], { backend: cpuF32 })),
    ).toThrow(/dynamicConvHeadwiseStep: taps must have rank 3 when x is \[B, D\]/);
    expect(() =>
      dynamicConvLowRankStep(
        x,
        randomTensor([2, 4], 3),
        randomTensor([4, 12], 4),
        zeros([2, 2, 6], { backend: cpuF32 }),
      ),
    ).toThrow(/dynamicConvLowRankStep: cache must be \[B, W-1, D\] = \[2, 1, 6\]/);
  });
});

describe('decode steps (WebGPU fused)', () => {
  gpuTest(
    'step-by-step decode (after an optional prefill chunk) equals the full forward',
    async ({ backend }) => {
      const live = backend.liveBuffers();
      await tidyAsync(() => expectDecodeMatchesForward(backend, 1e-5));
      expect(backend.liveBuffers()).toBe(live);
    },
  );
});
