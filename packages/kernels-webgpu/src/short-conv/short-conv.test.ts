import { narrow, type Tensor, TensorError, tensor } from '@dynconv/tensor';
import { checkOp, type InputSpec } from '@dynconv/tensor/testing';
import { describe, expect, it } from 'vitest';
import { gpuTest } from '../../test/gpu-fixture.js';
import {
  cpuF32,
  dispatchCount,
  docStartSpec,
  docStartValues,
  f,
  forwardBackward,
  maxAbsDiff,
  randomTensor,
} from '../../test/helpers.js';
import { type ShortConvOptions, shortConv } from './short-conv.js';

type Case = { name: string; specs: InputSpec[]; fn: (t: Tensor[]) => Tensor };

/** Odd shapes: T in {1, 5, 257}, D not a multiple of a workgroup, every W the kernels unroll differently. */
const shortConvCases: Case[] = [
  { name: 'T=5 D=37 W=4 plain', specs: [f(2, 5, 37), f(4, 37)], fn: ([x, w]) => shortConv(x!, w!) },
  { name: 'T=1 D=5 W=3', specs: [f(1, 1, 5), f(3, 5)], fn: ([x, w]) => shortConv(x!, w!) },
  {
    name: 'T=5 D=9 W=1 bias',
    specs: [f(2, 5, 9), f(1, 9), f(9)],
    fn: ([x, w, b]) => shortConv(x!, w!, { bias: b! }),
  },
  {
    name: 'T=5 D=37 W=2 bias silu residual',
    specs: [f(2, 5, 37), f(2, 37), f(37)],
    fn: ([x, w, b]) => shortConv(x!, w!, { bias: b!, activation: 'silu', residual: true }),
  },
  {
    name: 'T=257 D=6 W=8 docStart residual',
    specs: [f(2, 257, 6), f(8, 6), docStartSpec(2, 257, [[], [3, 100, 101, 250]])],
    fn: ([x, w, d]) => shortConv(x!, w!, { residual: true, docStart: d! }),
  },
  {
    name: 'T=33 D=3 W=3 docStart bias silu',
    specs: [f(3, 33, 3), f(3, 3), f(3), docStartSpec(3, 33, [[1, 2, 16], [], [31]])],
    fn: ([x, w, b, d]) => shortConv(x!, w!, { bias: b!, activation: 'silu', docStart: d! }),
  },
];

describe('shortConv (composed, CPU)', () => {
  for (const c of shortConvCases)
    it(`matches the f64 reference, gradients and finite differences: ${c.name}`, async () => {
      await checkOp(`shortConv ${c.name}`, c.specs, c.fn, { backend: cpuF32 });
    });

  it('computes the lag-order formula on a hand-checked example', async () => {
    const x = tensor([1, 2, 3, 4], { shape: [1, 4, 1], backend: cpuF32 });
    const w = tensor([10, 1], { shape: [2, 1], backend: cpuF32 }); // tap 0 = current, tap 1 = previous
    expect(await shortConv(x, w).toArray()).toEqual([10, 21, 32, 43]);
  });

  it('isolates packed documents: each document equals the op run on it alone', async () => {
    const [B, T, D, W] = [2, 23, 5, 4];
    const starts = [[7, 8, 15], []];
    const x = randomTensor([B, T, D], 1);
    const w = randomTensor([W, D], 2);
    const b = randomTensor([D], 3);
    const docStart = tensor(docStartValues(B, T, starts), { shape: [B, T], dtype: 'i32', backend: cpuF32 });
    const opts: ShortConvOptions = { bias: b, activation: 'silu', residual: true };
    const packed = await shortConv(x, w, { ...opts, docStart }).toArray();
    for (const [row, cuts] of starts.entries()) {
      const bounds = [0, ...cuts, T];
      for (let i = 0; i + 1 < bounds.length; i++) {
        const [s, e] = [bounds[i]!, bounds[i + 1]!];
        const alone = await shortConv(narrow(narrow(x, 0, row, 1), 1, s, e - s), w, opts).toArray();
        const got = Array.from({ length: (e - s) * D }, (_, j) => packed[(row * T + s) * D + j]!);
        expect(maxAbsDiff(got, alone)).toBe(0);
      }
    }
  });

  it('names the op, the argument and the shapes in its errors', () => {
    const x = randomTensor([2, 5, 6], 1);
    expect(() => shortConv(x, randomTensor([9, 6], 2))).toThrow(
      /shortConv: weight: width W must be in 1\.\.8, got W=9 from \[9, 6\]/,
    );
    expect(() => shortConv(x, randomTensor([4, 5], 2))).toThrow(
      /shortConv: weight must be \[W, D\] with D=6 \(x \[2, 5, 6\]\), got \[4, 5\]/,
    );
    expect(() => shortConv(x, randomTensor([4, 6], 2), { bias: randomTensor([5], 3) })).toThrow(
      /bias must be \[D\]/,
    );
    const badDoc = tensor([0, 0], { shape: [1, 2], dtype: 'i32', backend: cpuF32 });
    expect(() => shortConv(x, randomTensor([4, 6], 2), { docStart: badDoc })).toThrow(
      /docStart must be \[B, T\] = \[2, 5\]/,
    );
    expect(() => shortConv(randomTensor([5, 6], 1), randomTensor([4, 6], 2))).toThrow(TensorError);
  });
});

describe('shortConv (WebGPU fused)', () => {
  gpuTest('f16 storage with f32 accumulation (devices with shader-f16)', async ({ backend, skip }) => {
    if (!backend.supportsF16) skip('the device has no shader-f16');
    const f16 = (...shape: number[]): InputSpec => ({ shape, dtype: 'f16' });
    await checkOp(
      'shortConv f16',
      [f16(2, 9, 37), f16(4, 37), f16(37), docStartSpec(2, 9, [[4], []])],
      ([x, w, b, d]) => shortConv(x!, w!, { bias: b!, activation: 'silu', residual: true, docStart: d! }),
      { backend, atol: 3e-2, rtol: 3e-2, fd: false },
    );
  });

  for (const c of shortConvCases)
    gpuTest(`matches the f64 reference in forward and every gradient: ${c.name}`, async ({ backend }) => {
      await checkOp(`shortConv ${c.name}`, c.specs, c.fn, { backend });
    });

  gpuTest('runs the fused kernels, reproducibly to the bit, without leaking buffers', async ({ backend }) => {
    const [B, T, D, W] = [2, 70, 37, 4];
    const x = randomTensor([B, T, D], 1, backend);
    const w = randomTensor([W, D], 2, backend);
    const b = randomTensor([D], 3, backend);
    const d = tensor(docStartValues(B, T, [[5, 40], []]), { shape: [B, T], dtype: 'i32', backend });
    const inputs = [x, w, b];
    const run = (t: readonly Tensor[]) =>
      shortConv(t[0]!, t[1]!, { bias: t[2]!, activation: 'silu', residual: true, docStart: d });
    const before = dispatchCount(backend);
    const y = run(inputs);
    // A forward is its kernel plus the output's poison fill; the composed form takes dozens of dispatches.
    expect(dispatchCount(backend) - before).toBeLessThanOrEqual(2);
    y.dispose();
    const live = backend.liveBuffers();
    const first = await forwardBackward(inputs, run);
    const second = await forwardBackward(inputs, run);
    expect(backend.liveBuffers()).toBe(live);
    expect(first.grads.length).toBe(inputs.length);
    for (const [i, g] of first.grads.entries())
      expect(Buffer.from(g.buffer).equals(Buffer.from(second.grads[i]!.buffer)), `grad ${i}`).toBe(true);
  });
});
