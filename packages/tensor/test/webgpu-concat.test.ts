import { describe, expect } from 'vitest';
import type { Backend, CopyRun } from '../src/backend.js';
import type { DType } from '../src/dtype.js';
import * as T from '../src/index.js';
import { checkOp, dispatchedKeys } from '../src/testing/index.js';
import { maxCopyRuns } from '../src/webgpu/kernels/copy-runs.js';
import { randomArray, test } from './gpu-fixture.js';

/**
 * `concat` through `Backend.copyRuns`: the inputs that are contiguous runs of
 * the output go in one dispatch per `maxCopyRuns` (15) on WebGPU; the others
 * (strided views, or a concat whose leading dims are not all 1) keep one
 * copy each. Compared with the CPU backend to the bit; every fresh buffer is
 * NaN-poisoned on both sides, so an element left unwritten shows.
 */

const values = (shape: readonly number[], seed: number, dtype: DType): number[] =>
  randomArray(T.numel(shape), seed, -50, 50).map((v) => (dtype === 'i32' ? Math.round(v) : v));

/** The same tensor on both backends. */
const pair = (shape: readonly number[], seed: number, dtype: DType, gpu: Backend, cpu: Backend) => {
  const data = values(shape, seed, dtype);
  return [
    T.tensor(data, { shape, dtype, backend: gpu }),
    T.tensor(data, { shape, dtype, backend: cpu }),
  ] as const;
};

const host = async (t: T.Tensor): Promise<number[]> => Array.from(await t.data());

/** Equal to the bit (NaN matches NaN, so also: no NaN, i.e. no unwritten poisoned element). */
const expectSame = (got: readonly number[], want: readonly number[]) => {
  expect(got).toEqual(want);
  expect(got.some((v) => Number.isNaN(v))).toBe(false);
};

const gatherKeys = (keys: readonly string[]) => keys.filter((k) => k.startsWith('copyRuns|gather|'));

