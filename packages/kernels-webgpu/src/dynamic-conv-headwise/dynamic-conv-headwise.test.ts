import { narrow, type Tensor, tensor } from '@dynconv/tensor';
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
import { dynamicConvHeadwise } from './dynamic-conv-headwise.js';

type Case = { name: string; specs: InputSpec[]; fn: (t: Tensor[]) => Tensor };

/** Head sizes 1 and 16, odd T and D, W in {1, 2, 3, 4, 8}, static filter, residual, packed documents. */
const headwiseCases: Case[] = [
  {
    name: 'hs=1 T=5 D=7 W=4',
    specs: [f(2, 5, 7), f(2, 5, 7, 4)],
    fn: ([x, k]) => dynamicConvHeadwise(x!, k!),
  },
  {
    name: 'hs=16 T=5 D=32 W=3 static residual',
    specs: [f(2, 5, 32), f(2, 5, 2, 3), f(3, 32)],
    fn: ([x, k, s]) => dynamicConvHeadwise(x!, k!, { static: s!, residual: true }),
  },
  {
    name: 'hs=1 T=1 D=3 W=2',
    specs: [f(1, 1, 3), f(1, 1, 3, 2)],
    fn: ([x, k]) => dynamicConvHeadwise(x!, k!),
  },
  {
    name: 'hs=16 T=257 D=16 W=8 docStart static',
    specs: [f(1, 257, 16), f(1, 257, 1, 8), f(8, 16), docStartSpec(1, 257, [[2, 130, 131]])],
    fn: ([x, k, s, d]) => dynamicConvHeadwise(x!, k!, { static: s!, docStart: d! }),
  },
  {
    name: 'hs=1 T=33 D=5 W=1 residual docStart',
    specs: [f(2, 33, 5), f(2, 33, 5, 1), docStartSpec(2, 33, [[10], [1, 32]])],
    fn: ([x, k, d]) => dynamicConvHeadwise(x!, k!, { residual: true, docStart: d! }),
  },
];

describe('dynamicConvHeadwise (composed, CPU)', () => {
  for (const c of headwiseCases)
    it(`matches the f64 reference, gradients and finite differences: ${c.name}`, async () => {
      await checkOp(`dynamicConvHeadwise ${c.name}`, c.specs, c.fn, { backend: cpuF32 });
    });

  it('shares one generated filter across the channels of a head', async () => {
    // D=2, one head: y[t, c] = k[t, 0, 0] x[t, c] + k[t, 0, 1] x[t-1, c]
    const x = tensor([1, 10, 2, 20], { shape: [1, 2, 2], backend: cpuF32 });
    const k = tensor([3, 100, 5, 7], { shape: [1, 2, 1, 2], backend: cpuF32 });
    expect(await dynamicConvHeadwise(x, k).toArray()).toEqual([3, 30, 5 * 2 + 7 * 1, 5 * 20 + 7 * 10]);
  });

  it('isolates packed documents', async () => {
    const [B, T, D, H, W] = [1, 19, 8, 2, 3];
    const cuts = [5, 6, 12];
    const x = randomTensor([B, T, D], 1);
    const k = randomTensor([B, T, H, W], 2);
    const s = randomTensor([W, D], 3);
    const docStart = tensor(docStartValues(B, T, [cuts]), { shape: [B, T], dtype: 'i32', backend: cpuF32 });
    const packed = await dynamicConvHeadwise(x, k, { static: s, residual: true, docStart }).toArray();
    const bounds = [0, ...cuts, T];
    for (let i = 0; i + 1 < bounds.length; i++) {
      const [st, e] = [bounds[i]!, bounds[i + 1]!];
      const alone = await dynamicConvHeadwise(narrow(x, 1, st, e - st), narrow(k, 1, st, e - st), {
        static: s,
        residual: true,
      }).toArray();
      expect(maxAbsDiff(packed.slice(st * D, e * D), alone)).toBe(0);
    }
  });

  it('names the op, the argument and the shapes in its errors', () => {
    const x = randomTensor([2, 5, 6], 1);
    expect(() => dynamicConvHeadwise(x, randomTensor([2, 5, 4, 3], 2))).toThrow(
      /dynamicConvHeadwise: taps: H=4 heads must divide D=6 \(x \[2, 5, 6\], taps \[2, 5, 4, 3\]\)/,
    );
    expect(() => dynamicConvHeadwise(x, randomTensor([2, 5, 3, 9], 2))).toThrow(
      /width W must be in 1\.\.8, got W=9/,
    );
    expect(() => dynamicConvHeadwise(x, randomTensor([2, 4, 3, 2], 2))).toThrow(
      /taps must be \[B, T, H, W\] = \[2, 5, H, W\]/,
    );
    expect(() =>
      dynamicConvHeadwise(x, randomTensor([2, 5, 3, 2], 2), { static: randomTensor([3, 6], 3) }),
    ).toThrow(/static must be \[2, D\] with D=6/);
  });
});

describe('dynamicConvHeadwise (WebGPU fused)', () => {
  gpuTest('f16 storage with f32 accumulation (devices with shader-f16)', async ({ backend, skip }) => {
    if (!backend.supportsF16) skip('the device has no shader-f16');
    const f16 = (...shape: number[]): InputSpec => ({ shape, dtype: 'f16' });
    await checkOp(
      'dynamicConvHeadwise f16',
      [f16(2, 9, 32), f16(2, 9, 2, 4), f16(4, 32)],
      ([x, k, s]) => dynamicConvHeadwise(x!, k!, { static: s!, residual: true }),
      { backend, atol: 3e-2, rtol: 3e-2, fd: false },
    );
  });

  for (const c of headwiseCases)
    gpuTest(`matches the f64 reference in forward and every gradient: ${c.name}`, async ({ backend }) => {
      await checkOp(`dynamicConvHeadwise ${c.name}`, c.specs, c.fn, { backend });
    });

  gpuTest('runs the fused kernels, reproducibly to the bit, without leaking buffers', async ({ backend }) => {
    const [B, T, D, H, W] = [2, 70, 32, 2, 4];
    const x = randomTensor([B, T, D], 1, backend);
    const k = randomTensor([B, T, H, W], 2, backend);
    const s = randomTensor([W, D], 3, backend);
    const d = tensor(docStartValues(B, T, [[5, 40], []]), { shape: [B, T], dtype: 'i32', backend });
    const inputs = [x, k, s];
    const run = (t: readonly Tensor[]) =>
      dynamicConvHeadwise(t[0]!, t[1]!, { static: t[2]!, residual: true, docStart: d });
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
