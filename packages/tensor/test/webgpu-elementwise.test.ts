import { describe, expect } from 'vitest';
import type { BinaryOp, UnaryOp } from '../src/backend.js';
import { roundF16 } from '../src/dtype.js';
import { expectClose, f32, randomArray, rowMajor, test, tracker, view } from './gpu-fixture.js';

/**
 * Generators and elementwise kernels against direct float64 JavaScript on
 * random inputs, odd sizes (scalar path), multiples of 4 (vec4 path),
 * broadcast (stride 0) and transposed views, and dtype casts.
 */

/** erf to ~1e-15: series near 0, continued fraction for erfc in the tails. */
function erf(x: number): number {
  const a = Math.abs(x);
  let r: number;
  if (a <= 3) {
    let term = a;
    let sum = a;
    for (let n = 1; n < 200 && term > 1e-17 * sum; n++) {
      term *= (2 * a * a) / (2 * n + 1);
      sum += term;
    }
    r = (2 / Math.sqrt(Math.PI)) * Math.exp(-a * a) * sum;
  } else {
    let f = 0;
    for (let n = 60; n >= 1; n--) f = n / 2 / (a + f);
    r = 1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + f);
  }
  return x < 0 ? -r : r;
}

const sigmoid = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
const b01 = (c: boolean) => (c ? 1 : 0);

/** op -> [reference, alpha, beta, input domain] */
type Domain = 'any' | 'pos' | 'trig';
const unaryCases: [UnaryOp, (x: number, a: number, b: number) => number, number, number, Domain][] = [
  ['copy', (x) => x, 0, 0, 'any'],
  ['neg', (x) => -x, 0, 0, 'any'],
  ['abs', Math.abs, 0, 0, 'any'],
  ['sign', Math.sign, 0, 0, 'any'],
  ['exp', Math.exp, 0, 0, 'any'],
  ['log', Math.log, 0, 0, 'pos'],
  ['sqrt', Math.sqrt, 0, 0, 'pos'],
  ['rsqrt', (x) => 1 / Math.sqrt(x), 0, 0, 'pos'],
  ['square', (x) => x * x, 0, 0, 'any'],
  ['reciprocal', (x) => 1 / x, 0, 0, 'any'],
  ['sin', Math.sin, 0, 0, 'trig'],
  ['cos', Math.cos, 0, 0, 'trig'],
  ['tanh', Math.tanh, 0, 0, 'any'],
  ['sigmoid', sigmoid, 0, 0, 'any'],
  ['silu', (x) => x * sigmoid(x), 0, 0, 'any'],
  ['gelu', (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)), 0, 0, 'any'],
  [
    'gelu_tanh',
    (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
    0,
    0,
    'any',
  ],
  ['softplus', (x) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))), 0, 0, 'any'],
  ['relu', (x) => Math.max(x, 0), 0, 0, 'any'],
  ['floor', Math.floor, 0, 0, 'any'],
  ['affine', (x, a, b) => a * x + b, 1.5, -0.25, 'any'],
  ['pow_scalar', (x, a) => x ** a, 3, 0, 'any'],
  ['pow_scalar', (x, a) => x ** a, 2.5, 0, 'any'],
  ['rpow_scalar', (x, a) => a ** x, 1.7, 0, 'any'],
  ['clamp', (x, a, b) => Math.min(Math.max(x, a), b), -1, 0.5, 'any'],
  ['max_scalar', (x, a) => Math.max(x, a), 0.25, 0, 'any'],
  ['min_scalar', (x, a) => Math.min(x, a), 0.25, 0, 'any'],
  ['gt_scalar', (x, a) => b01(x > a), 0.5, 0, 'any'],
  ['lt_scalar', (x, a) => b01(x < a), 0.5, 0, 'any'],
  ['ge_scalar', (x, a) => b01(x >= a), 1, 0, 'any'],
  ['le_scalar', (x, a) => b01(x <= a), 1, 0, 'any'],
  ['eq_scalar', (x, a) => b01(x === a), 1, 0, 'any'],
  ['rdiv_scalar', (x, a) => a / x, 2, 0, 'any'],
  ['isfinite', (x) => b01(Number.isFinite(x)), 0, 0, 'any'],
];

