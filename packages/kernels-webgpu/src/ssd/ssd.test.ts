import { exp, neg, softplus, type Tensor, tensor, zeros } from '@dynconv/tensor';
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
  maxRelDiff,
  negExp,
  softplus as softplusHost,
  type ValueSpec,
} from '../../test/linear-scan-helpers.js';
import { ssd } from './ssd.js';
import { ssdRecurrentRef } from './ssd.ref.js';
import { ssdStep } from './ssd-step.js';

/** x, dt, A, B, C, D, initialState for batch 2, H heads of size P, G groups, state N. */
const specs = (T: number, H: number, P: number, G: number, N: number): ValueSpec[] => [
  { shape: [2, T, H, P] },
  { shape: [2, T, H], map: (v) => softplusHost(v - 1) },
  { shape: [H], map: (v) => negExp(0.5 * v) },
  { shape: [2, T, G, N] },
  { shape: [2, T, G, N] },
  { shape: [H] },
  { shape: [2, H, P, N], scale: 0.5 },
];

type Case = { name: string; T: number; H: number; P: number; G: number; N: number; Q: number };
const cases: Case[] = [
  { name: 'T=13 not a multiple of Q=4, G=1 shared by 2 heads', T: 13, H: 2, P: 3, G: 1, N: 4, Q: 4 },
  { name: 'T=16 exact multiple of Q=8, G=H=2', T: 16, H: 2, P: 2, G: 2, N: 3, Q: 8 },
  { name: 'Q=1 (every token its own chunk)', T: 5, H: 1, P: 2, G: 1, N: 2, Q: 1 },
  { name: 'Q=64 > T=7 (one padded chunk)', T: 7, H: 4, P: 2, G: 2, N: 2, Q: 64 },
];

