import { type Backend, noGrad, type Tensor, tensor } from '@dynconv/tensor';
import { checkOp, type InputSpec } from '@dynconv/tensor/testing';
import { describe, expect, it } from 'vitest';
import { gpuTest } from '../../test/gpu-fixture.js';
import { cpuF32 } from '../../test/helpers.js';
import { cpuF64, drawValues, forwardBackward, maxRelDiff } from '../../test/linear-scan-helpers.js';
import { runtimeOf } from '../common/gpu.js';
import { groupedMatmul } from './grouped-matmul.js';
import { groupedMatmulRef } from './grouped-matmul.ref.js';
import { invertPermutation } from './permutation.js';

/** x `[R, K]`, w `[E, K, M]`, and fixed i32 offsets (not differentiated). */
const specs = (R: number, K: number, M: number, offsets: readonly number[]): InputSpec[] => [
  { shape: [R, K] },
  { shape: [offsets.length - 1, K, M] },
  { shape: [offsets.length], dtype: 'i32', init: (i) => offsets[i]! },
];

/**
 * Segment layouts with odd sizes: empty experts (first, middle, last),
 * segments longer than one 64-row tile, K and M not multiples of the
 * 16-deep slices or the 64-wide tiles.
 */
const cases: [string, number, number, number[]][] = [
  ['one row per expert', 3, 2, [0, 1, 2, 3]],
  ['empty first, middle and last experts', 5, 7, [0, 0, 3, 3, 11, 11]],
  ['segments across 64-row tiles, 37 deep, 70 wide', 37, 70, [0, 70, 70, 141, 150]],
];

/** Host float64 product of each row with its expert's matrix. */
function hostGrouped(x: number[], w: number[], off: number[], K: number, M: number): number[] {
  const y: number[] = [];
  for (let e = 0; e + 1 < off.length; e++)
    for (let r = off[e]!; r < off[e + 1]!; r++)
      for (let m = 0; m < M; m++) {
        let acc = 0;
        for (let k = 0; k < K; k++) acc += x[r * K + k]! * w[(e * K + k) * M + m]!;
        y.push(acc);
      }
  return y;
}