/** Random values plus the edge cases each op must survive (no overflow at large |x|, exact small values). */
const inputs = (domain: Domain, n: number, seed: number): number[] => {
  const edges =
    domain === 'pos'
      ? [1e-30, 1e-6, 0.5, 1, 1 + 2 ** -20, 2, 1e6, 1e30]
      : domain === 'trig' // sin/cos are accurate for |x| <= 8192 (see math.wgsl.ts)
        ? [0, 1e-4, -1e-4, Math.PI / 2, Math.PI, -Math.PI, 88, -88, 1000, 8000.5, -8191]
        : [0, 1, -1, 1e-4, -1e-4, 20, -20, 88, -88, 100, -100, 1e30, -1e30, 2.5, -3];
  const random = randomArray(n - edges.length, seed, domain === 'pos' ? 0.01 : -4, 4);
  return f32([...edges, ...random]);
};

describe('webgpu generators', () => {
  test('fill writes every dtype (f32 value, i32 negative, u32 large)', async ({ backend }) => {
    const t = tracker(backend);
    for (const [dtype, value] of [
      ['f32', -2.5],
      ['i32', -7],
      ['u32', 4_000_000_000],
    ] as const) {
      for (const n of [1, 7, 257]) {
        const b = t.alloc(n, dtype);
        backend.fill(b, n, value);
        expect(await t.read(b)).toEqual(new Array(n).fill(value));
      }
    }
    t.done();
  });

  test('arange: floats, and exact integers', async ({ backend }) => {
    const t = tracker(backend);
    const a = t.alloc(63);
    backend.arange(a, 63, -1.5, 0.25);
    expectClose(
      await t.read(a),
      Array.from({ length: 63 }, (_, i) => -1.5 + i * 0.25),
    );
    const b = t.alloc(257, 'i32');
    backend.arange(b, 257, 100_000_000, -3);
    expect(await t.read(b)).toEqual(Array.from({ length: 257 }, (_, i) => 100_000_000 - 3 * i));
    t.done();
  });
});

describe('webgpu unary', () => {
  test.for(unaryCases.map((c, i) => [`${c[0]}(${c[2]})`, i] as const))('%s', async ([, i], { backend }) => {
    const [op, ref, alpha, beta, domain] = unaryCases[i]!;
    const t = tracker(backend);
    for (const n of [259, 256]) {
      const xs = inputs(domain, n, i + n);
      const x = t.upload(xs);
      const out = t.alloc(n);
      backend.unary(op, view(x, [n]), out, alpha, beta);
      const want = f32(xs.map((v) => ref(v, alpha, beta)));
      // pow goes through exp(y log x) in f32: relative error grows like |y log x| 2^-23 (5e-6 at 1.7^88).
      const rtol = op.includes('pow') ? 1e-5 : 2e-6;
      expectClose(await t.read(out), want, { atol: 2e-6, rtol });
    }
    t.done();
  });

  test('strided and broadcast views (rank 3, transposed, stride 0)', async ({ backend }) => {
    const t = tracker(backend);
    const xs = f32(randomArray(7 * 5 * 3, 9));
    const x = t.upload(xs);
    // logical [3, 5, 7] = transpose of the stored [7, 5, 3] (strides [1, 3, 15]), plus a broadcast dim
    const shape = [2, 3, 5, 7];
    const out = t.alloc(2 * 3 * 5 * 7);
    backend.unary('square', view(x, shape, [0, 1, 3, 15]), out);
    const want: number[] = [];
    for (let r = 0; r < 2; r++)
      for (let a = 0; a < 3; a++)
        for (let b = 0; b < 5; b++) for (let c = 0; c < 7; c++) want.push(xs[a + 3 * b + 15 * c]! ** 2);
    expectClose(await t.read(out), want);
    t.done();
  });

  test('integer data: exact ops stay integral, others go through f32', async ({ backend }) => {
    const t = tracker(backend);
    const xs = [0, 1, -1, 2_000_000_001, -2_000_000_001, 7];
    const x = t.upload(xs, 'i32');
    const neg = t.alloc(6, 'i32');
    backend.unary('neg', view(x, [6]), neg);
    expect(await t.read(neg)).toEqual(xs.map((v) => -v | 0));
    const gt = t.alloc(6, 'f32');
    backend.unary('gt_scalar', view(x, [6]), gt, 0.5);
    expect(await t.read(gt)).toEqual(xs.map((v) => b01(v > 0.5)));
    t.done();
  });
});

const binaryCases: [BinaryOp, (a: number, b: number) => number][] = [
  ['add', (a, b) => a + b],
  ['sub', (a, b) => a - b],
  ['mul', (a, b) => a * b],
  ['div', (a, b) => a / b],
  ['pow', (a, b) => a ** b],
  ['maximum', Math.max],
  ['minimum', Math.min],
  ['eq', (a, b) => b01(a === b)],
  ['ne', (a, b) => b01(a !== b)],
  ['lt', (a, b) => b01(a < b)],
  ['le', (a, b) => b01(a <= b)],
  ['gt', (a, b) => b01(a > b)],
  ['ge', (a, b) => b01(a >= b)],
];