describe('ssd (chunked) vs ssdRecurrentRef', () => {
  for (const c of cases)
    it(`agrees in outputs, final state and every gradient: ${c.name}`, async () => {
      const sp = specs(c.T, c.H, c.P, c.G, c.N);
      const values = drawValues(sp, 7);
      const run = (impl: typeof ssd) => (t: Tensor[]) => {
        const [x, dt, A, B, C, D, s0] = t as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
        const r = impl(x, dt, A, B, C, { D, initialState: s0, chunkSize: c.Q });
        return [r.y, r.finalState];
      };
      const chunked = await forwardBackward(cpuF64, sp, values, run(ssd));
      const recurrent = await forwardBackward(cpuF64, sp, values, run(ssdRecurrentRef));
      expect(maxRelDiff(chunked.outputs, recurrent.outputs)).toBeLessThan(1e-12);
      expect(maxRelDiff(chunked.grads, recurrent.grads)).toBeLessThan(1e-12);
    });

  it('keeps packed documents apart (chunked and recurrent), also across chunk edges', async () => {
    const [T, H, P, G, N] = [14, 2, 2, 1, 3];
    const sp = specs(T, H, P, G, N);
    const vals = drawValues(sp, 9);
    const t = (i: number) => tensor(vals[i]!, { shape: sp[i]!.shape, backend: cpuF64 });
    const [A, D] = [t(2), t(5)];
    for (const impl of [ssd, ssdRecurrentRef])
      await expectDocumentsIsolated(
        [t(0), t(1), t(3), t(4)],
        [[4, 5, 11], [3]],
        ([x, dt, B, C], docStart) =>
          impl(x!, dt!, A, B!, C!, { D, chunkSize: 4, ...(docStart ? { docStart } : {}) }).y,
        1e-12,
      );
  });

  it('decoding token by token with ssdStep reproduces the chunked forward', async () => {
    const [T, H, P, G, N] = [9, 2, 3, 1, 4];
    const sp = specs(T, H, P, G, N);
    const [xv, dtv, av, bv, cv, dv] = drawValues(sp, 3) as number[][];
    const t = (v: number[], shape: readonly number[]) => tensor(v, { shape, backend: cpuF64 });
    const [x, dt, A, B, C, D] = [
      t(xv!, sp[0]!.shape),
      t(dtv!, sp[1]!.shape),
      t(av!, sp[2]!.shape),
      t(bv!, sp[3]!.shape),
      t(cv!, sp[4]!.shape),
      t(dv!, sp[5]!.shape),
    ];
    const full = ssd(x, dt, A, B, C, { D, chunkSize: 4 });
    let state = zeros([2, H, P, N], { backend: cpuF64 });
    const fullY = await full.y.toArray();
    for (let i = 0; i < T; i++) {
      const pickT = (v: Tensor) => v.narrow(1, i, 1).squeeze(1);
      const step = ssdStep(pickT(x), pickT(dt), A, pickT(B), pickT(C), state, D);
      const yi = await step.y.toArray();
      for (let b = 0; b < 2; b++)
        for (let k = 0; k < H * P; k++)
          expect(yi[b * H * P + k]).toBeCloseTo(fullY[(b * T + i) * H * P + k]!, 12);
      state.dispose();
      state = step.state;
    }
    const finalFull = await full.finalState.toArray();
    const finalStep = await state.toArray();
    expectAllClose(finalStep, finalFull, 1e-12, 'final state');
  });

  it('passes checkOp (f32 CPU vs f64, gradients, finite differences) with dt and A kept in their domain', async () => {
    const [T, H, P, G, N] = [6, 2, 2, 1, 3];
    await checkOp(
      'ssd',
      [
        { shape: [1, T, H, P] },
        { shape: [1, T, H] },
        { shape: [H] },
        { shape: [1, T, G, N] },
        { shape: [1, T, G, N] },
        { shape: [H] },
      ],
      ([x, dtRaw, aLog, B, C, D]) =>
        ssd(x!, softplus(dtRaw!), neg(exp(aLog!)), B!, C!, { D: D!, chunkSize: 4 }).y,
      { backend: cpuF32, atol: 1e-4, rtol: 1e-4 },
    );
  });

  gpuTest(
    'on WebGPU matches the f64 reference in forward and every gradient (packed documents)',
    async ({ backend }) => {
      const [T, H, P, G, N] = [11, 2, 2, 1, 3];
      const starts = [0, 0, 0, 0, 4, 4, 4, 4, 4, 9, 9];
      await checkOp(
        'ssd webgpu',
        [
          { shape: [1, T, H, P] },
          { shape: [1, T, H] },
          { shape: [H] },
          { shape: [1, T, G, N] },
          { shape: [1, T, G, N] },
          { shape: [H] },
          { shape: [1, T], dtype: 'i32', init: (i) => starts[i]! },
        ],
        ([x, dtRaw, aLog, B, C, D, docStart]) =>
          ssd(x!, softplus(dtRaw!), neg(exp(aLog!)), B!, C!, { D: D!, chunkSize: 4, docStart: docStart! }).y,
        { backend, fd: false, atol: 1e-4, rtol: 1e-4 },
      );
    },
  );

  it('names the op, the argument and the shapes in its errors', () => {
    const x = zeros([2, 5, 4, 3], { backend: cpuF64 });
    const dt = zeros([2, 5, 4], { backend: cpuF64 });
    const A = zeros([4], { backend: cpuF64 });
    const B = zeros([2, 5, 3, 2], { backend: cpuF64 });
    expect(() => ssd(x, dt, A, B, B)).toThrow(/ssd: B: G=3 groups must divide H=4 heads, got \[2, 5, 3, 2\]/);
    const B1 = zeros([2, 5, 1, 2], { backend: cpuF64 });
    expect(() => ssd(x, dt, A, B1, B1, { chunkSize: 48 })).toThrow(
      /ssd: chunkSize must be a power of two in 1\.\.256, got 48/,
    );
    expect(() => ssd(x, zeros([2, 5, 3], { backend: cpuF64 }), A, B1, B1)).toThrow(
      /ssd: dt must be \[B, T, H\] = \[2, 5, 4\], got \[2, 5, 3\]/,
    );
  });
});
