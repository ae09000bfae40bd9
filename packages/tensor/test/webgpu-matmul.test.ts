import { describe, expect } from 'vitest';
import { expectClose, f32, randomArray, test, tracker, view } from './gpu-fixture.js';

/**
 * Batched matmul against a float64 triple loop for every load path of the
 * register-tiled kernel: vec4 along K or along M/N (row-major and transposed
 * operands), scalar loads for unaligned and general strides, batch broadcast,
 * odd sizes at tile edges, and both tile sizes (64 and 128).
 */
interface Operand {
  data: number[];
  shape: [number, number, number];
  strides: [number, number, number];
  offset: number;
}

/** A `[batch, rows, cols]` operand stored with the given strides inside a random buffer. */
const operand = (
  shape: [number, number, number],
  strides: [number, number, number],
  seed: number,
  offset = 0,
): Operand => {
  let last = offset;
  for (let d = 0; d < 3; d++) last += (shape[d]! - 1) * Math.abs(strides[d]!);
  return { data: f32(randomArray(last + 1, seed)), shape, strides, offset };
};

const at = (x: Operand, b: number, i: number, j: number): number =>
  x.data[x.offset + b * x.strides[0] + i * x.strides[1] + j * x.strides[2]]!;

const reference = (a: Operand, b: Operand): number[] => {
  const [batch, m, k] = a.shape;
  const n = b.shape[2];
  const out: number[] = [];
  for (let z = 0; z < batch; z++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let q = 0; q < k; q++) s += at(a, z, i, q) * at(b, z, q, j);
        out.push(s);
      }
  return out;
};

/** [name, a, b, the load paths the kernel key must show] */
const cases: [string, Operand, Operand, string][] = [
  [
    'row-major, unaligned (scalar loads)',
    operand([1, 7, 5], [35, 5, 1], 1),
    operand([1, 5, 3], [15, 3, 1], 2),
    '|ak1|bn1|',
  ],
  [
    'row-major, aligned (vec4 along K and N)',
    operand([2, 63, 36], [2268, 36, 1], 3),
    operand([2, 36, 68], [2448, 68, 1], 4),
    '|ak4|bn4|',
  ],
  [
    'both transposed (vec4 along M and K)',
    operand([2, 65, 36], [2340, 1, 68], 5),
    operand([2, 36, 68], [2448, 1, 36], 6),
    '|am4|bk4|',
  ],
  [
    'general strides, offset, broadcast batch',
    operand([3, 9, 10], [0, 31, 3], 7, 2),
    operand([3, 10, 6], [70, 7, 1], 8, 5),
    '|ak1|bn1|',
  ],
  ['k = 1 and m = 1', operand([2, 1, 1], [1, 1, 1], 9), operand([2, 1, 257], [257, 257, 1], 10), '|am1|bk1|'],
];

describe('webgpu matmul', () => {
  test.for(cases.map((c, i) => [c[0], i] as const))('%s', async ([, i], { backend }) => {
    const [, a, b, path] = cases[i]!;
    const t = tracker(backend);
    const ab = t.upload(a.data);
    const bb = t.upload(b.data);
    const [batch, m] = a.shape;
    const n = b.shape[2];
    const out = t.alloc(batch * m * n);
    backend.matmul(view(ab, a.shape, a.strides, a.offset), view(bb, b.shape, b.strides, b.offset), out);
    expectClose(await t.read(out), reference(a, b), { atol: 1e-4, rtol: 1e-5 });
    expect(
      backend.runtime.pipelineKeys().some((key) => key.startsWith('matmul|') && key.includes(path)),
    ).toBe(true);
    t.done();
  });

  test.for([
    [true, 1],
    [false, 0],
  ] as const)(
    '128-wide tiles (8x8 per thread) across tile edges, warp tiles %s, pad %i',
    async ([warpTile, pad], { backend }) => {
      const t = tracker(backend);
      const a = operand([1, 130, 36], [4680, 36, 1], 11);
      const b = operand([1, 36, 132], [4752, 132, 1], 12);
      const ab = t.upload(a.data);
      const bb = t.upload(b.data);
      const out = t.alloc(130 * 132);
      const saved = backend.tuning.matmul;
      backend.tuning.matmul = { ...saved };
      Object.assign(backend.tuning.matmul, { tm: 8, warpTile, pad });
      try {
        backend.matmul(view(ab, a.shape, a.strides), view(bb, b.shape, b.strides), out);
      } finally {
        backend.tuning.matmul = saved;
      }
      expectClose(await t.read(out), reference(a, b), { atol: 1e-4, rtol: 1e-5 });
      t.done();
    },
  );
});
