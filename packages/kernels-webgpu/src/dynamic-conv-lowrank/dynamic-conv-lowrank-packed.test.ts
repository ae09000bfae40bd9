import { add, concat, mul, narrow, record, sum, type Tensor, tensor, tidy, zeros } from '@dynconv/tensor';
import { checkOp, dispatchedKeys, type InputSpec } from '@dynconv/tensor/testing';
import { describe, expect, it } from 'vitest';
import { gpuTest } from '../../test/gpu-fixture.js';
import {
  cpuF32,
  docStartSpec,
  docStartValues,
  f,
  forwardBackward,
  maxAbsDiff,
  randomTensor,
} from '../../test/helpers.js';
import type { KernelRuntime } from '../common/gpu.js';
import { convTuning } from '../conv-core/conv-launch.js';
import { dynamicConvLowRank } from './dynamic-conv-lowrank.js';
import { groupStreams, streamsPerDispatch } from './dynamic-conv-lowrank-packed.fused.js';
import {
  dynamicConvLowRankPacked,
  dynamicConvLowRankPackedSupported,
} from './dynamic-conv-lowrank-packed.js';
import type { PackedLowRankStream } from './dynamic-conv-lowrank-packed.ref.js';
import { uncoveredColumns } from './packed-layout.js';

/** One stream of a test layout: columns, sizes and options. */
interface StreamCase {
  xOffset: number;
  D: number;
  zOffset: number;
  R: number;
  W: number;
  static?: boolean;
  residual?: boolean;
}

interface Case {
  name: string;
  B: number;
  T: number;
  P: number;
  streams: StreamCase[];
  /** Document starts per batch row (docStartValues), or none. */
  docs?: number[][];
}

/** checkOp inputs of a case: packed, then per stream u (and S), then docStart. */
const specsOf = (c: Case): InputSpec[] => [
  f(c.B, c.T, c.P),
  ...c.streams.flatMap((s) => [f(s.R, s.W * s.D), ...(s.static ? [f(s.W, s.D)] : [])]),
  ...(c.docs ? [docStartSpec(c.B, c.T, c.docs)] : []),
];

/** The op's streams from the inputs in specsOf's order. */
const streamsOf = (c: Case, t: readonly Tensor[]): PackedLowRankStream[] => {
  let i = 1;
  return c.streams.map((s) => {
    const u = t[i++]!;
    const st = s.static ? t[i++]! : undefined;
    return {
      xOffset: s.xOffset,
      channels: s.D,
      zOffset: s.zOffset,
      u,
      ...(st ? { static: st } : {}),
      ...(s.residual ? { residual: true } : {}),
    };
  });
};

/** The case as one tensor: the streams' outputs side by side. */
const packedFn =
  (c: Case) =>
  (t: readonly Tensor[]): Tensor => {
    const docStart = c.docs ? t[t.length - 1]! : undefined;
    const ys = dynamicConvLowRankPacked(t[0]!, streamsOf(c, t), docStart ? { docStart } : {});
    return ys.length === 1 ? ys[0]! : concat(ys, 2);
  };

/** The same through the single-stream op on views (the path the packed op replaces). */
const perStreamFn =
  (c: Case) =>
  (t: readonly Tensor[]): Tensor => {
    const docStart = c.docs ? t[t.length - 1]! : undefined;
    const ys = streamsOf(c, t).map((s) =>
      dynamicConvLowRank(
        narrow(t[0]!, 2, s.xOffset, s.channels),
        narrow(t[0]!, 2, s.zOffset, s.u.shape[0]!),
        s.u,
        {
          ...(s.static ? { static: s.static } : {}),
          ...(s.residual ? { residual: true } : {}),
          ...(docStart ? { docStart } : {}),
        },
      ),
    );
    return ys.length === 1 ? ys[0]! : concat(ys, 2);
  };

/** q|k|v|z_q|z_k|z_v like the attention's fused matmul, every column covered, vec4-aligned (quad dz with vec4 loads). */
const qkvAligned: Case = {
  name: 'q|k|v|zq|zk|zv aligned, R=4 W=4 static residual',
  B: 2,
  T: 9,
  P: 8 + 4 + 4 + 12,
  streams: [
    { xOffset: 0, D: 8, zOffset: 16, R: 4, W: 4, static: true, residual: true },
    { xOffset: 8, D: 4, zOffset: 20, R: 4, W: 4, static: true, residual: true },
    { xOffset: 12, D: 4, zOffset: 24, R: 4, W: 4, static: true, residual: true },
  ],
};

