import { describe, expect } from 'vitest';
import type { ReduceOp } from '../src/backend.js';
import { expectClose, f32, randomArray, rowMajor, test, tracker, view } from './gpu-fixture.js';

/**
 * Reductions over the last k dims of strided views against float64 loops:
 * row lengths 1, 7, 63, 257, 5000 and 100k (split into partial + combine
 * passes), transposed (column) reductions, broadcast inputs, arg ties.
 */
const reference = (op: ReduceOp, values: number[]): number => {
  if (op === 'sum') return values.reduce((a, b) => a + b, 0);
  if (op === 'max') return Math.max(...values);
  if (op === 'min') return Math.min(...values);
  let best = 0;
  for (let i = 1; i < values.length; i++)
    if (op === 'argmax' ? values[i]! > values[best]! : values[i]! < values[best]!) best = i;
  return best;
};

/** Element (o, r) of a `[outer, size]` logical view given its strides. */
const rowsOf = (
  data: number[],
  outer: number,
  size: number,
  strides: [number, number],
  offset = 0,
): number[][] =>
  Array.from({ length: outer }, (_, o) =>
    Array.from({ length: size }, (_, r) => data[offset + o * strides[0] + r * strides[1]]!),
  );

const ops: ReduceOp[] = ['sum', 'max', 'min', 'argmax', 'argmin'];

describe('webgpu reduce', () => {
  test.for([1, 7, 63, 257, 5000])('contiguous rows of %i, every op', async (size, { backend }) => {
    const t = tracker(backend);
    const outer = size >= 5000 ? 3 : 5;
    // Coarse values so ties happen: argmax/argmin must return the first occurrence.
    const data = randomArray(outer * size, size).map((v) => Math.round(v * 4) / 4);
    const x = t.upload(data);
    for (const op of ops) {
      const out = t.alloc(outer, op.startsWith('arg') ? 'i32' : 'f32');
      backend.reduce(op, view(x, [outer, size]), 1, out);
      const want = rowsOf(data, outer, size, [size, 1]).map((row) => reference(op, row));
      expectClose(await t.read(out), want, { atol: 1e-4, rtol: 1e-6 });
    }
    t.done();
  });

  test('column reduction of a transposed view, and reducing 2 of 3 dims', async ({ backend }) => {
    const t = tracker(backend);
    const [rows, cols] = [300, 37];
    const data = f32(randomArray(rows * cols, 11));
    const x = t.upload(data);
    // logical [cols, rows] = transpose of the stored [rows, cols]: reduce over the stored rows
    for (const op of ops) {
      const out = t.alloc(cols, op.startsWith('arg') ? 'i32' : 'f32');
      backend.reduce(op, view(x, [cols, rows], [1, cols]), 1, out);
      const want = rowsOf(data, cols, rows, [1, cols]).map((row) => reference(op, row));
      expectClose(await t.read(out), want, { atol: 1e-4, rtol: 1e-6 });
    }
    // [3, 10, 37] reducing the last two dims of a row-major view with an offset
    const sum = t.alloc(3);
    backend.reduce('sum', view(x, [3, 10, 37], rowMajor([3, 10, 37]), 37), 2, sum);
    expectClose(
      await t.read(sum),
      rowsOf(data, 3, 370, [370, 1], 37).map((r) => reference('sum', r)),
      { atol: 1e-4 },
    );
    t.done();
  });

  test('one huge row goes through partial sums; broadcast and full reductions', async ({ backend }) => {
    const t = tracker(backend);
    const n = 100_003;
    const data = f32(randomArray(n, 5, 0, 1));
    const x = t.upload(data);
    for (const op of ops) {
      const out = t.alloc(1, op.startsWith('arg') ? 'i32' : 'f32');
      backend.reduce(op, view(x, [n]), 1, out);
      expectClose(await t.read(out), [reference(op, data)], { atol: 0, rtol: 1e-5 });
    }
    // a broadcast row (stride 0) of 1000 copies of data[3]
    const b = t.alloc(2);
    backend.reduce('sum', view(x, [2, 1000], [1, 0], 3), 1, b);
    expectClose(await t.read(b), [1000 * data[3]!, 1000 * data[4]!], { rtol: 1e-5 });
    // reduceRank 0 is a copy
    const c = t.alloc(4);
    backend.reduce('max', view(x, [4]), 0, c);
    expect(await t.read(c)).toEqual(data.slice(0, 4));
    t.done();
  });

  test('integer sums are exact beyond 2^24, NaN propagates through max and wins argmax', async ({
    backend,
  }) => {
    const t = tracker(backend);
    const ints = t.upload([16_777_216, 1, 1, 1, -5], 'i32');
    const s = t.alloc(1, 'i32');
    backend.reduce('sum', view(ints, [5]), 1, s);
    expect(await t.read(s)).toEqual([16_777_214]);
    const withNan = t.upload([1, Number.NaN, 3, Number.NaN]);
    const m = t.alloc(1);
    const am = t.alloc(1, 'i32');
    backend.reduce('max', view(withNan, [4]), 1, m);
    backend.reduce('argmax', view(withNan, [4]), 1, am);
    expect(Number.isNaN((await t.read(m))[0])).toBe(true);
    expect(await t.read(am)).toEqual([1]);
    t.done();
  });
});