describe('webgpu binary', () => {
  test.for(binaryCases.map((c, i) => [c[0], i] as const))(
    '%s: transposed a, row-broadcast b',
    async ([, i], { backend }) => {
      const [op, ref] = binaryCases[i]!;
      const t = tracker(backend);
      const [rows, cols] = [7, 63];
      // a is stored [63, 7] and read transposed; b is one row broadcast over the rows (stride 0)
      const as = f32(randomArray(rows * cols, i + 1, op === 'pow' ? 0.1 : -3, 3)).map((v, k) =>
        k % 5 === 0 ? 1 : v,
      );
      const bs = f32(randomArray(cols, i + 100, -2, 2)).map((v, k) => (k % 7 === 0 ? 1 : v));
      const a = t.upload(as);
      const b = t.upload(bs);
      const out = t.alloc(rows * cols);
      backend.binary(op, view(a, [rows, cols], [1, rows]), view(b, [rows, cols], [0, 1]), out);
      const want: number[] = [];
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) want.push(ref(as[r + rows * c]!, bs[c]!));
      expectClose(await t.read(out), f32(want), { atol: 1e-6, rtol: 3e-6 });
      t.done();
    },
  );

  test('contiguous vec4 path, size 1, and an output aliasing an input', async ({ backend }) => {
    const t = tracker(backend);
    for (const n of [1, 256]) {
      const xs = f32(randomArray(n, n));
      const x = t.upload(xs);
      const y = t.upload(xs.map((v) => v * 2));
      backend.binary('add', view(x, [n]), view(y, [n]), x); // in place: x = x + y
      expectClose(await t.read(x), f32(xs.map((v) => v * 3)));
    }
    t.done();
  });

  test('integer binary ops are exact (wrap-free values), division truncates, x / 0 = 0', async ({
    backend,
  }) => {
    const t = tracker(backend);
    const as = [7, -7, 2_000_000_000, 16_777_217, 5];
    const bs = [2, 2, 3, 1, 0];
    const a = t.upload(as, 'i32');
    const b = t.upload(bs, 'i32');
    const sum = t.alloc(5, 'i32');
    const quot = t.alloc(5, 'i32');
    backend.binary('add', view(a, [5]), view(b, [5]), sum);
    backend.binary('div', view(a, [5]), view(b, [5]), quot);
    expect(await t.read(sum)).toEqual(as.map((v, k) => v + bs[k]!));
    expect(await t.read(quot)).toEqual([3, -3, 666_666_666, 16_777_217, 0]);
    t.done();
  });

  test('where with broadcast condition and scalar branch', async ({ backend }) => {
    const t = tracker(backend);
    const cond = t.upload([1, 0, 0, 1, 1, 0, 1], 'i32');
    const as = f32(randomArray(7 * 9, 5));
    const a = t.upload(as);
    const b = t.upload([-42]);
    const out = t.alloc(63);
    backend.where(view(cond, [7, 9], [1, 0]), view(a, [7, 9]), view(b, [7, 9], [0, 0]), out);
    const cs = [1, 0, 0, 1, 1, 0, 1];
    const want = as.map((v, k) => (cs[Math.floor(k / 9)] ? v : -42));
    expect(await t.read(out)).toEqual(want);
    t.done();
  });
});

