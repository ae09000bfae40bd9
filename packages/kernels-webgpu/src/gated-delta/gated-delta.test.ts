import { div, matmul, neg, sigmoid, softplus, sqrt, sum, type Tensor, tensor, zeros } from '@dynconv/tensor';
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
  sigmoid as sigmoidHost,
  type ValueSpec,
} from '../../test/linear-scan-helpers.js';
import { gatedDeltaRule } from './gated-delta.js';
import { gatedDeltaRecurrentRef } from './gated-delta.ref.js';
import { gatedDeltaStep } from './gated-delta-step.js';
import { utTransform } from './ut-transform.js';

/** Unit-norm keys per head (as Gated DeltaNet feeds them): keeps the delta rule contractive. */
const l2 = (t: Tensor): Tensor => div(t, sqrt(sum(t.mul(t), -1, true)));

/** q, k, v, g, beta, initialState for batch 2. */
const specs = (T: number, H: number, K: number, V: number): ValueSpec[] => [
  { shape: [2, T, H, K] },
  { shape: [2, T, H, K] },
  { shape: [2, T, H, V] },
  { shape: [2, T, H], map: (x) => logSigmoid(x + 2) },
  { shape: [2, T, H], map: sigmoidHost },
  { shape: [2, H, K, V], scale: 0.5 },
];

type Case = { name: string; T: number; H: number; K: number; V: number; Q: number };
const cases: Case[] = [
  { name: 'T=13 not a multiple of Q=4', T: 13, H: 2, K: 4, V: 3, Q: 4 },
  { name: 'T=16 exact multiple of Q=8, K != V', T: 16, H: 1, K: 5, V: 2, Q: 8 },
  { name: 'Q=1', T: 5, H: 2, K: 3, V: 3, Q: 1 },
  { name: 'Q=32 > T=11 (one padded chunk)', T: 11, H: 1, K: 4, V: 4, Q: 32 },
];

