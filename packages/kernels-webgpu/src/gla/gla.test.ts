import { div, neg, softplus, type Tensor, tensor, zeros } from '@dynconv/tensor';
import { checkOp } from '@dynconv/tensor/testing';
import { describe, expect, it } from 'vitest';
import { gpuTest } from '../../test/gpu-fixture.js';
import { cpuF32 } from '../../test/helpers.js';
import {
  cpuF64,
  drawValues,
  expectAllClose,
  expectDocumentsIsolated,
  forwardBackward,
  logSigmoid,
  maxRelDiff,
  type ValueSpec,
} from '../../test/linear-scan-helpers.js';
import { gla } from './gla.js';
import { glaRecurrentRef } from './gla.ref.js';
import { glaStep } from './gla-step.js';

/** q, k, v, gk, initialState for batch 2; gk as GLA makes it: logsigmoid(·)/16 (but larger here, to test decay). */
const specs = (T: number, H: number, K: number, V: number): ValueSpec[] => [
  { shape: [2, T, H, K] },
  { shape: [2, T, H, K] },
  { shape: [2, T, H, V] },
  { shape: [2, T, H, K], map: (x) => logSigmoid(2 * x + 1) },
  { shape: [2, H, K, V], scale: 0.5 },
];

type Case = { name: string; T: number; H: number; K: number; V: number; Q: number };
const cases: Case[] = [
  { name: 'T=13 not a multiple of Q=4', T: 13, H: 2, K: 3, V: 2, Q: 4 },
  { name: 'T=16 exact multiple of Q=8', T: 16, H: 1, K: 4, V: 3, Q: 8 },
  { name: 'Q=1', T: 5, H: 2, K: 2, V: 2, Q: 1 },
  { name: 'Q=16 > T=9 (one padded chunk)', T: 9, H: 1, K: 3, V: 4, Q: 16 },
];

describe('gla (chunked) vs glaRecurrentRef', () => {
  for (const c of cases)
    it(`agrees in outputs, final state and every gradient: ${c.name}`, async () => {
      const sp = specs(c.T, c.H, c.K, c.V);
      const values = drawValues(sp, 21);
      const run = (impl: typeof gla) => (t: Tensor[]) => {
        const [q, k, v, gk, s0] = t as [Tensor, Tensor, Tensor, Tensor, Tensor];
        const r = impl(q, k, v, gk, { initialState: s0, chunkSize: c.Q });
        return [r.o, r.finalState];
      };
      const chunked = await forwardBackward(cpuF64, sp, values, run(gla));
      const recurrent = await forwardBackward(cpuF64, sp, values, run(glaRecurrentRef));
      expect(maxRelDiff(chunked.outputs, recurrent.outputs)).toBeLessThan(1e-12);
      expect(maxRelDiff(chunked.grads, recurrent.grads)).toBeLessThan(1e-12);
    });

  it('stays finite with strong decay inside a chunk (the masked exponent never overflows)', async () => {
    const [T, H, K, V] = [16, 1, 2, 2];
    const vals = drawValues([{ shape: [1, T, H, K] }, { shape: [1, T, H, V] }], 8);
    const q = tensor(vals[0]!, { shape: [1, T, H, K], backend: cpuF32 });
    const v = tensor(vals[1]!, { shape: [1, T, H, V], backend: cpuF32 });
    const gk = tensor(new Array(T * H * K).fill(-30), { shape: [1, T, H, K], backend: cpuF32 }); // e^{-450} across the chunk
    const o = await gla(q, q, v, gk, { chunkSize: 16 }).o.toArray();
    expect(o.every(Number.isFinite)).toBe(true);
  });

  it('keeps packed documents apart (chunked and recurrent), also across chunk edges', async () => {
    const [T, H, K, V] = [14, 2, 3, 2];
    const sp = specs(T, H, K, V);
    const vals = drawValues(sp, 13);
    const t = (i: number) => tensor(vals[i]!, { shape: sp[i]!.shape, backend: cpuF64 });
    for (const impl of [gla, glaRecurrentRef])
      await expectDocumentsIsolated(
        [t(0), t(1), t(2), t(3)],
        [[4, 5, 11], [3]],
        ([q, k, v, gk], docStart) =>
          impl(q!, k!, v!, gk!, { chunkSize: 4, ...(docStart ? { docStart } : {}) }).o,
        1e-12,
      );
  });

  it('decoding token by token with glaStep reproduces the chunked forward', async () => {
    const [T, H, K, V] = [7, 2, 3, 2];
    const sp = specs(T, H, K, V);
    const vals = drawValues(sp, 6);
    const t = (i: number) => tensor(vals[i]!, { shape: sp[i]!.shape, backend: cpuF64 });
    const [q, k, v, gk] = [t(0), t(1), t(2), t(3)];
    const full = gla(q, k, v, gk, { chunkSize: 4 });
    const fullO = await full.o.toArray();
    let state = zeros([2, H, K, V], { backend: cpuF64 });
    for (let i = 0; i < T; i++) {
      const at = (x: Tensor) => x.narrow(1, i, 1).squeeze(1);
      const step = glaStep(at(q), at(k), at(v), at(gk), state);
      const oi = await step.o.toArray();
      for (let b = 0; b < 2; b++)
        for (let j = 0; j < H * V; j++)
          expect(oi[b * H * V + j]).toBeCloseTo(fullO[(b * T + i) * H * V + j]!, 12);
      state = step.state;
    }
    const fs = await full.finalState.toArray();
    expectAllClose(await state.toArray(), fs, 1e-12, 'final state');
  });

  it('passes checkOp (f32 CPU vs f64, gradients, finite differences)', async () => {
    const [T, H, K, V] = [6, 1, 2, 2];
    await checkOp(
      'gla',
      [{ shape: [1, T, H, K] }, { shape: [1, T, H, K] }, { shape: [1, T, H, V] }, { shape: [1, T, H, K] }],
      ([q, k, v, a]) => gla(q!, k!, v!, div(neg(softplus(neg(a!))), 4), { chunkSize: 4 }).o,
      { backend: cpuF32, atol: 1e-4, rtol: 1e-4 },
    );
  });

  gpuTest('on WebGPU matches the f64 reference in forward and every gradient', async ({ backend }) => {
    const [T, H, K, V] = [11, 2, 3, 2];
    await checkOp(
      'gla webgpu',
      [{ shape: [1, T, H, K] }, { shape: [1, T, H, K] }, { shape: [1, T, H, V] }, { shape: [1, T, H, K] }],
      ([q, k, v, a]) => gla(q!, k!, v!, div(neg(softplus(neg(a!))), 4), { chunkSize: 4 }).o,
      { backend, fd: false, atol: 1e-4, rtol: 1e-4 },
    );
  });

  it('names the op, the argument and the shapes in its errors', () => {
    const q = zeros([1, 5, 2, 4], { backend: cpuF64 });
    const v = zeros([1, 5, 2, 3], { backend: cpuF64 });
    expect(() => gla(q, q, v, zeros([1, 5, 2, 3], { backend: cpuF64 }))).toThrow(
      /gla: gk must be \[B, T, H, K\] = \[1, 5, 2, 4\], got \[1, 5, 2, 3\]/,
    );
    expect(() => gla(q, q, v, q, { chunkSize: 512 })).toThrow(
      /gla: chunkSize must be a power of two in 1\.\.256, got 512/,
    );
  });
});