describe('webgpu copy', () => {
  test('strided window to strided window with f32 -> i32 cast; the rest of dst stays untouched', async ({
    backend,
  }) => {
    const t = tracker(backend);
    const xs = f32(randomArray(9 * 8, 3, -100, 100));
    const src = t.upload(xs);
    const dst = t.upload(new Array(10 * 12).fill(-1), 'i32');
    // src: a [4, 3] window, transposed and with step 2 along the stored rows
    backend.copy(view(src, [4, 3], [2, 8], 1), view(dst, [4, 3], [12, 2], 12 + 3));
    const got = await t.read(dst);
    const want = new Array(120).fill(-1);
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 3; j++) want[15 + 12 * i + 2 * j] = Math.trunc(xs[1 + 2 * i + 8 * j]!);
    expect(got).toEqual(want);
    t.done();
  });

  test('rank 8 permutation, i32 -> f32 and u32 round trip', async ({ backend }) => {
    const t = tracker(backend);
    const shape = [2, 1, 3, 2, 1, 2, 3, 2];
    const n = shape.reduce((a, b) => a * b, 1);
    const xs = Array.from({ length: n }, (_, i) => i * 3 - 50);
    const src = t.upload(xs, 'i32');
    // read src through reversed dimension order
    const stored = rowMajor([...shape].reverse());
    const perm = [...stored].reverse();
    const out = t.alloc(n, 'f32');
    backend.copy(view(src, shape, perm), view(out, shape));
    const want: number[] = [];
    const idx = new Array(8).fill(0);
    for (let k = 0; k < n; k++) {
      let rem = k;
      for (let d = 7; d >= 0; d--) {
        idx[d] = rem % shape[d]!;
        rem = Math.floor(rem / shape[d]!);
      }
      want.push(xs[idx.reduce((acc, c, d) => acc + c * perm[d]!, 0)]!);
    }
    expect(await t.read(out)).toEqual(want);
    const u = t.alloc(4, 'u32');
    backend.copy(view(src, [4], [1], 0), view(u, [4]));
    expect(await t.read(u)).toEqual(xs.slice(0, 4).map((v) => v >>> 0));
    t.done();
  });

  test('copy within one buffer (overlapping windows) goes through a temporary', async ({ backend }) => {
    const t = tracker(backend);
    const x = t.upload([0, 1, 2, 3, 4, 5, 6, 7]);
    backend.copy(view(x, [6], [1], 0), view(x, [6], [1], 2));
    expect(await t.read(x)).toEqual([0, 1, 0, 1, 2, 3, 4, 5]);
    t.done();
  });

  test('f16 storage round trip and compute (skipped without shader-f16)', async ({ backend, skip }) => {
    if (!backend.supportsF16) skip();
    const t = tracker(backend);
    const xs = [0.1, -2, 65504, 1e-5, 3.25];
    const h = t.upload(xs, 'f16');
    const out = t.alloc(5, 'f16');
    backend.unary('neg', view(h, [5]), out);
    const want = xs.map((v) => -Math.fround(v));
    expectClose(await t.read(out), want, { rtol: 1e-3, atol: 1e-7 });
    t.done();
  });
});

describe('webgpu f16 storage (skipped without shader-f16)', () => {
  const half = roundF16;

  test('vec4 add, f32 -> f16 cast, f16 row sum into f32, f16 softmax and matmul', async ({
    backend,
    skip,
  }) => {
    if (!backend.supportsF16) skip();
    const t = tracker(backend);
    const n = 256;
    const xs = f32(randomArray(n, 77)).map(half);
    const ys = f32(randomArray(n, 78)).map(half);
    const x = t.upload(xs, 'f16');
    const y = t.upload(ys, 'f16');
    const sum = t.alloc(n, 'f16');
    backend.binary('add', view(x, [n]), view(y, [n]), sum);
    expectClose(
      await t.read(sum),
      xs.map((v, i) => v + ys[i]!),
      { rtol: 1e-3, atol: 1e-3 },
    );
    const cast = t.alloc(7, 'f16');
    backend.copy(view(t.upload([1 / 3, 65504, -2.5, 1e-8, 7, 8, 9]), [7]), view(cast, [7]));
    expectClose(await t.read(cast), [1 / 3, 65504, -2.5, 0, 7, 8, 9], { rtol: 1e-3, atol: 1e-7 });
    const rowSum = t.alloc(4, 'f32');
    backend.reduce('sum', view(x, [4, 64]), 1, rowSum);
    expectClose(
      await t.read(rowSum),
      [0, 1, 2, 3].map((r) => xs.slice(r * 64, r * 64 + 64).reduce((a, b) => a + b, 0)),
      { rtol: 1e-5, atol: 1e-5 },
    );
    const sm = t.alloc(n, 'f16');
    backend.softmax(x, 4, 64, sm, false);
    const want = [0, 1, 2, 3].flatMap((r) => {
      const row = xs.slice(r * 64, r * 64 + 64);
      const m = Math.max(...row);
      const s = row.reduce((a, v) => a + Math.exp(v - m), 0);
      return row.map((v) => Math.exp(v - m) / s);
    });
    expectClose(await t.read(sm), want, { rtol: 2e-3, atol: 1e-5 });
    const mm = t.alloc(16 * 16, 'f32');
    backend.matmul(view(x, [1, 16, 16]), view(y, [1, 16, 16]), mm);
    const ref: number[] = [];
    for (let i = 0; i < 16; i++)
      for (let j = 0; j < 16; j++) {
        let acc = 0;
        for (let k = 0; k < 16; k++) acc += xs[i * 16 + k]! * ys[k * 16 + j]!;
        ref.push(acc);
      }
    expectClose(await t.read(mm), ref, { rtol: 1e-5, atol: 1e-5 });
    t.done();
  });
});