describe('groupedMatmul', () => {
  it.each(cases)(
    '%s: each row times its own expert, CPU and dense reference agree in every gradient',
    async (_n, K, M, off) => {
      const R = off[off.length - 1]!;
      const E = off.length - 1;
      const [xv, wv] = drawValues([{ shape: [R, K] }, { shape: [E, K, M] }], R + K) as [number[], number[]];
      const offsets = tensor(off, { dtype: 'i32', backend: cpuF64 });
      const sp = [{ shape: [R, K] }, { shape: [E, K, M] }];
      const grouped = await forwardBackward(cpuF64, sp, [xv, wv], ([x, w]) => [
        groupedMatmul(x!, w!, offsets),
      ]);
      const dense = await forwardBackward(cpuF64, sp, [xv, wv], ([x, w]) => [
        groupedMatmulRef(x!, w!, offsets),
      ]);
      offsets.dispose();
      expect(Array.from(grouped.outputs[0]!)).toEqual(hostGrouped(xv, wv, off, K, M));
      expect(maxRelDiff(grouped.outputs, dense.outputs)).toBeLessThan(1e-14);
      expect(maxRelDiff(grouped.grads, dense.grads)).toBeLessThan(1e-14);
      // An expert without rows gets exactly zero weight gradient.
      for (let e = 0; e < E; e++)
        if (off[e] === off[e + 1])
          expect(grouped.grads[1]!.slice(e * K * M, (e + 1) * K * M).every((v) => v === 0)).toBe(true);
    },
  );

  it('passes checkOp on the CPU (f32 vs f64, finite differences of the float64 gradients)', async () => {
    for (const [name, K, M, off] of cases.slice(0, 2))
      await checkOp(
        `groupedMatmul ${name}`,
        specs(off[off.length - 1]!, K, M, off),
        ([x, w, o]) => groupedMatmul(x!, w!, o!),
        { backend: cpuF32, atol: 1e-5, rtol: 1e-5 },
      );
  });

  gpuTest.for(cases)(
    'on WebGPU (%s) matches the float64 CPU op in output and gradients',
    async ([name, K, M, off], { backend }) => {
      await checkOp(
        `groupedMatmul webgpu ${name}`,
        specs(off[off.length - 1]!, K, M, off),
        ([x, w, o]) => groupedMatmul(x!, w!, o!),
        { backend, fd: false, atol: 1e-4, rtol: 1e-4 },
      );
    },
  );

  gpuTest('on WebGPU is deterministic: two runs are bitwise equal', async ({ backend }) => {
    const off = [0, 70, 70, 141, 150];
    const sp = [{ shape: [150, 37] }, { shape: [4, 37, 70] }];
    const vals = drawValues(sp, 8);
    const run = async () => {
      const offsets = tensor(off, { dtype: 'i32', backend });
      const r = await forwardBackward(backend, sp, vals, ([x, w]) => [groupedMatmul(x!, w!, offsets)]);
      offsets.dispose();
      return r;
    };
    const [a, b] = [await run(), await run()];
    expect(a.outputs).toEqual(b.outputs);
    expect(a.grads).toEqual(b.grads);
  });

  gpuTest(
    'on WebGPU stores f16 (f32 accumulation) when the device has shader-f16',
    async ({ backend, skip }) => {
      if (!runtimeOf(backend)!.device.features.has('shader-f16')) skip('no shader-f16 on this device');
      const off = [0, 5, 5, 67];
      const [R, K, M] = [67, 24, 20];
      const vals = drawValues([{ shape: [R, K] }, { shape: [3, K, M], scale: 0.3 }], 9);
      const make = (b: Backend, dtype: 'f16' | 'f64') => {
        const t = (v: number[], shape: number[]) =>
          tensor(v, { shape, backend: b, ...(dtype === 'f16' ? { dtype: 'f16' as const } : {}) });
        return [t(vals[0]!, [R, K]), t(vals[1]!, [3, K, M]), tensor(off, { dtype: 'i32', backend: b })];
      };
      const run = async (ts: Tensor[]) => {
        const y = noGrad(() => groupedMatmul(ts[0]!, ts[1]!, ts[2]!));
        const data = Float64Array.from(await y.data());
        for (const t of [y, ...ts]) t.dispose();
        return data;
      };
      const half = await run(make(backend, 'f16'));
      const exact = await run(make(cpuF64, 'f64'));
      expect(maxRelDiff([half], [exact])).toBeLessThan(5e-3);
    },
  );

  it('names the op and the argument in its errors', () => {
    const x = tensor(new Array(6).fill(0), { shape: [3, 2], backend: cpuF64 });
    const w = tensor(new Array(8).fill(0), { shape: [2, 2, 2], backend: cpuF64 });
    const off = (v: number[]) => tensor(v, { dtype: 'i32', backend: cpuF64 });
    expect(() => groupedMatmul(x, w, off([0, 3]))).toThrow(
      /groupedMatmul: offsets must be i32 \[E \+ 1\] = \[3\]/,
    );
    expect(() => groupedMatmul(x, w.narrow(1, 0, 1), off([0, 1, 3]))).toThrow(
      /groupedMatmul: w must be \[E, K, M\] with K=2, got \[2, 1, 2\]/,
    );
    expect(() => groupedMatmul(x, w, off([0, 2, 1]))).toThrow(
      /groupedMatmul: offsets must rise from 0 to R=3 .*got \[0, 2, 1\]/,
    );
    expect(() => groupedMatmul(x, w, off([0, 1, 2]))).toThrow(/rise from 0 to R=3/);
  });
});