/** Odd sizes and offsets (scalar layout), uncovered columns, z before x, documents, options differing per stream. */
const oddWithGaps: Case = {
  name: 'odd D/R/T, unaligned, gaps, docStart, mixed static/residual',
  B: 2,
  T: 13,
  P: 2 + 7 + 1 + 5 + 3 + 3 + 16 + 17 + 2,
  streams: [
    { xOffset: 2, D: 7, zOffset: 18, R: 3, W: 3, static: true },
    { xOffset: 10, D: 5, zOffset: 21, R: 16, W: 1, residual: true },
    { xOffset: 15, D: 3, zOffset: 37, R: 17, W: 8, static: true, residual: true },
  ],
  docs: [[4, 5], []],
};

/** One stream, long sequence (several token-loop chunks), several dz channel slices, R=16 at an aligned offset. */
const longWide: Case = {
  name: 'one stream T=257 D=70 R=16 W=4 docStart',
  B: 1,
  T: 257,
  P: 16 + 72,
  streams: [{ xOffset: 16, D: 70, zOffset: 0, R: 16, W: 4, static: true, residual: true }],
  docs: [[1, 64, 65, 200]],
};

/** The scalar layout with R a multiple of 4 (z read per element) and an odd packed width. */
const unalignedR16: Case = {
  name: 'R=16 at an odd offset, odd P',
  B: 2,
  T: 6,
  P: 1 + 6 + 16 + 6 + 16,
  streams: [
    { xOffset: 1, D: 6, zOffset: 7, R: 16, W: 2, static: true, residual: true },
    { xOffset: 23, D: 6, zOffset: 29, R: 16, W: 4 },
  ],
};

/** Three streams of one shape (the model's q|k|v with MHA): one dispatch per kernel for all three. */
const qkvSameShape: Case = {
  name: 'three streams of one shape, aligned, docStart',
  B: 2,
  T: 11,
  P: 3 * 8 + 3 * 4,
  streams: [0, 1, 2].map((i) => ({
    xOffset: 8 * i,
    D: 8,
    zOffset: 24 + 4 * i,
    R: 4,
    W: 4,
    static: true,
    residual: true,
  })),
  docs: [[5], [1, 2]],
};

/**
 * Same-shape streams around one of another shape (grouped 0, 2, 3 and 1), odd
 * sizes, scalar layout, several token-loop chunks and dz slices per stream.
 */
const sameShapeScalar: Case = {
  name: 'same-shape streams interleaved with another, odd, scalar layout',
  B: 1,
  T: 131,
  P: 1 + 4 * 67 + 4 * 3 + 2,
  streams: [
    { xOffset: 1, D: 67, zOffset: 269, R: 3, W: 3 },
    { xOffset: 68, D: 67, zOffset: 272, R: 3, W: 2 },
    { xOffset: 135, D: 67, zOffset: 275, R: 3, W: 3 },
    { xOffset: 202, D: 67, zOffset: 278, R: 3, W: 3 },
  ],
  docs: [[7, 100]],
};

/**
 * The model's layout in miniature: q|k|v|z_q|z_k|z_v with the packed width
 * padded (attention.ts pads it to a multiple of 256): an aligned uncovered
 * tail, zeroed with vec4 stores; the op never fills the whole gradient.
 */
const qkvPadded: Case = {
  name: 'three streams of one shape, aligned, padded tail',
  B: 2,
  T: 10,
  P: 3 * 8 + 3 * 4 + 12,
  streams: [0, 1, 2].map((i) => ({
    xOffset: 8 * i,
    D: 8,
    zOffset: 24 + 4 * i,
    R: 4,
    W: 4,
    static: true,
    residual: true,
  })),
};

const cases = [qkvAligned, oddWithGaps, longWide, unalignedR16, qkvSameShape, sameShapeScalar, qkvPadded];

