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
import { attentionTuning, LAUNCHES } from './causal-attention.fused.js';
import { causalAttention } from './causal-attention.js';

type Case = { name: string; specs: InputSpec[]; fn: (t: Tensor[]) => Tensor };

/** MHA and GQA, head dims 1 and 16, odd T, packed documents, a KV offset (decode). */
const attentionCases: Case[] = [
  {
    name: 'MHA T=5 dh=16',
    specs: [f(2, 2, 5, 16), f(2, 2, 5, 16), f(2, 2, 5, 16)],
    fn: ([q, k, v]) => causalAttention(q!, k!, v!),
  },
  {
    name: 'GQA 4/2 T=7 dh=1',
    specs: [f(1, 4, 7, 1), f(1, 2, 7, 1), f(1, 2, 7, 1)],
    fn: ([q, k, v]) => causalAttention(q!, k!, v!),
  },
  {
    name: 'GQA 3/1 T=33 dh=5 docStart scale',
    specs: [f(2, 3, 33, 5), f(2, 1, 33, 5), f(2, 1, 33, 5), docStartSpec(2, 33, [[1, 2, 20], []])],
    fn: ([q, k, v, d]) => causalAttention(q!, k!, v!, { docStart: d!, scale: 0.3 }),
  },
  {
    name: 'kvOffset Tq=3 Tk=8',
    specs: [f(1, 2, 3, 4), f(1, 2, 8, 4), f(1, 2, 8, 4)],
    fn: ([q, k, v]) => causalAttention(q!, k!, v!, { kvOffset: 5 }),
  },
  {
    name: 'T=1',
    specs: [f(1, 1, 1, 3), f(1, 1, 1, 3), f(1, 1, 1, 3)],
    fn: ([q, k, v]) => causalAttention(q!, k!, v!),
  },
];

describe('causalAttention (composed, CPU)', () => {
  for (const c of attentionCases)
    it(`matches the f64 reference, gradients and finite differences: ${c.name}`, async () => {
      await checkOp(`causalAttention ${c.name}`, c.specs, c.fn, { backend: cpuF32 });
    });

  it('decoding the last query against the whole cache equals the last row of the full pass', async () => {
    const [B, H, Hkv, T, dh] = [2, 4, 2, 9, 8];
    const q = randomTensor([B, H, T, dh], 1);
    const k = randomTensor([B, Hkv, T, dh], 2);
    const v = randomTensor([B, Hkv, T, dh], 3);
    const full = await narrow(causalAttention(q, k, v), 2, T - 1, 1).toArray();
    const step = await causalAttention(narrow(q, 2, T - 1, 1), k, v).toArray();
    expect(maxAbsDiff(full, step)).toBeLessThan(1e-6);
  });

  it('isolates packed documents', async () => {
    const [H, T, dh] = [2, 12, 4];
    const cuts = [4, 5];
    const q = randomTensor([1, H, T, dh], 1);
    const k = randomTensor([1, H, T, dh], 2);
    const v = randomTensor([1, H, T, dh], 3);
    const docStart = tensor(docStartValues(1, T, [cuts]), { shape: [1, T], dtype: 'i32', backend: cpuF32 });
    const packed = causalAttention(q, k, v, { docStart });
    const bounds = [0, ...cuts, T];
    for (let i = 0; i + 1 < bounds.length; i++) {
      const [s, e] = [bounds[i]!, bounds[i + 1]!];
      const seg = (t: Tensor) => narrow(t, 2, s, e - s);
      const alone = await causalAttention(seg(q), seg(k), seg(v)).toArray();
      expect(maxAbsDiff(await seg(packed).contiguous().toArray(), alone)).toBeLessThan(1e-6);
    }
  });

  it('names the op, the argument and the shapes in its errors', () => {
    const q = randomTensor([1, 3, 4, 8], 1);
    const kv = randomTensor([1, 2, 4, 8], 2);
    expect(() => causalAttention(q, kv, kv)).toThrow(
      /causalAttention: query heads H=3 must be a multiple of kv heads Hkv=2/,
    );
    expect(() => causalAttention(q, randomTensor([1, 1, 4, 7], 2), randomTensor([1, 1, 4, 7], 2))).toThrow(
      /k and v must be/,
    );
    expect(() =>
      causalAttention(q, randomTensor([1, 1, 4, 8], 2), randomTensor([1, 1, 4, 8], 3), { kvOffset: 1 }),
    ).toThrow(/kvOffset=1/);
  });
});