describe('gatedDeltaRule (chunked) vs gatedDeltaRecurrentRef', () => {
  for (const c of cases)
    it(`agrees in outputs, final state and every gradient: ${c.name}`, async () => {
      const sp = specs(c.T, c.H, c.K, c.V);
      const values = drawValues(sp, 11);
      const run = (impl: typeof gatedDeltaRule) => (t: Tensor[]) => {
        const [q, k, v, g, beta, s0] = t as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
        const r = impl(l2(q), l2(k), v, g, beta, { initialState: s0, chunkSize: c.Q });
        return [r.o, r.finalState];
      };
      const chunked = await forwardBackward(cpuF64, sp, values, run(gatedDeltaRule));
      const recurrent = await forwardBackward(cpuF64, sp, values, run(gatedDeltaRecurrentRef));
      expect(maxRelDiff(chunked.outputs, recurrent.outputs)).toBeLessThan(1e-12);
      expect(maxRelDiff(chunked.grads, recurrent.grads)).toBeLessThan(1e-12);
    });

  it('stays accurate in f32 with identical keys, β=1, no decay (where a Neumann-series inverse cancels catastrophically)', async () => {
    const [T, H, K, V] = [64, 1, 8, 4];
    const key = Array.from({ length: K }, (_, i) => (i === 0 ? 1 : 0));
    const make = (backend: typeof cpuF32) => {
      const vs = drawValues([{ shape: [1, T, H, V] }, { shape: [1, T, H, K] }], 5);
      return {
        q: tensor(vs[1]!, { shape: [1, T, H, K], backend }),
        k: tensor(Array.from({ length: T * H }, () => key).flat(), { shape: [1, T, H, K], backend }),
        v: tensor(vs[0]!, { shape: [1, T, H, V], backend }),
        g: zeros([1, T, H], { backend }),
        beta: tensor(new Array(T * H).fill(1), { shape: [1, T, H], backend }),
      };
    };
    const a = make(cpuF32);
    const b = make(cpuF64);
    const f32 = await gatedDeltaRule(a.q, a.k, a.v, a.g, a.beta, { chunkSize: 64 }).o.toArray();
    const ref = await gatedDeltaRecurrentRef(b.q, b.k, b.v, b.g, b.beta).o.toArray();
    expect(maxRelDiff([Float64Array.from(f32)], [Float64Array.from(ref)])).toBeLessThan(1e-5);
  });

  it('utTransform inverts I + strictLower(kβ kᵀ ⊙ exp(γ_i − γ_j))', async () => {
    const [Q, K] = [8, 3];
    const [kb, k, gam] = drawValues(
      [{ shape: [Q, K] }, { shape: [Q, K] }, { shape: [Q], map: (x) => -Math.abs(x) }],
      2,
    );
    const cum: number[] = [];
    for (const x of gam!) cum.push((cum[cum.length - 1] ?? 0) + x);
    const ut = utTransform(
      tensor(kb!, { shape: [Q, K], backend: cpuF64 }),
      tensor(k!, { shape: [Q, K], backend: cpuF64 }),
      tensor(cum, { shape: [Q], backend: cpuF64 }),
    );
    const L = new Array(Q * Q).fill(0);
    for (let i = 0; i < Q; i++) {
      L[i * Q + i] = 1;
      for (let j = 0; j < i; j++) {
        let dot = 0;
        for (let d = 0; d < K; d++) dot += kb![i * K + d]! * k![j * K + d]!;
        L[i * Q + j] = dot * Math.exp(cum[i]! - cum[j]!);
      }
    }
    const product = await matmul(ut, tensor(L, { shape: [Q, Q], backend: cpuF64 })).toArray();
    const identity = Array.from({ length: Q * Q }, (_, i) => (i % (Q + 1) === 0 ? 1 : 0));
    expectAllClose(product, identity, 1e-12, 'T (I + A)');
  });

  it('keeps packed documents apart (chunked and recurrent), also across chunk edges', async () => {
    const [T, H, K, V] = [14, 2, 3, 2];
    const sp = specs(T, H, K, V);
    const vals = drawValues(sp, 12);
    const t = (i: number) => tensor(vals[i]!, { shape: sp[i]!.shape, backend: cpuF64 });
    for (const impl of [gatedDeltaRule, gatedDeltaRecurrentRef])
      await expectDocumentsIsolated(
        [l2(t(0)), l2(t(1)), t(2), t(3), t(4)],
        [[4, 5, 11], [3]],
        ([q, k, v, g, beta], docStart) =>
          impl(q!, k!, v!, g!, beta!, { chunkSize: 4, ...(docStart ? { docStart } : {}) }).o,
        1e-12,
      );
  });

  it('decoding token by token with gatedDeltaStep reproduces the chunked forward', async () => {
    const [T, H, K, V] = [7, 2, 4, 3];
    const sp = specs(T, H, K, V);
    const vals = drawValues(sp, 4);
    const t = (i: number) => tensor(vals[i]!, { shape: sp[i]!.shape, backend: cpuF64 });
    const [q, k, v, g, beta] = [l2(t(0)), l2(t(1)), t(2), t(3), t(4)];
    const full = gatedDeltaRule(q, k, v, g, beta, { chunkSize: 4 });
    const fullO = await full.o.toArray();
    let state = zeros([2, H, K, V], { backend: cpuF64 });
    for (let i = 0; i < T; i++) {
      const at = (x: Tensor) => x.narrow(1, i, 1).squeeze(1);
      const step = gatedDeltaStep(at(q), at(k), at(v), at(g), at(beta), state);
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
    const [T, H, K, V] = [6, 1, 3, 2];
    await checkOp(
      'gatedDeltaRule',
      [
        { shape: [1, T, H, K] },
        { shape: [1, T, H, K] },
        { shape: [1, T, H, V] },
        { shape: [1, T, H] },
        { shape: [1, T, H] },
      ],
      ([q, k, v, a, b]) =>
        gatedDeltaRule(l2(q!), l2(k!), v!, neg(softplus(a!)), sigmoid(b!), { chunkSize: 4 }).o,
      { backend: cpuF32, atol: 1e-4, rtol: 1e-4 },
    );
  });

  gpuTest('on WebGPU matches the f64 reference in forward and every gradient', async ({ backend }) => {
    const [T, H, K, V] = [11, 2, 4, 3];
    await checkOp(
      'gatedDeltaRule webgpu',
      [
        { shape: [1, T, H, K] },
        { shape: [1, T, H, K] },
        { shape: [1, T, H, V] },
        { shape: [1, T, H] },
        { shape: [1, T, H] },
      ],
      ([q, k, v, a, b]) =>
        gatedDeltaRule(l2(q!), l2(k!), v!, neg(softplus(a!)), sigmoid(b!), { chunkSize: 4 }).o,
      { backend, fd: false, atol: 1e-4, rtol: 1e-4 },
    );
  });

  it('names the op, the argument and the shapes in its errors', () => {
    const q = zeros([1, 5, 2, 4], { backend: cpuF64 });
    const v = zeros([1, 5, 2, 3], { backend: cpuF64 });
    const g = zeros([1, 5, 2], { backend: cpuF64 });
    expect(() => gatedDeltaRule(q, q, v, g, zeros([1, 5, 3], { backend: cpuF64 }))).toThrow(
      /gatedDeltaRule: beta must be \[B, T, H\] = \[1, 5, 2\], got \[1, 5, 3\]/,
    );
    expect(() => gatedDeltaRule(q, q, v, g, g, { chunkSize: 0 })).toThrow(
      /chunkSize must be a power of two in 1\.\.256, got 0/,
    );
    expect(() =>
      gatedDeltaRule(q, q, v, g, g, { initialState: zeros([1, 2, 3, 4], { backend: cpuF64 }) }),
    ).toThrow(/initialState must be \[B, H, K, V\] = \[1, 2, 4, 3\], got \[1, 2, 3, 4\]/);
  });
});