describe('webgpu concat in one dispatch per 15 contiguous inputs', () => {
  const dtypes: DType[] = ['f32', 'f16', 'i32'];
  test.for(dtypes)('%s: 18 pieces along axis 0, odd sizes, one empty', async (dtype, { backend, skip }) => {
    if (dtype === 'f16' && !backend.supportsF16) skip('the adapter has no shader-f16');
    expect(backend.runtime.poison).toBe(true);
    using _scope = T.tensorScope();
    const cpu = new T.CpuBackend({ poison: true });
    // 17 non-empty pieces (two dispatches): odd row counts, one below a workgroup, one above several.
    const rows = [3, 1, 7, 0, 2, 5, 1, 1, 4, 9, 2, 3, 1, 6, 2, 1, 3, 300];
    const pieces = rows.map((r, i) => pair([r, 5, 3], 10 + i, dtype, backend, cpu));
    let out: T.Tensor | null = null;
    const keys = dispatchedKeys(backend, () => {
      out = T.concat(
        pieces.map(([g]) => g),
        0,
      );
    });
    const k = maxCopyRuns(backend.runtime);
    expect(gatherKeys(keys)).toHaveLength(Math.ceil(17 / k));
    expect(keys.filter((key) => key.includes('x4|'))).toEqual([]); // 15-element rows: not vec4-aligned
    expect(keys).toHaveLength(Math.ceil(17 / k));
    expect(k).toBeLessThanOrEqual(15);
    const want = T.concat(
      pieces.map(([, c]) => c),
      0,
    );
    expect(out!.shape).toEqual([rows.reduce((a, b) => a + b, 0), 5, 3]);
    expect(out!.dtype).toBe(dtype);
    expectSame(await host(out!), await host(want));
  });

  test.for(dtypes)(
    '%s: strided inputs keep a copy each, views at an offset and repeated inputs go in the batch',
    async (dtype, { backend, skip }) => {
      if (dtype === 'f16' && !backend.supportsF16) skip('the adapter has no shader-f16');
      using _scope = T.tensorScope();
      const cpu = new T.CpuBackend({ poison: true });
      const [bigG, bigC] = pair([11, 7], 1, dtype, backend, cpu);
      const [aG, aC] = pair([3, 7], 2, dtype, backend, cpu);
      const [tG, tC] = pair([7, 5], 3, dtype, backend, cpu);
      const build = (big: T.Tensor, a: T.Tensor, t: T.Tensor) => [
        a,
        T.narrow(big, 0, 4, 6), // contiguous at an offset: a run
        t.T, // [5, 7] transposed: strided, its own copy
        a, // the same buffer read twice in one dispatch
        T.slice(big, [[0, 11, 2], null]), // every other row: strided
        T.narrow(big, 0, 10, 1),
      ];
      const gpuPieces = build(bigG, aG, tG);
      let out: T.Tensor | null = null;
      const keys = dispatchedKeys(backend, () => {
        out = T.concat(gpuPieces, 0);
      });
      expect(gatherKeys(keys)).toHaveLength(1);
      expect(keys).toHaveLength(3);
      const want = T.concat(build(bigC, aC, tC), 0);
      expect(out!.shape).toEqual([3 + 6 + 5 + 3 + 6 + 1, 7]);
      expectSame(await host(out!), await host(want));
    },
  );

  test.for(dtypes)(
    '%s: vec4 copies where every run starts and ends on a vec4 boundary',
    async (dtype, { backend, skip }) => {
      if (dtype === 'f16' && !backend.supportsF16) skip('the adapter has no shader-f16');
      using _scope = T.tensorScope();
      const cpu = new T.CpuBackend({ poison: true });
      const rows = [3, 1, 70, 2, 5];
      const pieces = rows.map((r, i) => pair([r, 8], 30 + i, dtype, backend, cpu));
      const [bigG, bigC] = pair([9, 8], 40, dtype, backend, cpu);
      let out: T.Tensor | null = null;
      const keys = dispatchedKeys(backend, () => {
        out = T.concat([...pieces.map(([g]) => g), T.narrow(bigG, 0, 3, 4)], 0);
      });
      expect(keys).toEqual([`copyRuns|gather|${dtype === 'f16' ? 'f16' : 'u32'}x4|k=6`]);
      const want = T.concat([...pieces.map(([, c]) => c), T.narrow(bigC, 0, 3, 4)], 0);
      expectSame(await host(out!), await host(want));
      // Scatter back out of rows 1.. of the result, vec4-aligned too.
      const lengths = [8, 16, 560, 4];
      const outs: T.Tensor[][] = [];
      for (const [b, src] of [
        [backend, out!],
        [cpu, want],
      ] as const) {
        const parts = lengths.map((n) => T.empty(b, [n + 4], dtype));
        let at = 8;
        const runs = parts.map((p, i) => {
          const run = { buffer: p.storage.buffer, offset: 4, sharedOffset: at, length: lengths[i]! };
          at += lengths[i]!;
          return run;
        });
        const go = () => b.copyRuns({ direction: 'scatter', shared: src.storage.buffer, runs });
        if (b === backend)
          expect(dispatchedKeys(backend, go)).toEqual([
            `copyRuns|scatter|${dtype === 'f16' ? 'f16' : 'u32'}x4|k=4`,
          ]);
        else go();
        outs.push(parts.map((p) => T.narrow(p, 0, 4, p.shape[0]! - 4)));
      }
      for (const [i, p] of outs[0]!.entries()) expectSame(await host(p), await host(outs[1]![i]!));
    },
  );

  test('an inner axis with leading dims of 1 is runs too; other leading dims keep a copy each', async ({
    backend,
  }) => {
    using _scope = T.tensorScope();
    const cpu = new T.CpuBackend({ poison: true });
    for (const [lead, batched] of [
      [1, true],
      [2, false],
    ] as const) {
      const widths = [4, 1, 9, 3];
      const pieces = widths.map((w, i) => pair([1, lead, w, 3], 20 + i, 'f32', backend, cpu));
      let out: T.Tensor | null = null;
      const keys = dispatchedKeys(backend, () => {
        out = T.concat(
          pieces.map(([g]) => g),
          -2,
        );
      });
      expect(gatherKeys(keys)).toHaveLength(batched ? 1 : 0);
      expect(keys).toHaveLength(batched ? 1 : widths.length);
      const want = T.concat(
        pieces.map(([, c]) => c),
        -2,
      );
      expect(out!.shape).toEqual([1, lead, 17, 3]);
      expectSame(await host(out!), await host(want));
    }
  });

  test('gradients: each input gets its slice of the output gradient', async ({ backend }) => {
    await checkOp(
      'concat axis 0 (runs and a transposed view)',
      [{ shape: [2, 3] }, { shape: [3, 1] }, { shape: [1, 3] }, { shape: [4, 3] }],
      ([a, b, c, d]) => T.concat([a!, T.transpose(b!), c!, d!], 0),
      { backend },
    );
    await checkOp(
      'concat of 17 pieces along axis 1 of [1, n, 2]',
      Array.from({ length: 17 }, (_, i) => ({ shape: [1, 1 + (i % 3), 2] })),
      (xs) => T.concat(xs, 1),
      { backend, fd: { maxPoints: 8 } },
    );
  });
});

