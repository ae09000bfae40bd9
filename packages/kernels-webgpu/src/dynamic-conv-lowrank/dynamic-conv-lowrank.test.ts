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
import { convTuning } from '../conv-core/conv-launch.js';
import { dynamicConvLowRank } from './dynamic-conv-lowrank.js';

type Case = { name: string; specs: InputSpec[]; fn: (t: Tensor[]) => Tensor };

/** Ranks around a power of two (1, 15, 16, 17), odd T and D, W in {1..8}, static, residual, packed documents. */
const lowRankCases: Case[] = [
  {
    name: 'R=1 T=5 D=7 W=4',
    specs: [f(2, 5, 7), f(2, 5, 1), f(1, 28)],
    fn: ([x, z, u]) => dynamicConvLowRank(x!, z!, u!),
  },
  {
    name: 'R=15 T=5 D=6 W=3 static residual',
    specs: [f(2, 5, 6), f(2, 5, 15), f(15, 18), f(3, 6)],
    fn: ([x, z, u, s]) => dynamicConvLowRank(x!, z!, u!, { static: s!, residual: true }),
  },
  {
    name: 'R=16 T=1 D=5 W=2 static',
    specs: [f(1, 1, 5), f(1, 1, 16), f(16, 10), f(2, 5)],
    fn: ([x, z, u, s]) => dynamicConvLowRank(x!, z!, u!, { static: s! }),
  },
  {
    name: 'R=17 T=257 D=3 W=8 docStart residual',
    specs: [f(1, 257, 3), f(1, 257, 17), f(17, 24), docStartSpec(1, 257, [[1, 64, 65, 200]])],
    fn: ([x, z, u, d]) => dynamicConvLowRank(x!, z!, u!, { residual: true, docStart: d! }),
  },
  {
    name: 'R=4 T=7 D=300 W=4 static residual (several dz channel slices)',
    specs: [f(2, 7, 300), f(2, 7, 4), f(4, 1200), f(4, 300)],
    fn: ([x, z, u, s]) => dynamicConvLowRank(x!, z!, u!, { static: s!, residual: true }),
  },
  {
    name: 'R=16 T=9 D=37 W=1 docStart static',
    specs: [f(2, 9, 37), f(2, 9, 16), f(16, 37), f(1, 37), docStartSpec(2, 9, [[4], []])],
    fn: ([x, z, u, s, d]) => dynamicConvLowRank(x!, z!, u!, { static: s!, docStart: d! }),
  },
];

describe('dynamicConvLowRank (composed, CPU)', () => {
  for (const c of lowRankCases)
    it(`matches the f64 reference, gradients and finite differences: ${c.name}`, async () => {
      await checkOp(`dynamicConvLowRank ${c.name}`, c.specs, c.fn, { backend: cpuF32 });
    });

  it('reads u tap-major: u[r, w*D + c]', async () => {
    // D=2, W=2, R=1, z=1: K[w, c] = u[0, w*2 + c]
    const x = tensor([1, 10, 2, 20], { shape: [1, 2, 2], backend: cpuF32 });
    const z = tensor([1, 1], { shape: [1, 2, 1], backend: cpuF32 });
    const u = tensor([3, 4, 5, 6], { shape: [1, 4], backend: cpuF32 });
    expect(await dynamicConvLowRank(x, z, u).toArray()).toEqual([3, 40, 3 * 2 + 5 * 1, 4 * 20 + 6 * 10]);
  });

  it('isolates packed documents', async () => {
    const [B, T, D, R, W] = [1, 17, 6, 4, 4];
    const cuts = [3, 4, 9];
    const x = randomTensor([B, T, D], 1);
    const z = randomTensor([B, T, R], 2);
    const u = randomTensor([R, W * D], 3);
    const docStart = tensor(docStartValues(B, T, [cuts]), { shape: [B, T], dtype: 'i32', backend: cpuF32 });
    const packed = await dynamicConvLowRank(x, z, u, { residual: true, docStart }).toArray();
    const bounds = [0, ...cuts, T];
    for (let i = 0; i + 1 < bounds.length; i++) {
      const [s, e] = [bounds[i]!, bounds[i + 1]!];
      const alone = await dynamicConvLowRank(narrow(x, 1, s, e - s), narrow(z, 1, s, e - s), u, {
        residual: true,
      }).toArray();
      expect(maxAbsDiff(packed.slice(s * D, e * D), alone)).toBe(0);
    }
  });

  it('names the op, the argument and the shapes in its errors', () => {
    const x = randomTensor([2, 5, 6], 1);
    expect(() => dynamicConvLowRank(x, randomTensor([2, 5, 65], 2), randomTensor([65, 24], 3))).toThrow(
      /dynamicConvLowRank: z: rank R must be in 1\.\.64, got R=65 from \[2, 5, 65\]/,
    );
    expect(() => dynamicConvLowRank(x, randomTensor([2, 5, 4], 2), randomTensor([4, 25], 3))).toThrow(
      /u must be \[R, W\*D\] with R=4, D=6 \(z \[2, 5, 4\], x \[2, 5, 6\]\), got \[4, 25\]/,
    );
    expect(() => dynamicConvLowRank(x, randomTensor([2, 5, 4], 2), randomTensor([4, 54], 3))).toThrow(
      /u: width W must be in 1\.\.8, got W=9/,
    );
  });
});