describe('causalAttention (WebGPU fused)', () => {
  gpuTest('f16 storage with f32 accumulation (devices with shader-f16)', async ({ backend, skip }) => {
    if (!backend.supportsF16) skip('the device has no shader-f16');
    const f16 = (...shape: number[]): InputSpec => ({ shape, dtype: 'f16' });
    await checkOp(
      'causalAttention f16',
      [f16(1, 4, 9, 16), f16(1, 2, 9, 16), f16(1, 2, 9, 16)],
      ([q, k, v]) => causalAttention(q!, k!, v!),
      { backend, atol: 3e-2, rtol: 3e-2, fd: false },
    );
  });

  for (const c of attentionCases)
    gpuTest(`matches the f64 reference in forward and every gradient: ${c.name}`, async ({ backend }) => {
      await checkOp(`causalAttention ${c.name}`, c.specs, c.fn, { backend });
    });

  gpuTest('head dim 64 over several key tiles', async ({ backend }) => {
    await checkOp(
      'causalAttention dh=64 T=70 GQA docStart',
      [f(1, 2, 70, 64), f(1, 1, 70, 64), f(1, 1, 70, 64), docStartSpec(1, 70, [[3, 40]])],
      ([q, k, v, d]) => causalAttention(q!, k!, v!, { docStart: d! }),
      { backend, fd: false },
    );
  });

  gpuTest('the row-wise kernels (the SwiftShader path) match the f64 reference too', async ({ backend }) => {
    try {
      attentionTuning.rowwise = true;
      for (const c of attentionCases)
        await checkOp(`causalAttention rowwise ${c.name}`, c.specs, c.fn, { backend });
    } finally {
      attentionTuning.rowwise = undefined;
    }
  });

  gpuTest(
    'every launch shape matches the reference (several tiles, GQA; dh 16 with docStart, dh 12 with kvOffset)',
    async ({ backend }) => {
      const stages = ['fwd', 'dq', 'dkdv'] as const;
      const shapes = Math.max(...stages.map((st) => LAUNCHES[st].length));
      try {
        for (let i = 0; i < shapes; i++) {
          for (const st of stages)
            attentionTuning.launch[st] = LAUNCHES[st][Math.min(i, LAUNCHES[st].length - 1)]!;
          attentionTuning.heavyFirst = i % 2 === 0; // both block orders
          await checkOp(
            `causalAttention launch ${i} dh=16 docStart`,
            [f(1, 2, 75, 16), f(1, 1, 75, 16), f(1, 1, 75, 16), docStartSpec(1, 75, [[3, 40]])],
            ([q, k, v, d]) => causalAttention(q!, k!, v!, { docStart: d! }),
            { backend, fd: false },
          );
          // Without documents fully visible tiles skip the mask.
          await checkOp(
            `causalAttention launch ${i} dh=12 kvOffset`,
            [f(1, 2, 75, 12), f(1, 1, 81, 12), f(1, 1, 81, 12)],
            ([q, k, v]) => causalAttention(q!, k!, v!),
            { backend, fd: false },
          );
        }
      } finally {
        attentionTuning.launch = {};
        attentionTuning.heavyFirst = undefined;
      }
    },
  );

  gpuTest('runs the fused kernels, reproducibly to the bit, without leaking buffers', async ({ backend }) => {
    const [B, H, Hkv, T, dh] = [2, 4, 2, 70, 16];
    const inputs = [
      randomTensor([B, H, T, dh], 1, backend),
      randomTensor([B, Hkv, T, dh], 2, backend),
      randomTensor([B, Hkv, T, dh], 3, backend),
    ];
    const run = (t: readonly Tensor[]) => causalAttention(t[0]!, t[1]!, t[2]!);
    const before = dispatchCount(backend);
    const y = run(inputs);
    expect(dispatchCount(backend) - before).toBeLessThanOrEqual(3); // kernel + two poison fills
    y.dispose();
    const live = backend.liveBuffers();
    const first = await forwardBackward(inputs, run);
    const second = await forwardBackward(inputs, run);
    expect(backend.liveBuffers()).toBe(live);
    expect(first.grads.length).toBe(3);
    for (const [i, g] of first.grads.entries())
      expect(Buffer.from(g.buffer).equals(Buffer.from(second.grads[i]!.buffer)), `grad ${i}`).toBe(true);
  });
});
