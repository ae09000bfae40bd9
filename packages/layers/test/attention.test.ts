import {
  type BackendBuffer,
  CpuBackend,
  concat,
  Generator,
  narrow,
  noGrad,
  type Tensor,
  type View,
} from '@dynconv/tensor';
import { checkOp } from '@dynconv/tensor/testing';
import { describe, expect, it } from 'vitest';
import {
  type Attention,
  type AttentionOptions,
  attention,
  attentionCacheShapes,
  attentionSublayer,
  initAttention,
  initAttentionCache,
  namedParameters,
} from '../src/index.js';
import { cpu, docStartTensor, maxAbsDiff, paramSpecs, randomTensor, rebind } from './helpers.js';

const base = { dModel: 12, nHeads: 4, nKvHeads: 2, headDim: 4 } as const;

/** Random everything (the DSC init zeroes the dynamic parts, which would hide mistakes). */
const randomAttention = (o: Omit<AttentionOptions, 'generator'>, seed = 1): Attention => {
  const p = initAttention({ ...o, generator: new Generator(seed) });
  return rebind(
    p,
    [...namedParameters(p).values()].map((t, i) => randomTensor(t.shape, seed * 1000 + i, t.backend, 0.4)),
  );
};

const variants: [string, Omit<AttentionOptions, 'generator'>][] = [
  ['MHA', { dModel: 12, nHeads: 3, backend: cpu }],
  ['GQA + QK-norm + partial rotary', { ...base, qkNorm: true, rope: { rotaryFraction: 0.5 }, backend: cpu }],
  [
    'GQA + low-rank DSC on q,k,v + head-wise on o',
    {
      ...base,
      convs: {
        q: { kind: 'low-rank', width: 3, rank: 2 },
        k: { kind: 'low-rank', width: 3, rank: 2 },
        v: { kind: 'low-rank', width: 3, rank: 2, staticFilter: false },
        o: { kind: 'head-wise', width: 2, headSize: 3 },
      },
      backend: cpu,
    },
  ],
  [
    'static convs on q,k,v',
    {
      ...base,
      convs: {
        q: { kind: 'static', width: 4 },
        k: { kind: 'static', width: 4 },
        v: { kind: 'static', width: 4 },
      },
      backend: cpu,
    },
  ],
];

describe.each(variants)('attention: %s', (_name, options) => {
  it('decoding with the KV and conv caches equals the full forward', async () => {
    const p = randomAttention(options);
    const [B, T] = [2, 6];
    const x = randomTensor([B, T, 12], 9);
    const full = await attention(p, x).data();
    let cache = initAttentionCache(p, B, { backend: cpu });
    const ys: Tensor[] = [];
    noGrad(() => {
      for (const [s, n] of [
        [0, 2],
        [2, 1],
        [3, 1],
        [4, 2],
      ] as const) {
        const next = new Map<string, Tensor>();
        ys.push(attentionSublayer(p, narrow(x, 1, s, n), { kind: 'step', position: s, cache, next }).y);
        for (const t of cache.values()) t.dispose();
        cache = next;
      }
    });
    expect(maxAbsDiff(await concat(ys, 1).data(), full)).toBeLessThan(2e-5);
    const shapes = attentionCacheShapes(p, B, T);
    expect(Object.fromEntries([...cache].map(([k, t]) => [k, t.shape]))).toEqual(shapes);
  });

  it('gradients match finite differences (float64)', async () => {
    const p = initAttention({ ...options, backend: cpu, generator: new Generator(3) });
    await checkOp(
      'attention',
      [{ shape: [1, 4, 12] }, ...paramSpecs(p)],
      ([x, ...ps]) => attention(rebind(p, ps), x!),
      {
        fd: { maxPoints: 12 },
      },
    );
  });
});

describe('attention', () => {
  it('packed documents do not attend across docStart', async () => {
    const p = randomAttention({
      ...base,
      convs: { k: { kind: 'low-rank', width: 3, rank: 2 } },
      backend: cpu,
    });
    const x = randomTensor([1, 7, 12], 4);
    const packed = await attention(p, x, { docStart: docStartTensor([[0, 3]], 7) }).data();
    const second = await attention(p, narrow(x, 1, 3, 4)).data();
    // RoPE is relative, so the second document sees exactly what it sees alone.
    expect(maxAbsDiff(packed.slice(3 * 12), second)).toBeLessThan(1e-5);
  });

  it('q, k, v and the dynamic-conv generators come out of ONE matmul', () => {
    /** A CPU backend that records the (m, k, n) of every matmul: the real kernels run. */
    class RecordingCpu extends CpuBackend {
      readonly shapes: [number, number, number][] = [];
      override matmul(a: View, b: View, out: BackendBuffer): void {
        this.shapes.push([a.shape[1]!, a.shape[2]!, b.shape[2]!]);
        super.matmul(a, b, out);
      }
    }
    const rec = new RecordingCpu();
    const spec = { kind: 'low-rank', width: 3, rank: 2 } as const;
    const p = initAttention({
      ...base,
      convs: { q: spec, k: spec, v: spec },
      backend: rec,
      generator: new Generator(1),
    });
    const x = randomTensor([2, 5, 12], 1, rec);
    rec.shapes.length = 0;
    noGrad(() => attention(p, x).dispose());
    const readsX = rec.shapes.filter(([m, k]) => m === 10 && k === 12);
    // q (16) + k (8) + v (8) + three rank-2 generators (6) = 38 outputs of one GEMM.
    expect(readsX).toEqual([[10, 12, 38]]);
  });
});