describe('dynamicConvLowRank (WebGPU fused)', () => {
  gpuTest('f16 storage with f32 accumulation (devices with shader-f16)', async ({ backend, skip }) => {
    if (!backend.supportsF16) skip('the device has no shader-f16');
    const f16 = (...shape: number[]): InputSpec => ({ shape, dtype: 'f16' });
    await checkOp(
      'dynamicConvLowRank f16',
      [f16(2, 9, 12), f16(2, 9, 16), f16(16, 48), f16(4, 12)],
      ([x, z, u, s]) => dynamicConvLowRank(x!, z!, u!, { static: s!, residual: true }),
      { backend, atol: 3e-2, rtol: 3e-2, fd: false },
    );
  });

  gpuTest(
    'short backward chunks (many partials), the split backward (dx kernel, then dU/dS kernel), tree-summed taps, z and x staged in workgroup memory and deeper prefetch match too',
    async ({ backend }) => {
      const saved = { ...convTuning };
      try {
        convTuning.lowRankBackwardChunk = 16;
        for (const [split, tree] of [
          [false, false],
          [true, false],
          [false, true],
          [true, true],
        ] as const) {
          convTuning.lowRankSplitBackward = split;
          convTuning.lowRankTreeSum = tree;
          for (const c of [lowRankCases[1]!, lowRankCases[3]!])
            await checkOp(
              `dynamicConvLowRank chunk=16 split=${split} tree=${tree} ${c.name}`,
              c.specs,
              c.fn,
              {
                backend,
                fd: false,
              },
            );
        }
      } finally {
        Object.assign(convTuning, saved);
      }
    },
  );

  gpuTest('the token loops with and without software-pipelined staging match', async ({ backend }) => {
    const saved = { ...convTuning };
    try {
      // The backward pipelines by default: check the unpipelined form too.
      convTuning.lowRankPipelineStage = !saved.lowRankPipelineStage;
      for (const chunk of [16, 512]) {
        convTuning.lowRankBackwardChunk = chunk;
        convTuning.lowRankForwardChunk = chunk;
        for (const c of [lowRankCases[1]!, lowRankCases[3]!, lowRankCases[4]!])
          await checkOp(`dynamicConvLowRank pipelined chunk=${chunk} ${c.name}`, c.specs, c.fn, {
            backend,
            fd: false,
          });
      }
    } finally {
      Object.assign(convTuning, saved);
    }
  });

  gpuTest(
    'the dz kernel variants (quads, tokens per thread, software-pipelined staging) match too',
    async ({ backend }) => {
      const saved = { ...convTuning };
      try {
        const variants: Partial<typeof convTuning>[] = [
          { lowRankZGradQuads: true },
          { lowRankZGradQuads: true, lowRankZGradQuadsChannels: 4 },
          { lowRankZGradQuads: false, lowRankZGradPrefetch: true },
          { lowRankZGradQuads: false, lowRankZGradPrefetch: false },
          { lowRankZGradQuads: false, lowRankZGradTokens: 2, lowRankZGradPrefetch: true },
          { lowRankZGradQuads: false, lowRankZGradTokens: 2, lowRankZGradPrefetch: false },
        ];
        for (const variant of variants) {
          Object.assign(convTuning, saved, variant);
          const cases = variant.lowRankZGradQuads
            ? lowRankCases
            : [lowRankCases[1]!, lowRankCases[3]!, lowRankCases[4]!];
          for (const c of cases)
            await checkOp(`dynamicConvLowRank dz ${JSON.stringify(variant)} ${c.name}`, c.specs, c.fn, {
              backend,
              fd: false,
            });
        }
      } finally {
        Object.assign(convTuning, saved);
      }
    },
  );

  for (const c of lowRankCases)
    gpuTest(`matches the f64 reference in forward and every gradient: ${c.name}`, async ({ backend }) => {
      await checkOp(`dynamicConvLowRank ${c.name}`, c.specs, c.fn, { backend });
    });

  gpuTest('runs the fused kernels, reproducibly to the bit, without leaking buffers', async ({ backend }) => {
    const [B, T, D, R, W] = [2, 300, 37, 16, 4];
    const x = randomTensor([B, T, D], 1, backend);
    const z = randomTensor([B, T, R], 2, backend);
    const u = randomTensor([R, W * D], 3, backend);
    const s = randomTensor([W, D], 4, backend);
    const d = tensor(docStartValues(B, T, [[5, 260], []]), { shape: [B, T], dtype: 'i32', backend });
    const inputs = [x, z, u, s];
    const run = (t: readonly Tensor[]) =>
      dynamicConvLowRank(t[0]!, t[1]!, t[2]!, { static: t[3]!, residual: true, docStart: d });
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