describe('groupedMatmul with a tail (rows past offsets[E] belong to no expert)', () => {
  // 70 tail rows span two 64-row tiles; an empty expert sits in the middle.
  const [K, M, off, R] = [5, 70, [0, 3, 3, 70], 140];
  const E = off.length - 1;

  it('CPU: segments like the dense reference, tail rows and their input gradient exactly zero', async () => {
    const [xv, wv] = drawValues([{ shape: [R, K] }, { shape: [E, K, M] }], 21) as [number[], number[]];
    const offsets = tensor(off, { dtype: 'i32', backend: cpuF64 });
    const sp = [{ shape: [R, K] }, { shape: [E, K, M] }];
    const grouped = await forwardBackward(cpuF64, sp, [xv, wv], ([x, w]) => [
      groupedMatmul(x!, w!, offsets, { tail: true }),
    ]);
    const dense = await forwardBackward(cpuF64, sp, [xv, wv], ([x, w]) => [
      groupedMatmulRef(x!, w!, offsets),
    ]);
    expect(Array.from(grouped.outputs[0]!.slice(0, 70 * M))).toEqual(hostGrouped(xv, wv, off, K, M));
    expect(grouped.outputs[0]!.slice(70 * M).every((v) => v === 0)).toBe(true);
    expect(grouped.grads[0]!.slice(70 * K).every((v) => v === 0)).toBe(true);
    expect(maxRelDiff(grouped.outputs, dense.outputs)).toBeLessThan(1e-14);
    expect(maxRelDiff(grouped.grads, dense.grads)).toBeLessThan(1e-14);
    // Without the option a short plan is still an error.
    expect(() =>
      noGrad(() =>
        groupedMatmul(
          tensor(xv, { shape: [R, K], backend: cpuF64 }),
          tensor(wv, { shape: [E, K, M], backend: cpuF64 }),
          offsets,
        ),
      ),
    ).toThrow(/offsets must rise from 0 to R=140/);
    expect(() =>
      groupedMatmul(
        tensor(xv.slice(0, 60 * K), { shape: [60, K], backend: cpuF64 }),
        tensor(wv, { shape: [E, K, M], backend: cpuF64 }),
        offsets,
        { tail: true },
      ),
    ).toThrow(/offsets must rise from 0 to at most R=60/);
    offsets.dispose();
  });

  it('passes checkOp on the CPU (f32 vs f64, finite differences)', async () => {
    await checkOp(
      'groupedMatmul tail',
      specs(9, 3, 4, [0, 2, 2, 5]),
      ([x, w, o]) => groupedMatmul(x!, w!, o!, { tail: true }),
      { backend: cpuF32, atol: 1e-5, rtol: 1e-5 },
    );
  });

  gpuTest(
    'on WebGPU the tail tiles write zeros (poisoned outputs) and match the float64 CPU op',
    async ({ backend }) => {
      await checkOp(
        'groupedMatmul webgpu tail',
        specs(R, K, M, off),
        ([x, w, o]) => groupedMatmul(x!, w!, o!, { tail: true }),
        { backend, fd: false, atol: 1e-4, rtol: 1e-4 },
      );
      const [xv, wv] = drawValues([{ shape: [R, K] }, { shape: [E, K, M] }], 22);
      const sp = [{ shape: [R, K] }, { shape: [E, K, M] }];
      const offsets = tensor(off, { dtype: 'i32', backend });
      const gpu = await forwardBackward(backend, sp, [xv!, wv!], ([x, w]) => [
        groupedMatmul(x!, w!, offsets, { tail: true }),
      ]);
      offsets.dispose();
      expect(gpu.outputs[0]!.slice(70 * M).every((v) => v === 0)).toBe(true);
      expect(gpu.grads[0]!.slice(70 * K).every((v) => v === 0)).toBe(true);
    },
  );
});

describe('invertPermutation', () => {
  const perm = [3, 0, 4, 1, 2];
  const inverse = [1, 3, 4, 0, 2];

  it('inverts on the CPU and rejects a non-permutation', async () => {
    const p = tensor(perm, { dtype: 'i32', backend: cpuF64 });
    expect(Array.from(await invertPermutation(p).data())).toEqual(inverse);
    expect(() => invertPermutation(tensor([0, 0, 1], { dtype: 'i32', backend: cpuF64 }))).toThrow(
      /invertPermutation: not a permutation of 0\.\.2: entry 1 is 0/,
    );
  });

  gpuTest('inverts on WebGPU (also past one workgroup), leaving no buffer behind', async ({ backend }) => {
    const n = 1000;
    const long = Array.from({ length: n }, (_, i) => (i * 7 + 3) % n); // 7 is coprime with 1000
    let before = 0;
    // The first launch may fill backend caches (pipelines, uniform pools); count from the second.
    for (const [p, want] of [
      [perm, inverse],
      [perm, inverse],
      [long, long.map((_, i) => long.indexOf(i))],
    ] as const) {
      const t = tensor(p, { dtype: 'i32', backend });
      const inv = invertPermutation(t);
      expect(Array.from(await inv.data())).toEqual(want);
      t.dispose();
      inv.dispose();
      if (p === perm && before === 0) {
        await backend.sync();
        before = backend.liveBuffers();
      }
    }
    await backend.sync();
    expect(backend.liveBuffers()).toBe(before);
  });
});