describe('dynamicConvLowRankPacked (composed, CPU)', () => {
  for (const c of [qkvAligned, oddWithGaps])
    it(`matches the f64 reference, gradients and finite differences: ${c.name}`, async () => {
      await checkOp(`dynamicConvLowRankPacked ${c.name}`, specsOf(c), packedFn(c), { backend: cpuF32 });
    });

  it('groups streams of one kernel shape, in stream order, up to the limit', () => {
    const u = (R: number, WD: number) => randomTensor([R, WD], 1);
    const s = (D: number, R: number, W: number, o: { static?: boolean; residual?: boolean } = {}) => ({
      xOffset: 0,
      channels: D,
      zOffset: 0,
      u: u(R, W * D),
      ...(o.static ? { static: randomTensor([W, D], 2) } : {}),
      ...(o.residual ? { residual: true } : {}),
    });
    const a = () => s(4, 2, 3, { static: true });
    const streams = [
      a(),
      s(4, 2, 2, { static: true }),
      a(),
      a(),
      s(4, 2, 3),
      s(4, 2, 3, { static: true, residual: true }),
      a(),
    ];
    expect(groupStreams(streams, 4)).toEqual([[0, 2, 3, 6], [1], [4], [5]]);
    expect(groupStreams(streams, 2)).toEqual([[0, 2], [1], [3, 6], [4], [5]]);
    expect(groupStreams(streams, 1)).toEqual(streams.map((_, i) => [i]));
    for (const t of streams) {
      t.u.dispose();
      t.static?.dispose();
    }
  });

  it('covers as many streams per dispatch as the storage bindings allow', () => {
    const rt = (limit: number) =>
      ({ device: { limits: { maxStorageBuffersPerShaderStage: limit } } }) as unknown as KernelRuntime;
    // Backward token loop: dy, U (and S) per stream; x, z, dx, partials (and docStart) once.
    expect(streamsPerDispatch(rt(16), { static: true, docs: true })).toBe(3);
    expect(streamsPerDispatch(rt(16), { static: true, docs: false })).toBe(4);
    expect(streamsPerDispatch(rt(16), { static: false, docs: true })).toBe(4);
    expect(streamsPerDispatch(rt(8), { static: true, docs: true })).toBe(1);
    expect(streamsPerDispatch(rt(10), { static: false, docs: false })).toBe(3);
    const saved = convTuning.lowRankStreamsPerDispatch;
    try {
      convTuning.lowRankStreamsPerDispatch = 2;
      expect(streamsPerDispatch(rt(16), { static: false, docs: false })).toBe(2);
    } finally {
      convTuning.lowRankStreamsPerDispatch = saved;
    }
  });

  it('finds the columns no stream covers', () => {
    expect(uncoveredColumns(10, [])).toEqual([[0, 10]]);
    expect(
      uncoveredColumns(10, [
        [6, 8],
        [1, 3],
        [3, 5],
      ]),
    ).toEqual([
      [0, 1],
      [5, 6],
      [8, 10],
    ]);
    expect(
      uncoveredColumns(4, [
        [0, 2],
        [2, 4],
      ]),
    ).toEqual([]);
  });

  it('names the op and the columns in its errors', () => {
    const packed = randomTensor([1, 3, 10], 1);
    const u = randomTensor([2, 8], 2);
    const run = (streams: PackedLowRankStream[]) => () => dynamicConvLowRankPacked(packed, streams);
    expect(run([{ xOffset: 0, channels: 4, zOffset: 3, u }])).toThrow(
      /dynamicConvLowRankPacked: stream 0 z columns \[3, 5\) overlap stream 0 x \[0, 4\)/,
    );
    expect(run([{ xOffset: 8, channels: 4, zOffset: 0, u }])).toThrow(
      /stream 0: x columns \[8, 12\) are not inside the packed \[1, 3, 10\]/,
    );
    expect(run([{ xOffset: 0, channels: 3, zOffset: 4, u }])).toThrow(/u must be \[R, W\*D\] with R=2, D=3/);
    expect(() => dynamicConvLowRankPacked(packed, [])).toThrow(/needs at least one stream/);
  });
});