describe('Backend.copyRuns', () => {
  test('scatter into 17 buffers and aliased runs match the CPU backend', async ({ backend }) => {
    const cpu = new T.CpuBackend({ poison: true });
    const lengths = [3, 1, 700, 0, 5, 2, 9, 1, 1, 4, 6, 2, 8, 3, 1, 2, 5, 7];
    const total = lengths.reduce((a, b) => a + b, 0);
    const data = randomArray(total + 3, 5);
    const results = [];
    for (const b of [backend as Backend, cpu]) {
      const shared = b.upload(data, 'f32');
      const outs = lengths.map((n) => b.alloc(n + 1, 'f32'));
      let at = 3;
      const runs: CopyRun[] = outs.map((buffer, i) => {
        const run = { buffer, offset: 1, sharedOffset: at, length: lengths[i]! };
        at += lengths[i]!;
        return run;
      });
      let keys: string[] = [];
      const go = () => b.copyRuns({ direction: 'scatter', shared, runs, label: 'test.copyRuns' });
      if (b === backend) keys = dispatchedKeys(backend, go);
      else go();
      if (b === backend)
        expect(keys.filter((k) => k.startsWith('test.copyRuns|scatter|u32|'))).toHaveLength(
          Math.ceil(17 / maxCopyRuns(backend.runtime)),
        );
      // Gather back into the shared buffer itself (WebGPU: copies of their own), and a scatter writing one buffer twice.
      b.copyRuns({
        direction: 'gather',
        shared,
        runs: [
          { buffer: shared, offset: 3, sharedOffset: 0, length: 3 },
          { buffer: outs[2]!, offset: 1, sharedOffset: 6, length: 2 },
        ],
      });
      const two = b.alloc(4, 'f32');
      b.copyRuns({
        direction: 'scatter',
        shared,
        runs: [
          { buffer: two, offset: 0, sharedOffset: 10, length: 2 },
          { buffer: two, offset: 2, sharedOffset: 20, length: 2 },
        ],
      });
      const read = async (buf: T.BackendBuffer, offset: number, n: number) =>
        Array.from(await b.read({ buffer: buf, dtype: 'f32', shape: [n], strides: [1], offset }));
      results.push([
        ...(await Promise.all(outs.map((o, i) => read(o, 1, lengths[i]!)))).flat(),
        ...(await read(shared, 0, total + 3)),
        ...(await read(two, 0, 4)),
      ]);
      for (const o of [shared, two, ...outs]) b.free(o);
    }
    expectSame(results[0]!, results[1]!);
    expect(results[1]!.slice(0, total)).toEqual(data.slice(3).map(Math.fround));
  });

  test('rejects runs out of bounds or of another dtype', ({ backend }) => {
    for (const b of [backend as Backend, new T.CpuBackend()]) {
      const shared = b.alloc(8, 'f32');
      const other = b.alloc(4, 'f32');
      const ints = b.alloc(4, 'i32');
      const run = (buffer: T.BackendBuffer, offset: number, sharedOffset: number, length: number) => () =>
        b.copyRuns({ direction: 'gather', shared, runs: [{ buffer, offset, sharedOffset, length }] });
      expect(run(other, 1, 0, 4)).toThrow(/out of bounds/);
      expect(run(other, 0, 6, 3)).toThrow(/out of bounds/);
      expect(run(ints, 0, 0, 4)).toThrow(/i32 run with a f32 shared buffer/);
      for (const o of [shared, other, ints]) b.free(o);
    }
  });
});
