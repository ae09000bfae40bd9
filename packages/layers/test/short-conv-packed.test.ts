import { add, concat, Generator, mul, narrow, sum, type Tensor, tensor, tidy } from '@dynconv/tensor';
import { checkOp } from '@dynconv/tensor/testing';
import { describe, expect, it } from 'vitest';
import { type AttentionOptions, attention, disposeParameters, initAttention } from '../src/index.js';
import {
  canPackLowRank,
  initShortConv,
  type LowRankShortConv,
  type ShortConvSpec,
  shortConv,
  shortConvsPacked,
} from '../src/short-conv.js';
import { dispatchedKeys, gpuTest } from './gpu-fixture.js';
import { cpu, maxAbsDiff, paramSpecs, randomTensor, rebind } from './helpers.js';

/** GQA attention with low-rank DSC on q, k, v (odd rank, one stream without static filter, one without residual). */
const dscAttention: Omit<AttentionOptions, 'generator' | 'backend'> = {
  dModel: 12,
  nHeads: 4,
  nKvHeads: 2,
  headDim: 2,
  convs: {
    q: { kind: 'low-rank', width: 3, rank: 5 },
    k: { kind: 'low-rank', width: 4, rank: 2, staticFilter: false },
    v: { kind: 'low-rank', width: 2, rank: 3, residual: false },
  },
};

/** MHA with one low-rank spec on q, k and v (the model's dynamic-qkv): the three streams share each dispatch. */
const sameShapeAttention: Omit<AttentionOptions, 'generator' | 'backend'> = {
  dModel: 12,
  nHeads: 3,
  headDim: 4,
  convs: Object.fromEntries(
    ['q', 'k', 'v'].map((n) => [n, { kind: 'low-rank', width: 4, rank: 4 } satisfies ShortConvSpec]),
  ),
};

const docStarts = (B: number, T: number, cuts: readonly number[]): number[] =>
  Array.from({ length: B * T }, (_, i) => Math.max(0, ...cuts.filter((c) => c <= i % T)));

describe('packed low-rank convs: when they apply', () => {
  const lowRank = (o: Partial<{ kind: 'head-wise' }> = {}): ShortConvSpec =>
    o.kind ? { kind: 'head-wise', width: 3, headSize: 2 } : { kind: 'low-rank', width: 3, rank: 2 };
  const conv = (spec: ShortConvSpec) =>
    initShortConv(spec, { channels: 4, generatorDim: 6, backend: cpu, generator: new Generator(1) });
  it('needs every stream low-rank and the fused kernels (WebGPU)', () => {
    const x = randomTensor([1, 2, 6], 1);
    expect(canPackLowRank([conv(lowRank()), conv(lowRank())], x)).toBe(false); // CPU
    expect(canPackLowRank([conv(lowRank()), undefined], x)).toBe(false);
    expect(canPackLowRank([conv(lowRank()), conv(lowRank({ kind: 'head-wise' }))], x)).toBe(false);
  });
});

describe('packed low-rank convs (WebGPU)', () => {
  for (const [name, options, forwards, streams] of [
    ['streams of different shapes', dscAttention, 3, 1],
    ['streams of one shape (one dispatch for all three)', sameShapeAttention, 1, 3],
  ] as const)
    gpuTest(
      `attention with low-rank DSC on q, k, v runs the packed convs and matches the f64 reference: ${name}`,
      async ({ backend }) => {
        const p = initAttention({ ...options, backend, generator: new Generator(5) });
        const [B, T] = [2, 7];
        const values = docStarts(B, T, [3]);
        const specs = [
          { shape: [B, T, 12] },
          ...paramSpecs(p),
          { shape: [B, T], dtype: 'i32' as const, init: (i: number) => values[i]! },
        ];
        const run = ([x, ...rest]: Tensor[]) =>
          attention(rebind(p, rest.slice(0, -1)), x!, { docStart: rest[rest.length - 1]! });
        let keys: string[] = [];
        await checkOp(
          'attention packed DSC',
          specs,
          (t) => {
            if (t[0]!.backend !== backend) return run(t);
            let y: Tensor | null = null;
            keys = dispatchedKeys(backend, () => {
              y = run(t);
            });
            return y!;
          },
          { backend, fd: false },
        );
        const convKernels = keys.filter((k) => k.startsWith('dynamicConvLowRank.'));
        expect(convKernels.length).toBe(forwards);
        for (const k of convKernels)
          expect(k).toMatch(new RegExp(`^dynamicConvLowRank\\.fwd\\|.*\\|packed=\\w+\\|streams=${streams}`));
        disposeParameters(p);
      },
    );

  gpuTest(
    'shortConvsPacked equals shortConv on the views, to the bit, and copies nothing',
    async ({ backend }) => {
      const [B, T] = [2, 11];
      const specs: ShortConvSpec[] = [
        { kind: 'low-rank', width: 4, rank: 16 },
        { kind: 'low-rank', width: 3, rank: 3, staticFilter: false, residual: false },
      ];
      const widths = [8, 5];
      const convs = specs.map((s, i) =>
        initShortConv(s, { channels: widths[i]!, generatorDim: 4, backend, generator: new Generator(i + 1) }),
      ) as LowRankShortConv[];
      // U starts at zero (DSC init): random values so that the dynamic part counts.
      for (const [i, c] of convs.entries()) c.U = randomTensor(c.U.shape, 40 + i, backend, 0.5).requireGrad();
      // x_0 | z_1 | x_1 | z_0: any column order works.
      const columns = [
        { x: 0, z: 8 + 3 + 5 },
        { x: 8 + 3, z: 8 },
      ];
      const P = 8 + 3 + 5 + 16;
      const packed = randomTensor([B, T, P], 7, backend).requireGrad();
      const docStart = tensor(docStarts(B, T, [4]), { shape: [B, T], dtype: 'i32', backend });
      const weights = widths.map((D, i) => randomTensor([B, T, D], 50 + i, backend));
      const params = [packed, ...convs.flatMap((c) => [c.U, ...(c.static_w ? [c.static_w] : [])])];
      const step = async (f: () => Tensor[]): Promise<Float32Array[]> => {
        const out = tidy(() => {
          const ys = f();
          ys.map((y, i) => sum(mul(y, weights[i]!)))
            .reduce((a, b) => add(a, b))
            .backward();
          return concat(ys, 2);
        });
        const data = [(await out.data()) as Float32Array];
        out.dispose();
        for (const t of params) {
          data.push((await t.grad!.data()) as Float32Array);
          t.zeroGrad();
        }
        return data;
      };
      let keys: string[] = [];
      const packedRun = await step(() => {
        let ys: Tensor[] = [];
        keys = dispatchedKeys(backend, () => {
          ys = shortConvsPacked(convs, packed, columns, { docStart });
        });
        return ys;
      });
      const perStream = await step(() =>
        convs.map((c, i) =>
          shortConv(c, narrow(packed, 2, columns[i]!.x, widths[i]!), {
            z: narrow(packed, 2, columns[i]!.z, c.rank),
            docStart,
          }),
        ),
      );
      expect(keys.filter((k) => k.includes('copy'))).toEqual([]);
      for (const [i, d] of packedRun.entries()) expect(maxAbsDiff(d, perStream[i]!), `tensor ${i}`).toBe(0);
      for (const t of [...params, ...weights, docStart]) t.dispose();
    },
  );
});