describe('dynamicConvLowRankPacked (WebGPU fused)', () => {
  gpuTest('runs fused on WebGPU', ({ backend }) => {
    expect(dynamicConvLowRankPackedSupported(randomTensor([1, 2, 3], 1, backend))).toBe(true);
    expect(dynamicConvLowRankPackedSupported(randomTensor([1, 2, 3], 1))).toBe(false);
  });

  gpuTest('f16 storage with f32 accumulation (devices with shader-f16)', async ({ backend, skip }) => {
    if (!backend.supportsF16) skip('the device has no shader-f16');
    for (const c of [qkvAligned, unalignedR16, qkvSameShape]) {
      const specs = specsOf(c).map((s): InputSpec => (s.dtype === 'i32' ? s : { ...s, dtype: 'f16' }));
      await checkOp(`dynamicConvLowRankPacked f16 ${c.name}`, specs, packedFn(c), {
        backend,
        atol: 3e-2,
        rtol: 3e-2,
        fd: false,
      });
    }
  });

  for (const c of cases)
    gpuTest(`matches the f64 reference in forward and every gradient: ${c.name}`, async ({ backend }) => {
      await checkOp(`dynamicConvLowRankPacked ${c.name}`, specsOf(c), packedFn(c), { backend, fd: false });
    });

  gpuTest(
    'the kernel variants (split backward, both dz kernels, unpipelined, short chunks) match',
    async ({ backend }) => {
      const saved = { ...convTuning };
      try {
        const variants: Partial<typeof convTuning>[] = [
          { lowRankSplitBackward: true, lowRankBackwardChunk: 16, lowRankForwardChunk: 16 },
          { lowRankZGradQuads: false, lowRankZGradTokens: 2 },
          { lowRankZGradQuads: false, lowRankZGradPrefetch: false },
          { lowRankZGradQuadsChannels: 4, lowRankPipelineStage: false, lowRankStageZ: 0 },
          { lowRankForwardPipelineStage: true, lowRankForwardChunk: 16, lowRankForwardStageX: 4 },
          // Chunks and slices pinned (no occupancy rule): 4-token chunks, 4-channel dz slices.
          { lowRankMinWorkgroups: 0, lowRankBackwardChunk: 4, lowRankZGradSlice: 4 },
        ];
        for (const variant of variants) {
          Object.assign(convTuning, saved, variant);
          for (const c of [qkvAligned, oddWithGaps, unalignedR16, qkvPadded])
            await checkOp(
              `dynamicConvLowRankPacked ${JSON.stringify(variant)} ${c.name}`,
              specsOf(c),
              packedFn(c),
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

  for (const c of cases)
    gpuTest(
      `equals the per-stream op on views, to the bit, with any streams per dispatch: ${c.name}`,
      async ({ backend }) => {
        const inputs = specsOf(c).map((s, i) =>
          s.dtype === 'i32'
            ? tensor(docStartValues(c.B, c.T, c.docs!), { shape: s.shape, dtype: 'i32', backend })
            : randomTensor(s.shape, 10 + i, backend),
        );
        const perStream = await forwardBackward(inputs, perStreamFn(c));
        const saved = convTuning.lowRankStreamsPerDispatch;
        try {
          for (const perDispatch of [saved, 2, 1]) {
            convTuning.lowRankStreamsPerDispatch = perDispatch;
            const packed = await forwardBackward(inputs, packedFn(c));
            expect(maxAbsDiff(packed.y, perStream.y), `y, ${perDispatch} per dispatch`).toBe(0);
            expect(packed.grads.length).toBe(perStream.grads.length);
            for (const [i, g] of packed.grads.entries())
              expect(maxAbsDiff(g, perStream.grads[i]!), `grad ${i}, ${perDispatch} per dispatch`).toBe(0);
          }
        } finally {
          convTuning.lowRankStreamsPerDispatch = saved;
        }
        for (const t of inputs) t.dispose();
      },
    );

  for (const [c, vec4] of [
    [qkvPadded, [1]],
    [oddWithGaps, [0, 0, 0]],
  ] as const)
    gpuTest(
      `zeros only the uncovered columns of the gradient, never the whole of it: ${c.name}`,
      async ({ backend }) => {
        const inputs = specsOf(c)
          .filter((s) => s.dtype !== 'i32')
          .map((s, i) => randomTensor(s.shape, 40 + i, backend).requireGrad());
        const gys = c.streams.map((s, i) => randomTensor([c.B, c.T, s.D], 50 + i, backend));
        const docStart = c.docs
          ? tensor(docStartValues(c.B, c.T, c.docs), { shape: [c.B, c.T], dtype: 'i32', backend })
          : undefined;
        const ys = dynamicConvLowRankPacked(inputs[0]!, streamsOf(c, inputs), docStart ? { docStart } : {});
        // A one-element root whose backward hands gys to the outputs: no other op runs in the backward.
        const root = zeros([1], { backend });
        record('test.root', ys, [root], [], () => gys.map((g) => g.share()));
        const keys = dispatchedKeys(backend, () => root.backward());
        // At most the root's own one-element gradient is filled.
        expect(keys.filter((k) => k.startsWith('fill')).length).toBeLessThanOrEqual(1);
        const zeroed = keys.filter((k) => k.startsWith('dynamicConvLowRank.zeroColumns|'));
        expect(zeroed.map((k) => Number(/\|v4=(\d)/.exec(k)![1]))).toEqual(vec4);
        const grad = (await inputs[0]!.grad!.data()) as Float32Array;
        const gaps = uncoveredColumns(
          c.P,
          c.streams.flatMap((s) => [
            [s.xOffset, s.xOffset + s.D] as const,
            [s.zOffset, s.zOffset + s.R] as const,
          ]),
        );
        expect(gaps.length).toBe(vec4.length);
        for (let row = 0; row < c.B * c.T; row++)
          for (const [a, b] of gaps)
            for (let col = a; col < b; col++) expect(grad[row * c.P + col], `row ${row} col ${col}`).toBe(0);
        for (const t of [...inputs, ...gys, ...ys, root]) t.dispose();
        docStart?.dispose();
      },
    );

  // qkvAligned: q (D=8) alone, k and v (D=4) together; qkvSameShape: all three in one group.
  for (const [c, groups] of [
    [qkvAligned, 2],
    [qkvSameShape, 1],
  ] as const)
    gpuTest(
      `one dispatch per kernel and group of same-shape streams, copies nothing, reproducibly to the bit, without leaking buffers: ${c.name}`,
      async ({ backend }) => {
        const inputs = specsOf(c)
          .filter((s) => s.dtype !== 'i32')
          .map((s, i) => randomTensor(s.shape, 20 + i, backend).requireGrad());
        const weights = c.streams.map((s, i) => randomTensor([c.B, c.T, s.D], 30 + i, backend));
        // Backward of Σ_i sum(y_i · w_i): each dy_i is a contiguous tensor of its own, as from a consumer kernel.
        const step = async (): Promise<Float32Array[]> => {
          tidy(() => {
            const docStart = c.docs
              ? tensor(docStartValues(c.B, c.T, c.docs), { shape: [c.B, c.T], dtype: 'i32', backend })
              : undefined;
            const ys = dynamicConvLowRankPacked(
              inputs[0]!,
              streamsOf(c, inputs),
              docStart ? { docStart } : {},
            );
            ys.map((y, i) => sum(mul(y, weights[i]!)))
              .reduce((a, b) => add(a, b))
              .backward();
          });
          const grads = await Promise.all(inputs.map(async (t) => (await t.grad!.data()) as Float32Array));
          for (const t of inputs) t.zeroGrad();
          return grads;
        };
        const rt = (backend as unknown as { runtime: { dispatch(spec: { pipelineKey: string }): void } })
          .runtime;
        const keys: string[] = [];
        const dispatch = rt.dispatch.bind(rt);
        rt.dispatch = (spec) => {
          keys.push(spec.pipelineKey);
          dispatch(spec);
        };
        const live = backend.liveBuffers();
        let first: Float32Array[];
        try {
          first = await step();
        } finally {
          rt.dispatch = dispatch;
        }
        // Per group: forward, token backward, dz, dz sum into the packed gradient, dU/dS sum.
        const kernels = keys
          .filter((k) => /^(dynamicConvLowRank|kernels)\./.test(k))
          .map((k) => k.split('|')[0]);
        const perGroup = [
          'dynamicConvLowRank.fwd',
          'dynamicConvLowRank.bwd',
          'dynamicConvLowRank.dzQuads',
          'dynamicConvLowRank.sumStreams',
          'dynamicConvLowRank.sumStreams',
        ];
        expect(kernels.sort()).toEqual(
          Array.from({ length: groups }, () => perGroup)
            .flat()
            .sort(),
        );
        expect(keys.filter((k) => k.includes('copy'))).toEqual([]);
        const second = await step();
        expect(backend.liveBuffers()).toBe(live);
        expect(first.length).toBe(inputs.length);
        for (const [i, g] of first.entries())
          expect(Buffer.from(g.buffer).equals(Buffer.from(second[i]!.buffer)), `grad ${i}`).toBe(true);
        for (const t of [...inputs, ...weights]) t.dispose();
      },
    );
});
